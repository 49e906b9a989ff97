"""Rate limits on top of the ``limits`` library (in memory, or Redis shared by all workers).

A :class:`Throttle` is checked *before* expensive work (password hashing) and hit when the
outcome counts against the caller (a failed login), so that attackers pay the limit and not
the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


def make_storage(redis_url: str | None) -> Storage:
    if redis_url:
        scheme, _, rest = redis_url.partition("://")
        storage = storage_from_string(f"async+{scheme}://{rest}", implementation="redispy")
        assert isinstance(storage, Storage)
        return storage
    return MemoryStorage()


@dataclass(frozen=True)
class Rule:
    """One limit applied to one kind of key, e.g. failures per account."""

    name: str
    limit: RateLimitItem

    @classmethod
    def parse(cls, name: str, spec: str) -> Rule:
        return cls(name=name, limit=parse(spec))


class Throttle:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)

    async def retry_after(self, checks: Iterable[tuple[Rule, str]]) -> int | None:
        """Seconds until every given (rule, key) has room again, or ``None`` if all have room."""
        wait = 0.0
        for rule, key in checks:
            if not key:
                continue
            if not await self.limiter.test(rule.limit, rule.name, key):
                stats = await self.limiter.get_window_stats(rule.limit, rule.name, key)
                wait = max(wait, stats.reset_time - time.time())
        return max(1, math.ceil(wait)) if wait > 0 else None

    async def hit(self, checks: Iterable[tuple[Rule, str]]) -> None:
        for rule, key in checks:
            if key:
                await self.limiter.hit(rule.limit, rule.name, key)

    async def consume(self, rule: Rule, key: str) -> int | None:
        """Count one request; ``None`` if allowed, else seconds to wait."""
        if await self.limiter.hit(rule.limit, rule.name, key):
            return None
        stats = await self.limiter.get_window_stats(rule.limit, rule.name, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        await self.storage.reset()
