"""What the outbox workers share (:mod:`frontdesk.webhook_worker`,
:mod:`frontdesk.email_worker`): one asyncio task per server process, started and stopped by the
app's lifespan (web/app.py), that runs rounds until there is no work and then sleeps for the
poll interval; the retry schedule; and the HTTP client for deliveries.

A round that fails is logged and tried again later: nothing is lost, the rows stay in the
outbox until a round commits their outcome.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from frontdesk.tasks import stop_task

if TYPE_CHECKING:
    import httpx

MAX_DELAY: Final = timedelta(hours=1)


def retry_delay(attempts: int, base_seconds: float) -> timedelta:
    """The wait after the ``attempts``-th failure: base, 2×base, 4×base, … (at most an hour),
    with ±10 % jitter so that deliveries that failed together do not retry together."""
    seconds = min(base_seconds * 2 ** min(attempts - 1, 30), MAX_DELAY.total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


class OutboxWorker:
    """The task loop around a subclass's :meth:`run_once` (one round; True when it found work)."""

    name: str = "outbox"
    log: logging.Logger = logging.getLogger("frontdesk")

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx  # on the first delivery (tests/web/test_lazy_imports.py)

            # No proxies from the environment (the address checks must see the real peer), no
            # redirects (a 3xx is a failed delivery).
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        return self._client

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run_once(self) -> bool:
        raise NotImplementedError

    async def run(self) -> None:
        while True:
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again; nothing is lost (the outbox)
                self.log.exception("%s delivery round failed", self.name)
                busy = False
            if not busy:
                await asyncio.sleep(self.poll_seconds)
