"""How one process tells the others that cached reads are stale (see
:mod:`frontdesk.store.caching`).

Three channels, chosen by ``FRONTDESK_CACHE_INVALIDATION`` (``auto`` picks the first that
fits the configuration):

* :class:`PostgresChannel` (PostgreSQL): ``pg_notify`` inside the writing transaction, so the
  message leaves exactly when the write commits (never for a rolled-back one); every process
  ``LISTEN``\\ s on one connection. Milliseconds.
* :class:`RedisChannel` (``FRONTDESK_REDIS_URL`` set, SQLite database): published right after
  the commit; every process subscribes. Milliseconds.
* :class:`PollChannel` (SQLite): a row in ``cache_events`` inside the writing transaction;
  every process reads new rows every ``poll_interval`` seconds (0.25 s). Also how the CLI
  reaches a running server on SQLite.

While a channel is down, the caches are switched off (:attr:`Caches.enabled`) and start empty
once it is back, so no process serves a value whose invalidation it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Final, Protocol

from sqlalchemy import delete, func, insert, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from frontdesk import metrics
from frontdesk.store.caching import KIND_NAMES, NO_INVALIDATION, Caches
from frontdesk.store.models import CacheEvent
from frontdesk.store.types import utcnow

log = logging.getLogger("frontdesk.cache")

CHANNEL: Final = "frontdesk_cache"
RETRY_SECONDS: Final = (0.2, 0.5, 1.0, 2.0, 5.0)
# How often a listening connection proves it is alive, and how long its answer may take: a
# partition that drops packets closes no connection, so it is noticed only by this ping, and
# caching stays on meanwhile. A missed invalidation is served at most about twice this long
# (measured by tests/faults/test_outages.py, docs/operations.md).
PING_SECONDS: Final = 1.0


class Channel(Protocol):
    name: str

    def before_commit(self, session: Session, kinds: frozenset[str]) -> None:
        """Inside the committing transaction (synchronous: a session event)."""

    def after_commit(self, kinds: frozenset[str]) -> None:
        """Right after the commit (synchronous: a session event)."""

    async def run(self, caches: Caches) -> None:
        """Receive other processes' invalidations until cancelled."""

    async def close(self) -> None:
        """Deliver what is still pending (the CLI exits right after its commit)."""


def _encode(sender: str, kinds: frozenset[str]) -> str:
    # "sender:kinds:sent" — the wall-clock time it was sent, for the lag the receivers
    # measure (frontdesk_cache_invalidation_lag_seconds, docs/metrics.md).
    return f"{sender}:{','.join(sorted(kinds))}:{time.time():.6f}"


def _decode(payload: str) -> tuple[str, set[str]]:
    sender, _, rest = payload.partition(":")
    names, _, _sent = rest.partition(":")
    return sender, {name for name in names.split(",") if name in KIND_NAMES}


def _observe_lag(channel: str, payload: str) -> None:
    sent = payload.rpartition(":")[2]
    try:
        metrics.invalidation_lag(channel, time.time() - float(sent))
    except ValueError:  # no time in it
        return


async def _with_retries(caches: Caches, name: str, session: Callable[[], Awaitable[None]]) -> None:
    """Run ``session`` (connect, listen until the connection fails) again and again; caching
    is off whenever the channel is not listening."""
    attempt = 0
    while True:
        try:
            await session()
            attempt = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            if attempt == 0:
                log.warning(
                    "cache invalidation channel %s lost (%s); caching is off until it is back", name, exc
                )
            attempt += 1
        else:
            delay = RETRY_SECONDS[0]
        caches.enabled = False
        caches.invalidate_all()
        await asyncio.sleep(delay)


class _Sender:
    """The name a channel signs its messages with, to skip its own when they come back: random,
    and new in every process. Workers forked from a supervisor that built the application
    (frontdesk/preload.py) inherit its channel object; with one name between them each would
    take the other's invalidations for its own and keep serving what another revoked."""

    _sender: tuple[int, str] | None = None

    @property
    def sender(self) -> str:
        pid = os.getpid()
        if self._sender is None or self._sender[0] != pid:
            self._sender = (pid, secrets.token_hex(6))
        return self._sender[1]


class PostgresChannel(_Sender):
    name = "postgres"

    def __init__(self, database_url: str) -> None:
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)

    def before_commit(self, session: Session, kinds: frozenset[str]) -> None:
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": _encode(self.sender, kinds)},
            execution_options={NO_INVALIDATION: True},
        )

    def after_commit(self, kinds: frozenset[str]) -> None:
        return None

    async def run(self, caches: Caches) -> None:
        import asyncpg

        async def listen() -> None:
            lost = asyncio.Event()

            def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
                sender, kinds = _decode(payload)
                if sender != self.sender:
                    caches.invalidate(kinds)
                    _observe_lag(self.name, payload)

            conn = await asyncpg.connect(self.dsn)
            try:
                conn.add_termination_listener(lambda _conn: lost.set())
                await conn.add_listener(CHANNEL, on_notify)
                caches.invalidate_all()
                caches.enabled = True
                while not lost.is_set():
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
                    # cancellation that arrives as the awaited call completes, and the task
                    # went on listening after the lifespan cancelled it (its shutdown hung).
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(PING_SECONDS):
                            await lost.wait()
                    if not lost.is_set():
                        async with asyncio.timeout(PING_SECONDS):
                            await conn.fetchval("SELECT 1")
                raise ConnectionError("the listening connection closed")
            finally:
                caches.enabled = False
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await conn.close()

        await _with_retries(caches, self.name, listen)

    async def close(self) -> None:
        return None


class RedisChannel(_Sender):
    name = "redis"

    def __init__(self, redis_url: str) -> None:
        from redis.asyncio import Redis

        self.client = Redis.from_url(redis_url)
        self._pending: set[asyncio.Task[None]] = set()

    def before_commit(self, session: Session, kinds: frozenset[str]) -> None:
        return None

    def after_commit(self, kinds: frozenset[str]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._publish(_encode(self.sender, kinds)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, payload: str) -> None:
        try:
            await self.client.publish(CHANNEL, payload)
        except Exception:  # the listeners start clean when they reconnect
            log.exception("cache invalidation could not be published")

    async def run(self, caches: Caches) -> None:
        async def listen() -> None:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                caches.invalidate_all()
                caches.enabled = True
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=PING_SECONDS)
                    if message is None:
                        async with asyncio.timeout(PING_SECONDS):  # not wait_for: see above
                            await pubsub.ping()
                        continue
                    data = message.get("data")
                    payload = data.decode() if isinstance(data, bytes) else str(data)
                    sender, kinds = _decode(payload)
                    if sender != self.sender:
                        caches.invalidate(kinds)
                        _observe_lag(self.name, payload)
            finally:
                caches.enabled = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

        await _with_retries(caches, self.name, listen)

    async def close(self) -> None:
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=2.0)
        await self.client.aclose()


class PollChannel:
    name = "poll"
    KEEP = timedelta(minutes=5)

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], poll_interval: float = 0.25) -> None:
        self.sessionmaker = sessionmaker
        self.poll_interval = poll_interval
        self._last_id: int | None = None

    def before_commit(self, session: Session, kinds: frozenset[str]) -> None:
        now = utcnow()
        session.execute(
            insert(CacheEvent),
            [{"kind": kind, "created_at": now} for kind in sorted(kinds)],
            execution_options={NO_INVALIDATION: True},
        )

    def after_commit(self, kinds: frozenset[str]) -> None:
        return None

    async def poll(self, caches: Caches) -> None:
        async with self.sessionmaker() as db:
            if self._last_id is None:
                self._last_id = (await db.execute(select(func.max(CacheEvent.id)))).scalar() or 0
                caches.invalidate_all()
                caches.enabled = True
                return
            rows = (
                await db.execute(
                    select(CacheEvent.id, CacheEvent.kind, CacheEvent.created_at)
                    .where(CacheEvent.id > self._last_id)
                    .order_by(CacheEvent.id)
                )
            ).all()
        if rows:
            self._last_id = rows[-1][0]
            caches.invalidate({kind for _, kind, _ in rows})
            now = utcnow()
            for when in {created for _, _, created in rows}:  # one write's rows share a time
                metrics.invalidation_lag(self.name, (now - when).total_seconds())

    async def prune(self) -> None:
        async with self.sessionmaker() as db:
            await db.execute(
                delete(CacheEvent).where(CacheEvent.created_at < utcnow() - self.KEEP),
                execution_options={NO_INVALIDATION: True},
            )
            await db.commit()

    async def run(self, caches: Caches) -> None:
        async def listen() -> None:
            loop = asyncio.get_running_loop()
            pruned = loop.time()
            try:
                while True:
                    await self.poll(caches)
                    if loop.time() - pruned >= 60:
                        pruned = loop.time()
                        await self.prune()
                    await asyncio.sleep(self.poll_interval)
            finally:
                self._last_id = None

        await _with_retries(caches, self.name, listen)

    async def close(self) -> None:
        return None
