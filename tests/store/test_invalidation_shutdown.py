"""A worker's shutdown stops its cache invalidation listener (store/invalidation.py) however a
cancellation lands.

The lifespan's shutdown used to cancel the listening task once and wait for it (store/db.py,
``dispose``). On Python 3.11, ``asyncio.wait_for`` returns the awaited call's result when the
cancellation arrives just as the call completes, swallowing it: the PostgreSQL listener went on
pinging and the worker's shutdown hung (in CI the test application's lifespan timed out after
5 s on PostgreSQL, about once a run). With pings every half millisecond, 19 of 300 PostgreSQL
listeners outlived one cancellation. The listener now waits with ``asyncio.timeout`` and stops
at the first cancellation; redis-py sends each command under a ``wait_for`` of its own, so
:func:`frontdesk.tasks.stop_task` cancels again until a task has ended.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from frontdesk.store import invalidation
from frontdesk.store.caching import Caches
from frontdesk.tasks import stop_task

TRIALS = 150


async def _listening(channel: invalidation.Channel, caches: Caches, trial: int) -> asyncio.Task[None]:
    task = asyncio.create_task(channel.run(caches))
    for _ in range(5000):
        if caches.enabled:
            break
        await asyncio.sleep(0.001)
    assert caches.enabled, "the listener never started"
    await asyncio.sleep(0.002 + (trial % 7) * 0.0005)  # land at different points of a ping
    return task


async def _outlived_one_cancellation(channel: invalidation.Channel) -> list[int]:
    caches = Caches()
    outlived: list[int] = []
    for trial in range(TRIALS):
        task = await _listening(channel, caches, trial)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=3)
        if not done:
            outlived.append(trial)
            await stop_task(task)
    return outlived


async def _not_stopped(channel: invalidation.Channel, trials: int = TRIALS) -> list[int]:
    caches = Caches()
    running: list[int] = []
    for trial in range(trials):
        task = await _listening(channel, caches, trial)
        if not await stop_task(task) or not task.done():
            running.append(trial)
    return running


@pytest.fixture
def fast_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ping often, so that cancellations meet pings completing (the race) many times.
    monkeypatch.setattr(invalidation, "PING_SECONDS", 0.0005)


async def test_the_postgresql_listener_stops_at_the_first_cancellation(
    postgres_url: str, fast_pings: None
) -> None:
    channel = invalidation.PostgresChannel(postgres_url)
    assert await _outlived_one_cancellation(channel) == []


async def test_shutdown_stops_the_postgresql_listener(postgres_url: str, fast_pings: None) -> None:
    assert await _not_stopped(invalidation.PostgresChannel(postgres_url)) == []


async def test_shutdown_stops_the_redis_listener(fast_pings: None) -> None:
    url = os.environ.get("FRONTDESK_TEST_REDIS_URL")
    if not url:
        pytest.skip("set FRONTDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/15 (as .ci/run does)")
    channel = invalidation.RedisChannel(url)
    try:
        # Fewer trials: redis-py swallows a cancellation often, each costing a wait.
        assert await _not_stopped(channel, trials=50) == []
    finally:
        await channel.close()
