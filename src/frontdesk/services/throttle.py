"""Rate limits and failure throttles on the ``limits`` library (in memory, or Redis shared by
all workers).

Two kinds, both named in ``composition.Rules``:

* A **rate** (:meth:`Throttle.consume`): every request counts (API calls per user and app,
  dynamic registrations and sign-ups per address).
* A **failure throttle** (:class:`FailureThrottle`): what someone guessing a credential pays.
  Failures are counted per *(subject, address)*, the subject being the account or the client
  whose credential is guessed, so the guesser is slowed and the owner is not: a correct
  credential from an address that has not been failing is never refused (RFC 6819 §5.1.4.2.3,
  §5.2.3.1 counted against the attacker, not against the account). Besides that pair:

  - a limit on failures per address across subjects (one address trying many accounts);
  - optionally a slower *ceiling* of failures per subject from everywhere, which, once
    reached, holds back only the addresses that have themselves failed for that subject
    recently: many addresses guessing one account get one try each per window, and its owner,
    typing the right password from an address that has not failed, still gets in;
  - optionally failure counters on further keys (the password grant per client).

  Where checking is expensive and the secret is guessable (passwords), the pair is *reserved*
  before the check: :meth:`FailureThrottle.attempt` counts the attempt and answers whether it
  may run in one atomic step (``limits``' ``hit``), so at most the limit reaches Argon2
  whatever the concurrency; a success clears the pair. Client secrets and authorization codes
  are 256-bit values checked by a digest lookup: their failures are counted after the fact,
  which costs the hot token endpoint no extra round trip.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, MovingWindowSupport, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from frontdesk import metrics


class _MemoryStorage(MemoryStorage):
    """``limits``' in-process storage with a ``clear`` its expiry task can run beside: that
    task lists the keys, then reads each key's entries after a thread switch, and a key
    popped in between ended it with a ``KeyError`` ("Task exception was never retrieved").
    An emptied entry list means the same to every reader and is dropped by the next sweep."""

    async def clear(self, key: str) -> None:
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        if key in self.events:
            self.events[key] = []


log = logging.getLogger("frontdesk.throttle")
T = TypeVar("T")
# While Redis is unreachable, how long the counters stay in this worker before Redis is tried again.
REDIS_RETRY_SECONDS = 5.0
# Each worker's connections to Redis for counting: a burst of requests queues for them instead
# of opening one connection each (a flood of password guesses must not become a flood of Redis
# connections), each waiting at most REDIS_WAIT_SECONDS for one before Redis counts as down.
REDIS_CONNECTIONS = 16
REDIS_WAIT_SECONDS = 2.0
# An unreachable Redis must cost a request little: after one failure the worker counts in
# memory for REDIS_RETRY_SECONDS (FallbackStorage). A reachable one answers in milliseconds;
# the margin is for a busy event loop, which must not be taken for an outage.
REDIS_TIMEOUT_SECONDS = 2.0
# How the connections are named in Redis's CLIENT LIST.
REDIS_CLIENT_NAME = "frontdesk-throttle"


class FallbackStorage(Storage, MovingWindowSupport):
    """Redis shared by every worker, and this worker's memory while Redis cannot be reached:
    a failed call is answered from memory (per-worker counting: each worker allows the limit,
    so a limit is at most multiplied by the number of workers, never lifted), one warning is
    logged per outage, and Redis is tried again every :data:`REDIS_RETRY_SECONDS`. The counts
    made in memory are not carried over when Redis is back. The DPoP and client assertion
    ``jti`` replay guard (:meth:`Throttle.first_use`) uses the same storage, so during an
    outage a proof is single-use per worker (docs/operations.md)."""

    STORAGE_SCHEME = None

    def __init__(self, primary: Storage, fallback: Storage | None = None) -> None:
        super().__init__()
        self.primary = primary
        self.fallback = fallback or _MemoryStorage()
        self.down_since: float | None = None
        self.retry_at = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return StorageError

    async def _call(self, op: Callable[[Storage], Awaitable[T]]) -> T:
        now = time.monotonic()
        if self.down_since is None or now >= self.retry_at:
            try:
                result = await op(self.primary)
            except (StorageError, OSError) as exc:
                if self.down_since is None:
                    self.down_since = now
                    log.warning(
                        "Redis unreachable (%s): rate limits and the replay guard count per worker "
                        "until it is back (retried every %.0f s)",
                        exc,
                        REDIS_RETRY_SECONDS,
                    )
                self.retry_at = now + REDIS_RETRY_SECONDS
            else:
                if self.down_since is not None:
                    back = time.monotonic() - self.down_since
                    log.warning("Redis is back after %.1f s: counting is shared again", back)
                    self.down_since = None
                return result
        return await op(self.fallback)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self._call(lambda s: s.incr(key, expiry, amount))

    async def get(self, key: str) -> int:
        return await self._call(lambda s: s.get(key))

    async def get_expiry(self, key: str) -> float:
        return await self._call(lambda s: s.get_expiry(key))

    async def check(self) -> bool:
        return await self._call(lambda s: s.check())

    async def reset(self) -> int | None:
        await self.fallback.reset()
        return await self._call(lambda s: s.reset())

    async def clear(self, key: str) -> None:
        await self.fallback.clear(key)
        await self._call(lambda s: s.clear(key))

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return await self._call(lambda s: s.acquire_entry(key, limit, expiry, amount))  # type: ignore[attr-defined]

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return await self._call(lambda s: s.get_moving_window(key, limit, expiry))  # type: ignore[attr-defined]


def make_storage(redis_url: str | None) -> Storage:
    if redis_url:
        from redis.asyncio import BlockingConnectionPool  # only with Redis (tests/web/test_lazy_imports.py)

        scheme, _, rest = redis_url.partition("://")
        pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=REDIS_CONNECTIONS,
            timeout=REDIS_WAIT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            client_name=REDIS_CLIENT_NAME,
        )
        # ``connection_pool`` is a documented option of limits' RedisStorage; its annotation of
        # the options (float | str | bool) leaves it out.
        storage = storage_from_string(
            f"async+{scheme}://{rest}",
            implementation="redispy",
            wrap_exceptions=True,
            connection_pool=pool,  # type: ignore[arg-type]
        )
        assert isinstance(storage, Storage)
        return FallbackStorage(storage)
    return _MemoryStorage()


def address_key(ip: str) -> str:
    """The key one client address is counted under: an IPv6 address by its /64 network, which
    one subscriber gets whole (RFC 6177 §2), so rotating through it gains nothing."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Rule:
    """One limit applied to one kind of key, e.g. failures per account and address."""

    name: str
    limit: RateLimitItem

    @classmethod
    def parse(cls, name: str, spec: str) -> Rule:
        return cls(name=name, limit=parse(spec))


class Throttle:
    """The shared counters: one moving-window limiter over the configured storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)

    async def wait(self, rule: Rule, *key: str) -> int:
        """Whole seconds until ``key`` has room again under ``rule`` (at least 1). Asked only
        when ``rule`` refuses a request: counted in frontdesk_throttled_requests_total."""
        metrics.throttled(rule.name)
        stats = await self.limiter.get_window_stats(rule.limit, rule.name, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def consume(self, rule: Rule, key: str) -> int | None:
        """Count one request; ``None`` if allowed, else seconds to wait."""
        if await self.limiter.hit(rule.limit, rule.name, key):
            return None
        return await self.wait(rule, key)

    async def consume_for_address(self, rule: Rule | None, ip: str) -> int | None:
        """:meth:`consume` for one client address (:func:`address_key`); no rule (a limit
        switched off): always allowed."""
        if rule is None:
            return None
        return await self.consume(rule, address_key(ip))

    async def first_use(self, kind: str, value: str, seconds: int) -> bool:
        """True the first time ``value`` is seen under ``kind`` within ``seconds``, False on
        every later use (one atomic increment, shared by all workers when Redis is configured,
        per worker otherwise): the ``jti`` replay check of DPoP proofs (RFC 9449 §11.1) and
        client assertions (RFC 7523 §3, item 7). Implements :class:`frontdesk.oauth.storage.ReplayGuard`."""
        count = await self.storage.incr(f"replay/{kind}/{value}", max(1, int(seconds)))
        return count == 1

    async def reset(self) -> None:
        await self.storage.reset()


@dataclass(frozen=True)
class FailureRules:
    """The rules of one failure throttle (see the module's docstring)."""

    subject: str  # the key naming whose credential is guessed: "account" or "client"
    pair: Rule  # failures of one subject from one address
    address: Rule  # failures from one address, whatever the subject
    ceiling: Rule | None = None  # failures of one subject from every address
    others: tuple[tuple[str, Rule], ...] = ()  # failures per further key, e.g. ("client", …)
    reserve: bool = False  # count each attempt before the check; a success clears the pair


class FailureThrottle:
    """:class:`frontdesk.oauth.storage.Limiter` for one kind of credential.

    ``keys`` name the subject (``account`` or ``client``), the ``address`` and any further
    keys of :attr:`FailureRules.others`. Call :meth:`attempt` before checking the credential,
    then :meth:`failed` or :meth:`succeeded`.
    """

    def __init__(self, throttle: Throttle, rules: FailureRules) -> None:
        self.throttle = throttle
        self.rules = rules

    def _pair(self, keys: dict[str, str]) -> tuple[str, str]:
        return keys.get(self.rules.subject, ""), address_key(keys.get("address", ""))

    def _counters(self, keys: dict[str, str]) -> Sequence[tuple[Rule, str]]:
        """The failure counters besides the pair and the ceiling, with their keys."""
        counters = [(self.rules.address, address_key(keys.get("address", "")))]
        counters += [(rule, keys.get(name, "")) for name, rule in self.rules.others]
        return [(rule, key) for rule, key in counters if key]

    async def attempt(self, keys: dict[str, str]) -> int | None:
        """``None`` if this attempt may run (and, when reserving, counts it), else seconds to
        wait."""
        limiter, rules, pair = self.throttle.limiter, self.rules, self._pair(keys)
        subject = pair[0]
        ceiling = rules.ceiling
        if ceiling is not None and subject and not await limiter.test(ceiling.limit, ceiling.name, subject):
            # The subject is under attack from many places: addresses that have failed for it
            # wait for the ceiling; the others still get their try.
            stats = await limiter.get_window_stats(rules.pair.limit, rules.pair.name, *pair)
            if stats.remaining < rules.pair.limit.amount:
                return await self.throttle.wait(ceiling, subject)
        for rule, key in self._counters(keys):
            if not await limiter.test(rule.limit, rule.name, key):
                return await self.throttle.wait(rule, key)
        if rules.reserve:
            allowed = await limiter.hit(rules.pair.limit, rules.pair.name, *pair)
        else:
            allowed = await limiter.test(rules.pair.limit, rules.pair.name, *pair)
        return None if allowed else await self.throttle.wait(rules.pair, *pair)

    async def failed(self, keys: dict[str, str]) -> None:
        limiter, rules, pair = self.throttle.limiter, self.rules, self._pair(keys)
        if not rules.reserve:  # a reserved attempt was counted already
            await limiter.hit(rules.pair.limit, rules.pair.name, *pair)
        for rule, key in self._counters(keys):
            await limiter.hit(rule.limit, rule.name, key)
        if rules.ceiling is not None and pair[0]:
            await limiter.hit(rules.ceiling.limit, rules.ceiling.name, pair[0])

    async def exhausted(self, keys: dict[str, str]) -> bool:
        """Whether this subject may not try again from this address now (checked right after
        :meth:`failed`: that failure began a lockout). Counts nothing."""
        limiter, rules, pair = self.throttle.limiter, self.rules, self._pair(keys)
        return not await limiter.test(rules.pair.limit, rules.pair.name, *pair)

    async def succeeded(self, keys: dict[str, str]) -> None:
        if self.rules.reserve:  # the right credential from here: its failures are forgiven
            await self.throttle.limiter.clear(self.rules.pair.limit, self.rules.pair.name, *self._pair(keys))
