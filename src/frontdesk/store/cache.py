"""Per-worker read caches with invalidation that reaches every worker within a second.

Hot reads (bearer token validation, the profile behind ``/api/user``, app lookups at the token
endpoint, consent records) are served from bounded in-process caches. Invalidation does not
depend on callers remembering it: SQLAlchemy session events watch every write, map the table
it touches to the caches it makes stale, and in the same transaction append a row to
``cache_events``. The committing worker drops those caches at once; every other worker (and
every other host sharing the database) polls the table and drops them within
``poll_interval`` seconds. Entries also expire after ``ttl`` seconds as a safety net.

``last_used_at`` of tokens is batched here too: validation records the time in memory and
the poller writes it out every ``touch_interval`` seconds, one statement per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, event, func, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from frontdesk.store.models import AccessToken, CacheEvent
from frontdesk.store.types import utcnow

log = logging.getLogger("frontdesk.cache")

TOKENS: Final = "tokens"
PROFILES: Final = "profiles"
APPS: Final = "apps"
CONSENTS: Final = "consents"
SESSIONS: Final = "sessions"
KINDS: Final = (TOKENS, PROFILES, APPS, CONSENTS, SESSIONS)

# Which caches a write to each table makes stale. Deleting users, spaces or apps cascades to
# their tokens in the database, so those tables also invalidate the token cache.
TABLE_KINDS: Final[dict[str, frozenset[str]]] = {
    "access_tokens": frozenset({TOKENS}),
    "refresh_tokens": frozenset({TOKENS}),
    "users": frozenset({PROFILES, TOKENS, CONSENTS, SESSIONS}),
    "sessions": frozenset({SESSIONS}),
    "memberships": frozenset({PROFILES}),
    "spaces": frozenset({PROFILES, TOKENS, CONSENTS}),
    "apps": frozenset({APPS, TOKENS, CONSENTS}),
    "consents": frozenset({CONSENTS}),
}
# A new row can only make a cached *absence* stale: these caches remember "not found".
INSERT_KINDS: Final[dict[str, frozenset[str]]] = {
    "consents": frozenset({CONSENTS}),
    "memberships": frozenset({PROFILES}),
    "apps": frozenset({APPS}),
}
# Columns whose changes never make a cached read wrong.
IGNORED_COLUMNS: Final = frozenset({"last_used_at", "last_seen_at", "updated_at"})
SKIP: Final = "frontdesk_no_invalidation"

MISSING: Final = object()


class TTLCache:
    """A bounded mapping whose entries expire; the oldest entries go first when full."""

    __slots__ = ("_data", "generation", "maxsize", "ttl")

    def __init__(self, maxsize: int, ttl: float) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._data: dict[Hashable, tuple[float, Any]] = {}
        # Bumped by clear(): a value read from the database before an invalidation must not
        # be stored after it (put() with the generation seen before the read).
        self.generation = 0

    def get(self, key: Hashable) -> Any:
        entry = self._data.get(key)
        if entry is None:
            return MISSING
        if entry[0] < time.monotonic():
            self._data.pop(key, None)
            return MISSING
        return entry[1]

    def put(self, key: Hashable, value: Any, generation: int | None = None) -> None:
        if generation is not None and generation != self.generation:
            return
        if len(self._data) >= self.maxsize:
            # Drop the oldest tenth (dicts keep insertion order): amortised O(1) per insert.
            for old in list(self._data)[: max(1, self.maxsize // 10)]:
                del self._data[old]
        self._data[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._data.clear()
        self.generation += 1

    def __len__(self) -> int:
        return len(self._data)


class CacheBus:
    """The caches of one worker (one per application) and their invalidation."""

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        poll_interval: float = 0.25,
        touch_interval: float = 30.0,
        maxsize: int = 100_000,
    ) -> None:
        self.caches = {kind: TTLCache(maxsize, ttl) for kind in KINDS}
        self.poll_interval = poll_interval
        self.touch_interval = touch_interval
        self._last_id: int | None = None
        self._touched: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def tokens(self) -> TTLCache:
        return self.caches[TOKENS]

    @property
    def profiles(self) -> TTLCache:
        return self.caches[PROFILES]

    @property
    def apps(self) -> TTLCache:
        return self.caches[APPS]

    @property
    def consents(self) -> TTLCache:
        return self.caches[CONSENTS]

    def invalidate(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            cache = self.caches.get(kind)
            if cache is not None:
                cache.clear()

    def touch(self, token_id: str) -> None:
        """Remember that a token was used; written out in batches (no write per request)."""
        self._touched[token_id] = utcnow()

    # ---- the poller ------------------------------------------------------------------------

    def start(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(sessionmaker), name="cache-bus")

    async def stop(self, sessionmaker: async_sessionmaker[AsyncSession] | None = None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if sessionmaker is not None:
            await self.flush_touches(sessionmaker)

    async def _run(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        last_touch = last_prune = time.monotonic()
        while True:
            try:
                await self.poll(sessionmaker)
                now = time.monotonic()
                if now - last_touch >= self.touch_interval:
                    last_touch = now
                    await self.flush_touches(sessionmaker)
                if now - last_prune >= 60:
                    last_prune = now
                    await self.prune(sessionmaker)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep polling through database hiccups
                log.exception("cache invalidation poll failed")
                self.invalidate(KINDS)  # we may have missed events: start clean
            await asyncio.sleep(self.poll_interval)

    async def poll(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with sessionmaker() as db:
            if self._last_id is None:
                self._last_id = (await db.execute(select(func.max(CacheEvent.id)))).scalar() or 0
                return
            rows = (
                await db.execute(
                    select(CacheEvent.id, CacheEvent.kind)
                    .where(CacheEvent.id > self._last_id)
                    .order_by(CacheEvent.id)
                )
            ).all()
        if rows:
            self._last_id = rows[-1][0]
            self.invalidate({kind for _, kind in rows})

    async def flush_touches(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        if not self._touched:
            return
        touched, self._touched = self._touched, {}
        when = max(touched.values())
        async with sessionmaker() as db:
            ids = list(touched)
            for start in range(0, len(ids), 500):
                await db.execute(
                    update(AccessToken)
                    .where(AccessToken.id.in_(ids[start : start + 500]))
                    .values(last_used_at=when),
                    execution_options={SKIP: True},
                )
            await db.commit()

    async def prune(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with sessionmaker() as db:
            await db.execute(
                delete(CacheEvent).where(CacheEvent.created_at < utcnow() - timedelta(minutes=5)),
                execution_options={SKIP: True},
            )
            await db.commit()


# ---- session events: every write records what it makes stale --------------------------------


def _kinds(session: Session) -> set[str]:
    kinds: set[str] = session.info.setdefault("frontdesk_kinds", set())
    return kinds


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if "cache_bus" not in state.session.info or state.execution_options.get(SKIP):
        return
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    name = getattr(getattr(state.statement, "table", None), "name", "")
    kinds = (INSERT_KINDS if state.is_insert else TABLE_KINDS).get(name)
    if kinds:
        _kinds(state.session).update(kinds)


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _context: Any, _instances: Any) -> None:
    if "cache_bus" not in session.info:
        return
    kinds = _kinds(session)
    for obj in session.new:
        kinds.update(INSERT_KINDS.get(getattr(obj, "__tablename__", ""), ()))
    for obj in session.deleted:
        kinds.update(TABLE_KINDS.get(getattr(obj, "__tablename__", ""), ()))
    for obj in session.dirty:
        table_kinds = TABLE_KINDS.get(getattr(obj, "__tablename__", ""))
        if not table_kinds:
            continue
        changed = {attr.key for attr in inspect(obj).attrs if attr.history.has_changes()}
        if changed - IGNORED_COLUMNS:
            kinds.update(table_kinds)


@event.listens_for(Session, "before_commit")
def _on_commit(session: Session) -> None:
    if "cache_bus" not in session.info:
        return
    session.flush()  # so before_flush sees the last changes
    kinds = session.info.pop("frontdesk_kinds", None)
    if kinds:
        now = utcnow()
        session.execute(
            insert(CacheEvent),
            [{"kind": kind, "created_at": now} for kind in sorted(kinds)],
            execution_options={SKIP: True},
        )
        session.info["frontdesk_committing"] = kinds


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    kinds = session.info.pop("frontdesk_committing", None)
    bus = session.info.get("cache_bus")
    if kinds and bus is not None:
        bus.invalidate(kinds)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop("frontdesk_kinds", None)
    session.info.pop("frontdesk_committing", None)


def cache_for(db: AsyncSession, kind: str) -> TTLCache | None:
    """The cache of ``kind`` for reads in this session, or None when the session has written
    to tables of that kind and not committed yet (its reads may not be cached)."""
    bus = db.info.get("cache_bus")
    if not isinstance(bus, CacheBus) or kind in db.info.get("frontdesk_kinds", ()):
        return None
    return bus.caches[kind]


async def read_through(
    db: AsyncSession,
    kind: str,
    key: Hashable,
    load: Callable[[], Awaitable[Any]],
    *,
    keep_none: bool = True,
) -> Any:
    """``load()``'s value for ``key``, from the ``kind`` cache when it holds one.

    A value read before an invalidation is never stored after it; ``keep_none=False`` leaves
    absences uncached (for tables whose inserts do not invalidate the cache).
    """
    cache = cache_for(db, kind)
    if cache is None:
        return await load()
    hit = cache.get(key)
    if hit is not MISSING:
        return hit
    generation = cache.generation
    value = await load()
    if value is not None or keep_none:
        cache.put(key, value, generation)
    return value
