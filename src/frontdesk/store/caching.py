"""The caching layer: :class:`CachingStorage` implements the same protocols as
:class:`frontdesk.store.sql_storage.SqlStorage` and serves the hot reads (bearer tokens, who a
token acts for, apps at the token endpoint, consents, browser sessions, the space a host
names, signing keys) from
per-worker caches. Nothing else in the code reads or fills a cache.

**Kinds.** Each cache kind holds one type of value and declares the tables its values are read
from (:data:`KINDS`). A committed write to one of those tables drops the whole kind; an insert
drops it only where the kind remembers absences ("no consent yet"). Entries also expire after
``ttl`` seconds as a safety net.

**Who sees a write when.** Writes are observed on the database's own session class (see
:class:`WriteTracker`), so no caller has to remember to invalidate anything:

* the process that commits drops the stale kinds at once, and a unit of work that has staged
  writes to a kind reads that kind from the database until it commits (read your own writes);
* other processes (workers, servers, the CLI) are told through the invalidation channel of
  :mod:`frontdesk.store.invalidation`: PostgreSQL ``NOTIFY`` or Redis pub/sub (milliseconds),
  or the ``cache_events`` table polled every 250 ms (SQLite);
* while the channel is down, caching is off (every read goes to the database), and the caches
  start empty when it is back: a missed message can never keep a revoked token alive.

``last_used_at`` of tokens is a write-behind buffer here too: :meth:`CachingStorage.note_token_use`
records the time in memory and the background job writes it out in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import cachetools
from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from frontdesk.oauth.models import ConsumedCode, NewCode, NewToken, Person, SpaceRole, TokenInfo
from frontdesk.oauth.storage import (
    DeviceAuthorization,
    DeviceDecision,
    GrantSelector,
    NewDeviceAuthorization,
    NewRefreshToken,
    PushedRequest,
    RefreshTokenRecord,
    RevokedGrant,
    Rotation,
    SigningKeyPair,
)
from frontdesk.records import MembershipRecord, NewSession, SessionRecord, SpaceRef
from frontdesk.store.key_storage import LoadedKeys
from frontdesk.store.sql_storage import ClientEntry, ClientReads, SqlStorage
from frontdesk.store.types import utcnow

if TYPE_CHECKING:
    from frontdesk.store.invalidation import Channel
    from frontdesk.store.unit_of_work import UnitOfWork

log = logging.getLogger("frontdesk.cache")

MISSING: Final = object()
# Execution option of writes that make no cached read stale (last_used_at, last_seen_at).
NO_INVALIDATION: Final = "frontdesk_no_invalidation"
STAGED: Final = "frontdesk_stale_kinds"
_COMMITTING: Final = "frontdesk_committing_kinds"
# Session info key of read_in_session's reads kept for the rest of the transaction while
# caching is off (a batch's events look their webhook routes up once, not once each).
_READ_IN_TRANSACTION: Final = "frontdesk_read_in_transaction"
# Columns whose changes never make a cached value wrong.
IGNORED_COLUMNS: Final = frozenset({"last_used_at", "last_seen_at", "updated_at"})

__all__ = ["KINDS", "MISSING", "Caches", "CachingStorage", "Kind", "WriteTracker"]


@dataclass(frozen=True)
class Kind:
    """A cache kind: one value type, and the tables it is read from."""

    name: str
    # A committed UPDATE or DELETE on any of these tables makes the kind stale. Deleting users,
    # spaces or apps cascades to their tokens, consents and sessions in the database.
    reads: frozenset[str]
    # Inserts into these tables make it stale too: the kind caches "not found" answers.
    absences_from: frozenset[str] = frozenset()
    # Whether "not found" is cached at all.
    keep_none: bool = True


TOKENS: Final = Kind(
    "tokens", frozenset({"access_tokens", "apps", "users", "spaces"}), keep_none=False
)  # TokenInfo by token digest
CLIENTS: Final = Kind(
    "clients", frozenset({"apps", "users"}), frozenset({"apps"})
)  # ClientEntry by client id
CONSENTS: Final = Kind(
    "consents", frozenset({"consents", "apps", "users", "spaces"}), frozenset({"consents"})
)  # frozenset of scopes by (user, client, space)
PEOPLE: Final = Kind(
    "people", frozenset({"users", "memberships", "spaces"}), frozenset({"memberships"})
)  # Person by (user id, space id of a space token or None)
MEMBERSHIPS: Final = Kind(
    "memberships", frozenset({"memberships", "spaces", "users"}), frozenset({"memberships"})
)  # tuple[MembershipRecord, ...] by user id
SESSIONS: Final = Kind("sessions", frozenset({"sessions", "users"}), keep_none=False)  # SessionRecord by id
SPACES: Final = Kind("spaces", frozenset({"spaces"}), frozenset({"spaces"}))  # SpaceRef by (by, host)
SIGNING_KEYS: Final = Kind(
    "signing_keys", frozenset({"signing_keys"}), frozenset({"signing_keys"})
)  # LoadedKeys by ()
WEBHOOKS: Final = Kind(
    "webhooks", frozenset({"webhook_endpoints"}), frozenset({"webhook_endpoints"})
)  # store.webhooks.Route tuples by webhook event type, by () (the outbox's lookup, no query when cached)
KINDS: Final = (TOKENS, CLIENTS, CONSENTS, PEOPLE, MEMBERSHIPS, SESSIONS, SPACES, SIGNING_KEYS, WEBHOOKS)
# Session info key under which a database's sessions carry its caches (store/db.py), for the
# reads of the store's own recorders that have a session and no storage (read_in_session).
CACHES_INFO: Final = "frontdesk_caches"


def _by_table(kinds: Iterable[Kind], attr: str) -> dict[str, frozenset[str]]:
    table_map: dict[str, set[str]] = {}
    for kind in kinds:
        for table in getattr(kind, attr):
            table_map.setdefault(table, set()).add(kind.name)
    return {table: frozenset(names) for table, names in table_map.items()}


STALE_ON_CHANGE: Final = _by_table(KINDS, "reads")
STALE_ON_INSERT: Final = _by_table(KINDS, "absences_from")
KIND_NAMES: Final = frozenset(kind.name for kind in KINDS)


class Caches:
    """The caches of one worker, their invalidation, and the token-use buffer."""

    def __init__(self, *, maxsize: int = 100_000, ttl: float = 300.0) -> None:
        self._stores: dict[str, cachetools.TTLCache[Hashable, Any]] = {
            kind.name: cachetools.TTLCache(maxsize, ttl) for kind in KINDS
        }
        # Bumped by every invalidation: a value read before an invalidation is never stored
        # after it (see :meth:`put`).
        self._generations = dict.fromkeys(self._stores, 0)
        # Off until the invalidation channel listens, and while it is down (see the module
        # docstring): a process that cannot hear invalidations must not cache.
        self.enabled = False
        self._touched: dict[str, datetime] = {}
        # Lookups per kind, in plain integers (a cache read is the hot path); web/metrics.py
        # takes them into frontdesk_cache_lookups_total every few seconds (frontdesk/metrics.py).
        self._hits = dict.fromkeys(self._stores, 0)
        self._misses = dict.fromkeys(self._stores, 0)

    def get(self, kind: Kind, key: Hashable) -> Any:
        if not self.enabled:
            return MISSING
        try:  # one lookup (TTLCache.get would check the entry twice)
            value = self._stores[kind.name][key]
        except KeyError:
            self._misses[kind.name] += 1
            return MISSING
        self._hits[kind.name] += 1
        return value

    def take_lookups(self) -> tuple[dict[str, int], dict[str, int]]:
        """The hits and misses per kind counted since the last call."""
        hits, misses = self._hits, self._misses
        self._hits, self._misses = dict.fromkeys(self._stores, 0), dict.fromkeys(self._stores, 0)
        return hits, misses

    def generation(self, kind: Kind) -> int:
        return self._generations[kind.name]

    async def fill(self, kind: Kind, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """A miss: load the value and keep it unless an invalidation came in meanwhile."""
        generation = self._generations[kind.name]
        value = await load()
        if value is not None or kind.keep_none:
            self.put(kind, key, value, generation)
        return value

    def put(self, kind: Kind, key: Hashable, value: Any, generation: int) -> None:
        if self.enabled and generation == self._generations[kind.name]:
            self._stores[kind.name][key] = value

    def invalidate(self, names: Iterable[str]) -> None:
        for name in names:
            store = self._stores.get(name)
            if store is not None:
                store.clear()
                self._generations[name] += 1

    def invalidate_all(self) -> None:
        self.invalidate(self._stores)

    # ---- last_used_at, written behind ----------------------------------------------------

    def note_token_use(self, token_id: str) -> None:
        self._touched[token_id] = utcnow()

    def take_token_uses(self) -> dict[str, datetime]:
        touched, self._touched = self._touched, {}
        return touched


class WriteTracker:
    """Watches every write of one database's sessions and turns committed writes into
    invalidations: here at once, elsewhere through the channel. Installed on the database's
    own :class:`Session` subclass, never on SQLAlchemy's global class."""

    def __init__(self, caches: Caches, channel: Channel) -> None:
        self.caches = caches
        self.channel = channel

    def install(self, session_class: type[Session]) -> None:
        event.listen(session_class, "do_orm_execute", self._on_execute)
        event.listen(session_class, "before_flush", self._on_flush)
        event.listen(session_class, "before_commit", self._before_commit)
        event.listen(session_class, "after_commit", self._after_commit)
        event.listen(session_class, "after_soft_rollback", self._after_rollback)

    @staticmethod
    def _staged(session: Session) -> set[str]:
        kinds: set[str] = session.info.setdefault(STAGED, set())
        return kinds

    def inserted(self, session: Session, tables: set[str]) -> None:
        """Rows were inserted into ``tables`` outside the ORM's statements (deferred inserts)."""
        for table in tables:
            self._staged(session).update(STALE_ON_INSERT.get(table, ()))

    def _on_execute(self, state: ORMExecuteState) -> None:
        if not (state.is_update or state.is_delete or state.is_insert):
            return
        if state.execution_options.get(NO_INVALIDATION):
            return
        name = getattr(getattr(state.statement, "table", None), "name", "")
        kinds = (STALE_ON_INSERT if state.is_insert else STALE_ON_CHANGE).get(name)
        if kinds:
            self._staged(state.session).update(kinds)

    def _on_flush(self, session: Session, _context: Any, _instances: Any) -> None:
        staged = self._staged(session)
        for obj in session.new:
            staged.update(STALE_ON_INSERT.get(getattr(obj, "__tablename__", ""), ()))
        for obj in session.deleted:
            staged.update(STALE_ON_CHANGE.get(getattr(obj, "__tablename__", ""), ()))
        for obj in session.dirty:
            kinds = STALE_ON_CHANGE.get(getattr(obj, "__tablename__", ""))
            if not kinds:
                continue
            changed = {attr.key for attr in inspect(obj).attrs if attr.history.has_changes()}
            if changed - IGNORED_COLUMNS:
                staged.update(kinds)

    def _before_commit(self, session: Session) -> None:
        session.flush()  # so _on_flush sees the last changes
        kinds = session.info.pop(STAGED, None)
        if kinds:
            self.channel.before_commit(session, frozenset(kinds))
            session.info[_COMMITTING] = frozenset(kinds)

    def _after_commit(self, session: Session) -> None:
        session.info.pop(_READ_IN_TRANSACTION, None)
        kinds = session.info.pop(_COMMITTING, None)
        if kinds:
            self.caches.invalidate(kinds)
            self.channel.after_commit(kinds)

    @staticmethod
    def _after_rollback(session: Session, _previous: Any) -> None:
        session.info.pop(_READ_IN_TRANSACTION, None)
        session.info.pop(STAGED, None)
        session.info.pop(_COMMITTING, None)


async def read_in_session(
    session: AsyncSession, kind: Kind, key: Hashable, load: Callable[[], Awaitable[Any]]
) -> Any:
    """A cached read for code that holds a session of a :class:`frontdesk.store.db.Database`
    (the audit recorder's outbox lookup): the same rules as :meth:`CachingStorage._read`.
    While caching is off (a command, or the invalidation channel is down) the value read is
    kept for the rest of the transaction, so a batch reads it once."""
    info = session.info
    caches = info.get(CACHES_INFO)
    if not isinstance(caches, Caches) or kind.name in info.get(STAGED, ()):
        return await load()
    if not caches.enabled:
        kept: dict[tuple[str, Hashable], Any] = info.setdefault(_READ_IN_TRANSACTION, {})
        if (kind.name, key) not in kept:
            kept[kind.name, key] = await load()
        return kept[kind.name, key]
    hit = caches.get(kind, key)
    if hit is not MISSING:
        return hit
    return await caches.fill(kind, key, load)


class CachingStorage(ClientReads):
    """The server's storage: :class:`SqlStorage`'s methods, hot reads served from
    :class:`Caches`. The SQL storage (and with it a database session) is only made when a
    read misses or something is written."""

    __slots__ = ("_inner", "_uow", "caches", "server_secret")

    def __init__(self, uow: UnitOfWork, caches: Caches) -> None:
        self._uow = uow
        self.caches = caches
        self.server_secret = uow.database.server_secret
        self._inner: SqlStorage | None = None

    @property
    def inner(self) -> SqlStorage:
        if self._inner is None:
            self._inner = SqlStorage(self._uow.session, self.server_secret)
        return self._inner

    def _stale_here(self, kind: Kind) -> bool:
        """Has this unit of work staged writes that make ``kind`` stale? Then it reads from
        the database until it commits."""
        return self._uow.has_session and kind.name in self._uow.session.info.get(STAGED, ())

    async def _read(self, kind: Kind, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        caches = self.caches
        if self._stale_here(kind):
            return await load()
        hit = caches.get(kind, key)
        if hit is not MISSING:
            return hit
        return await caches.fill(kind, key, load)

    # ---- clients ---------------------------------------------------------------------------

    async def client_entry(self, client_id: str) -> ClientEntry | None:
        if not client_id or len(client_id) > 64:
            return None
        entry: ClientEntry | None = await self._read(
            CLIENTS, client_id, lambda: self.inner.client_entry(client_id)
        )
        return entry

    # ---- codes (never cached: written once, read once) ------------------------------------

    async def save_code(self, raw: str, code: NewCode) -> None:
        await self.inner.save_code(raw, code)

    async def consume_code(self, raw: str) -> ConsumedCode:
        return await self.inner.consume_code(raw)

    # ---- pushed authorization requests (RFC 9126; never cached: single use) ------------------

    async def save_pushed_request(self, raw: str, pushed: PushedRequest) -> None:
        await self.inner.save_pushed_request(raw, pushed)

    async def find_pushed_request(self, raw: str) -> PushedRequest | None:
        return await self.inner.find_pushed_request(raw)

    async def open_pushed_request(self, raw: str, until: datetime) -> None:
        await self.inner.open_pushed_request(raw, until)

    async def use_pushed_request(self, raw: str, now: datetime) -> bool:
        return await self.inner.use_pushed_request(raw, now)

    # ---- tokens ----------------------------------------------------------------------------

    async def save_token(self, raw: str, token: NewToken) -> str:
        return await self.inner.save_token(raw, token)

    async def lookup_token(self, raw: str) -> TokenInfo | None:
        digest = self.server_secret.digest(raw)
        info: TokenInfo | None = await self._read(TOKENS, digest, lambda: self.inner.token_by_digest(digest))
        return info

    def note_token_use(self, token_id: str) -> None:
        self.caches.note_token_use(token_id)

    async def mark_tokens_used(self, token_ids: list[str], when: datetime) -> None:
        await self.inner.mark_tokens_used(token_ids, when)

    async def revoke_grant(self, grant: GrantSelector, *, descendants: bool = False) -> RevokedGrant:
        return await self.inner.revoke_grant(grant, descendants=descendants)

    # ---- consent ---------------------------------------------------------------------------

    async def granted_scopes(self, user_id: str, client_id: str, space_id: str | None) -> frozenset[str]:
        scopes: frozenset[str] = await self._read(
            CONSENTS,
            (user_id, client_id, space_id),
            lambda: self.inner.granted_scopes(user_id, client_id, space_id),
        )
        return scopes

    async def remember_consent(
        self, user_id: str, client_id: str, space_id: str | None, scopes: tuple[str, ...]
    ) -> None:
        await self.inner.remember_consent(user_id, client_id, space_id, scopes)

    # ---- device authorizations (never cached: every poll writes) ---------------------------

    async def save_device_authorization(
        self, device_code: str, user_code: str, new: NewDeviceAuthorization, now: datetime
    ) -> bool:
        return await self.inner.save_device_authorization(device_code, user_code, new, now)

    async def find_device_by_user_code(self, user_code: str, issuer: str) -> DeviceAuthorization | None:
        return await self.inner.find_device_by_user_code(user_code, issuer)

    async def decide_device(self, authorization_id: str, decision: DeviceDecision, now: datetime) -> bool:
        return await self.inner.decide_device(authorization_id, decision, now)

    async def poll_device(self, device_code: str, now: datetime) -> DeviceAuthorization | None:
        return await self.inner.poll_device(device_code, now)

    async def slow_device(self, authorization_id: str, interval: int) -> None:
        await self.inner.slow_device(authorization_id, interval)

    async def redeem_device(self, authorization_id: str) -> bool:
        return await self.inner.redeem_device(authorization_id)

    # ---- refresh tokens (never cached: every use rotates them) ----------------------------

    async def save_refresh_token(self, raw: str, token: NewRefreshToken) -> str:
        return await self.inner.save_refresh_token(raw, token)

    async def assign_token_family(self, token_id: str, family_id: str) -> None:
        await self.inner.assign_token_family(token_id, family_id)

    async def rotate_refresh_token(self, raw: str, client_id: str, now: datetime) -> Rotation:
        return await self.inner.rotate_refresh_token(raw, client_id, now)

    async def find_refresh_token(self, raw: str) -> RefreshTokenRecord | None:
        return await self.inner.find_refresh_token(raw)

    # ---- signing keys ----------------------------------------------------------------------

    async def signing_keys(self) -> LoadedKeys:
        previous = self.caches.get(SIGNING_KEYS, ())
        reuse = previous if isinstance(previous, LoadedKeys) else None
        loaded: LoadedKeys = await self._read(
            SIGNING_KEYS, (), lambda: self.inner.signing_keys(previous=reuse)
        )
        return loaded

    async def signing_key(self) -> SigningKeyPair:
        loaded = await self.signing_keys()
        if loaded.signing is not None:
            return loaded.signing
        return await self.inner.signing_key()

    # ---- people and spaces -----------------------------------------------------------------

    async def person(self, user_id: str) -> Person | None:
        person: Person | None = await self._read(PEOPLE, (user_id, None), lambda: self.inner.person(user_id))
        return person

    async def space_role(self, space_id: str, user_id: str) -> SpaceRole | None:
        return await self.inner.space_role(space_id, user_id)

    async def acting_person(self, token: TokenInfo) -> Person | None:
        person: Person | None = await self._read(
            PEOPLE, (token.user_id, token.space_id), lambda: self.inner.acting_person(token)
        )
        return person

    async def space_by_host(self, by: str, value: str) -> SpaceRef | None:
        space: SpaceRef | None = await self._read(
            SPACES, (by, value), lambda: self.inner.space_by_host(by, value)
        )
        return space

    async def memberships_of(self, user_id: str) -> tuple[MembershipRecord, ...]:
        found: tuple[MembershipRecord, ...] = await self._read(
            MEMBERSHIPS, user_id, lambda: self.inner.memberships_of(user_id)
        )
        return found

    # ---- browser sessions ------------------------------------------------------------------

    async def find_session(self, session_id: str) -> SessionRecord | None:
        found: SessionRecord | None = await self._read(
            SESSIONS, session_id, lambda: self.inner.find_session(session_id)
        )
        return found

    async def start_session(self, new: NewSession) -> None:
        await self.inner.start_session(new)

    async def touch_session(self, session_id: str, now: datetime) -> None:
        """Record that the session was seen (a write that invalidates nothing), and keep the
        cached record in step unless an invalidation came in meanwhile."""
        generation = self.caches.generation(SESSIONS)
        await self.inner.touch_session(session_id, now)
        cached = self.caches.get(SESSIONS, session_id)
        if isinstance(cached, SessionRecord):
            self.caches.put(SESSIONS, session_id, replace(cached, last_seen_at=now), generation)

    async def end_session(self, session_id: str) -> None:
        await self.inner.end_session(session_id)

    async def end_sessions_of(self, user_id: str) -> int:
        return await self.inner.end_sessions_of(user_id)

    async def update_session(
        self,
        session_id: str,
        *,
        data: dict[str, Any] | None = None,
        reauthenticated_at: datetime | None = None,
        login_methods: tuple[str, ...] | None = None,
        authenticated_at: datetime | None = None,
    ) -> None:
        await self.inner.update_session(
            session_id,
            data=data,
            reauthenticated_at=reauthenticated_at,
            login_methods=login_methods,
            authenticated_at=authenticated_at,
        )

    # ---- audit -----------------------------------------------------------------------------

    async def record_event(
        self,
        event: str,
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        space_id: str | None = None,
        ip: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self.inner.record_event(
            event, user_id=user_id, app_id=app_id, space_id=space_id, ip=ip, detail=detail
        )
