"""Stopping the background tasks of a worker (the invalidation listener, token-use writes,
outbox senders, the metrics sampler) when its lifespan ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("frontdesk")


async def stop_task(task: asyncio.Task[Any], *, attempts: int = 20, wait: float = 0.25) -> bool:
    """Cancel ``task`` and wait until it has ended; ``False`` if it outlived every attempt.

    Cancelling once is not always enough on Python 3.11: ``asyncio.wait_for`` returns the
    awaited call's result when a cancellation arrives just as the call completes, swallowing
    it, and libraries use it inside (redis-py sends each command under one). A listener that
    swallowed the lifespan's one cancellation went on listening and the worker's shutdown
    hung (tests/store/test_invalidation_shutdown.py). So it is cancelled again until it ends.
    """
    for _ in range(attempts):
        task.cancel()
        done, _pending = await asyncio.wait([task], timeout=wait)
        if done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
            return True
    log.warning("background task %s did not stop", task.get_name())
    return False
