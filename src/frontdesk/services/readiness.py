"""Readiness: can this process serve requests now? (``GET /readyz``, web/routes/api/health.py)

Four checks, each answered ``"ok"``, ``"not configured"`` (Redis only; not a failure) or
``"fail: <reason>"``:

* ``database``: a real query (``SELECT 1``) on a connection from the pool;
* ``migrations``: the schema is at the code's head revision. A positive answer is kept for
  :attr:`ReadinessChecker.migrations_ok_for` seconds per process (the schema only moves on
  an upgrade, which restarts the servers); a failure is never kept, so the next probe after
  ``frontdesk db upgrade`` sees it;
* ``signing_keys``: a signing key that is not retired exists (``frontdesk db upgrade`` makes
  the first one, services/signing_keys.py);
* ``redis``: ``PING`` to ``FRONTDESK_REDIS_URL`` when it is set.

Every check is bounded by ``FRONTDESK_READYZ_TIMEOUT_SECONDS``, so a hung database or Redis
answers 503 quickly instead of holding the probe. The reasons name no address and quote no
driver message (the endpoint is public); the full error goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.store.migrate import current_and_head
from frontdesk.store.models import SigningKey

log = logging.getLogger(__name__)

OK = "ok"
NOT_CONFIGURED = "not configured"
CHECKS = ("database", "migrations", "signing_keys", "redis")


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value in (OK, NOT_CONFIGURED) for value in self.checks.values())

    def as_dict(self) -> dict[str, object]:
        return {"status": "ok" if self.ready else "fail", "checks": dict(self.checks)}


def _failure(check: str, exc: BaseException) -> str:
    log.warning("readiness check %s failed: %r", check, exc)
    return f"fail: {type(exc).__name__}"


class ReadinessChecker:
    """One per process (kept on the application's state by the route)."""

    migrations_ok_for = 30.0

    def __init__(self, db: Database, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._migrated_until = 0.0

    async def check(self) -> Readiness:
        results: dict[str, str] = {}
        await asyncio.gather(
            self._bounded(("database", "migrations", "signing_keys"), self._database, results),
            self._bounded(("redis",), self._redis, results),
        )
        return Readiness({name: results[name] for name in CHECKS})

    async def _bounded(
        self,
        names: tuple[str, ...],
        run: Callable[[dict[str, str]], Awaitable[None]],
        results: dict[str, str],
    ) -> None:
        """Run one group of checks within the timeout; the check in progress when it runs out
        is named, the ones after it were not reached."""
        timeout = self.settings.readyz_timeout_seconds
        try:
            await asyncio.wait_for(run(results), timeout)
        except TimeoutError:
            pending = [name for name in names if name not in results]
            log.warning("readiness check %s gave no answer within %ss", pending[0], timeout)
            results[pending[0]] = f"fail: no answer within {timeout:g}s"
        except Exception as exc:
            pending = [name for name in names if name not in results]
            results[pending[0]] = _failure(pending[0], exc)
        for name in names:
            results.setdefault(name, "fail: not checked (database unavailable)")

    async def _database(self, results: dict[str, str]) -> None:
        async with self.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            results["database"] = OK
            results["migrations"] = await self._migrations(conn)
            count = await conn.scalar(
                select(func.count()).select_from(SigningKey).where(SigningKey.retired_at.is_(None))
            )
            results["signing_keys"] = OK if count else "fail: none (run `frontdesk db upgrade`)"

    async def _migrations(self, conn: AsyncConnection) -> str:
        if self.clock() < self._migrated_until:
            return OK
        current, head = await current_and_head(conn)
        if current != head:
            return "fail: not at head (run `frontdesk db upgrade`)"
        self._migrated_until = self.clock() + self.migrations_ok_for
        return OK

    async def _redis(self, results: dict[str, str]) -> None:
        if not self.settings.redis_url:
            results["redis"] = NOT_CONFIGURED
            return
        from redis.asyncio import Redis

        timeout = self.settings.readyz_timeout_seconds
        client = Redis.from_url(
            self.settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        try:
            await client.ping()
        finally:
            await client.aclose()
        results["redis"] = OK
