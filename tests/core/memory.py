"""An in-memory :class:`frontdesk.oauth.storage.Storage`: the protocol core's storage interface
implemented on plain dicts, so the core can be driven without a database and the interface
can be held to its contract (``tests/core/test_storage_contract.py`` runs the same tests on
this and on :class:`frontdesk.store.sql_storage.SqlStorage`).

Transactions follow the SQL storage's model on SQLite (:mod:`frontdesk.store.sqlite_writes`):

* Several :class:`MemoryStorage` units of work share one :class:`MemoryDatabase`.
* Reads see the committed state, or the unit's own staged state once it has written.
* The first write of a unit takes the database's write lock and copies the committed state;
  :meth:`MemoryStorage.commit` publishes the copy, :meth:`MemoryStorage.rollback` drops it;
  both release the lock. So "of concurrent callers exactly one gets the code" holds across
  units exactly as it does across database sessions.

Revocation (:meth:`MemoryStorage.revoke_grant`) follows :mod:`frontdesk.store.revocation`
step by step, so the two agree on what each selector takes and what is counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from frontdesk import events
from frontdesk.oauth.models import (
    Client,
    CodeRecord,
    ConsumedCode,
    NewCode,
    NewToken,
    Person,
    SpaceRole,
    TokenInfo,
)
from frontdesk.oauth.storage import (
    DEVICE_APPROVED,
    DEVICE_DENIED,
    DEVICE_PENDING,
    DEVICE_USED,
    AppGrants,
    CodeGrant,
    DeviceAuthorization,
    DeviceDecision,
    FamilyGrant,
    GrantSelector,
    NewDeviceAuthorization,
    NewRefreshToken,
    PushedRequest,
    RefreshTokenRecord,
    RevokedGrant,
    Rotation,
    SigningKeyPair,
    SpaceAppGrant,
    Storage,
    TokenGrant,
    UserAppGrant,
)
from frontdesk.security.randoms import new_id
from frontdesk.store.key_storage import ALG, generate_key

# How long a unit of work waits for another one's write lock before the test fails (a unit
# that never commits or rolls back is a mistake in the test, not something to wait out).
LOCK_WAIT_SECONDS = 5.0
# As store/revocation.py: how many generations of derived tokens are followed.
MAX_DEPTH = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


def digest(raw: str) -> str:
    """What is stored instead of a token, code or client secret."""
    return hashlib.sha256(raw.encode()).hexdigest()


# ---- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientRow:
    client: Client
    secret_digest: str | None


@dataclass(frozen=True)
class CodeRow:
    digest: str
    code: CodeRecord
    created_at: datetime
    consumed_at: datetime | None = None


@dataclass(frozen=True)
class AccessRow:
    id: str
    digest: str
    token: NewToken
    created_at: datetime
    revoked_at: datetime | None = None

    def info(self) -> TokenInfo:
        t = self.token
        return TokenInfo(
            id=self.id,
            client_id=t.client_id,
            user_id=t.user_id,
            space_id=t.space_id,
            scopes=t.scopes,
            grant_type=t.grant_type,
            created_at=self.created_at,
            expires_at=t.expires_at,
            revoked=self.revoked_at is not None,
            issuer=t.issuer,
            family_id=t.family_id,
            audience=t.audience,
            dpop_jkt=t.dpop_jkt,
            act=t.act,
        )


@dataclass(frozen=True)
class RefreshRow:
    digest: str
    record: RefreshTokenRecord


@dataclass(frozen=True)
class SpaceRow:
    id: str
    subdomain: str
    owner_id: str


@dataclass(frozen=True)
class RecordedEvent:
    event: str
    user_id: str | None
    app_id: str | None
    space_id: str | None
    ip: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class DeviceRow:
    device_digest: str
    user_code_digest: str
    record: DeviceAuthorization


@dataclass
class State:
    """Everything stored; copied whole when a unit of work starts writing."""

    clients: dict[str, ClientRow] = field(default_factory=dict)
    codes: dict[str, CodeRow] = field(default_factory=dict)  # by id
    tokens: dict[str, AccessRow] = field(default_factory=dict)  # by id
    refresh: dict[str, RefreshRow] = field(default_factory=dict)  # by id
    consents: dict[tuple[str, str, str | None], tuple[str, ...]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    spaces: dict[str, SpaceRow] = field(default_factory=dict)
    roles: dict[tuple[str, str], str] = field(default_factory=dict)  # (space, user) -> role
    keys: list[SigningKeyPair] = field(default_factory=list)  # oldest first
    events: list[RecordedEvent] = field(default_factory=list)
    devices: dict[str, DeviceRow] = field(default_factory=dict)  # by id
    pushed: dict[str, PushedRequest] = field(default_factory=dict)  # by digest

    def copy(self) -> State:
        # Rows are frozen: copying the containers is enough.
        return State(
            clients=dict(self.clients),
            codes=dict(self.codes),
            tokens=dict(self.tokens),
            refresh=dict(self.refresh),
            consents=dict(self.consents),
            people=dict(self.people),
            spaces=dict(self.spaces),
            roles=dict(self.roles),
            keys=list(self.keys),
            events=list(self.events),
            devices=dict(self.devices),
            pushed=dict(self.pushed),
        )


class MemoryDatabase:
    """The committed state that units of work share, and the one write lock."""

    def __init__(self) -> None:
        self.committed = State()
        # note_token_use: written at once and never in anyone's transaction.
        self.token_uses: dict[str, datetime] = {}
        self._lock: asyncio.Lock | None = None

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:  # made inside the running loop
            self._lock = asyncio.Lock()
        return self._lock


class MemoryStorage:
    """One unit of work over a :class:`MemoryDatabase` (a new one unless given)."""

    def __init__(self, database: MemoryDatabase | None = None) -> None:
        self.database = database or MemoryDatabase()
        self._staged: State | None = None

    # ---- units of work ---------------------------------------------------------------------

    def unit(self) -> MemoryStorage:
        """Another unit of work over the same data (a second database session)."""
        return MemoryStorage(self.database)

    @property
    def _read(self) -> State:
        return self._staged if self._staged is not None else self.database.committed

    async def _write(self) -> State:
        if self._staged is None:
            try:
                await asyncio.wait_for(self.database.lock.acquire(), LOCK_WAIT_SECONDS)
            except TimeoutError:
                raise RuntimeError("another unit of work holds the write lock (not committed?)") from None
            # Copied after the lock: what a waiting writer sees includes the previous commit.
            self._staged = self.database.committed.copy()
        return self._staged

    @property
    def in_transaction(self) -> bool:
        return self._staged is not None

    async def commit(self) -> None:
        if self._staged is not None:
            self.database.committed, self._staged = self._staged, None
            self.database.lock.release()

    async def rollback(self) -> None:
        if self._staged is not None:
            self._staged = None
            self.database.lock.release()

    # ---- what the test sets up (staged like any write) ---------------------------------------

    async def add_person(self, email: str, name: str) -> Person:
        person = Person(id=new_id(), email=email, name=name, created_at=utcnow())
        (await self._write()).people[person.id] = person
        return person

    async def remove_person(self, user_id: str) -> None:
        (await self._write()).people.pop(user_id, None)

    async def add_client(self, client: Client, secret: str | None) -> None:
        (await self._write()).clients[client.client_id] = ClientRow(
            client, digest(secret) if secret is not None else None
        )

    async def add_space(self, subdomain: str, owner_id: str) -> str:
        """A space owned (and administered) by ``owner_id``; returns its id."""
        state = await self._write()
        space = SpaceRow(id=new_id(), subdomain=subdomain, owner_id=owner_id)
        state.spaces[space.id] = space
        state.roles[(space.id, owner_id)] = "admin"
        return space.id

    async def set_role(self, space_id: str, user_id: str, role: str | None) -> None:
        """Make the person a member or an admin of the space, or (None) take them out of it."""
        state = await self._write()
        if role is None:
            state.roles.pop((space_id, user_id), None)
        else:
            state.roles[(space_id, user_id)] = role

    async def remove_space(self, space_id: str) -> None:
        state = await self._write()
        state.spaces.pop(space_id, None)
        for key in [k for k in state.roles if k[0] == space_id]:
            del state.roles[key]

    @property
    def events(self) -> list[RecordedEvent]:
        """The committed audit log."""
        return list(self.database.committed.events)

    # ---- ClientStore -----------------------------------------------------------------------

    async def get_client(self, client_id: str) -> Client | None:
        row = self._read.clients.get(client_id)
        return row.client if row else None

    async def check_client_secret(self, client: Client, secret: str) -> bool:
        row = self._read.clients.get(client.client_id)
        stored = row.secret_digest if row else None
        presented = digest(secret)
        if stored is None:
            hmac.compare_digest(presented, presented)  # same work either way
            return False
        return hmac.compare_digest(stored, presented)

    # ---- CodeStore -------------------------------------------------------------------------

    async def save_code(self, raw: str, code: NewCode) -> None:
        state = await self._write()
        code_id = new_id()
        record = CodeRecord(**{f: getattr(code, f) for f in NewCode.__dataclass_fields__}, id=code_id)
        state.codes[code_id] = CodeRow(digest=digest(raw), code=record, created_at=utcnow())

    async def consume_code(self, raw: str) -> ConsumedCode:
        # Taking the write lock first makes check-and-mark one step (the conditional UPDATE).
        state = await self._write()
        wanted = digest(raw)
        row = next((r for r in state.codes.values() if r.digest == wanted), None)
        if row is None:
            return ConsumedCode(code=None)
        if row.consumed_at is not None:
            return ConsumedCode(code=None, replayed_code_id=row.code.id)
        state.codes[row.code.id] = replace(row, consumed_at=utcnow())
        return ConsumedCode(code=row.code)

    # ---- TokenStore ------------------------------------------------------------------------

    async def save_token(self, raw: str, token: NewToken) -> str:
        state = await self._write()
        row = AccessRow(id=new_id(), digest=digest(raw), token=token, created_at=utcnow())
        state.tokens[row.id] = row
        return row.id

    async def lookup_token(self, raw: str) -> TokenInfo | None:
        wanted = digest(raw)
        row = next((r for r in self._read.tokens.values() if r.digest == wanted), None)
        return row.info() if row else None

    def note_token_use(self, token_id: str) -> None:
        self.database.token_uses[token_id] = utcnow()

    # ---- GrantStore (as store/revocation.py) -------------------------------------------------

    async def revoke_grant(self, grant: GrantSelector, *, descendants: bool = False) -> RevokedGrant:
        state = await self._write()
        now = utcnow()
        token_ids, families, refresh_selected = self._select(state, grant)
        families |= self._families_of(state, token_ids)
        revoked = self._revoke_access(state, token_ids, families, now)
        refresh = self._revoke_refresh(state, families, now)
        for row_id in refresh_selected:
            refresh += self._revoke_refresh_row(state, row_id, now)
        if descendants:
            # From every token of the selection, revoked before or now.
            seen = token_ids | self._tokens_of_families(state, families)
            frontier = set(seen)
            for _ in range(MAX_DEPTH):
                children = {r.id for r in state.tokens.values() if r.token.parent_id in frontier} - seen
                if not children:
                    break
                child_families = self._families_of(state, children) - families
                families |= child_families
                revoked += self._revoke_access(state, children, child_families, now)
                refresh += self._revoke_refresh(state, child_families, now)
                frontier = children | self._tokens_of_families(state, child_families)
                seen |= frontier
        codes = consents = 0
        if isinstance(grant, UserAppGrant | AppGrants):
            # A code handed out just before must not turn into a token after this.
            user = grant.user_id if isinstance(grant, UserAppGrant) else None
            for code_id, row in list(state.codes.items()):
                code = row.code
                if code.client_id != grant.client_id or (user is not None and code.user_id != user):
                    continue
                if row.consumed_at is None and code.expires_at > now:
                    state.codes[code_id] = replace(row, code=replace(code, expires_at=now))
                    codes += 1
            for key in list(state.consents):
                if key[1] == grant.client_id and (user is None or key[0] == user):
                    del state.consents[key]
                    consents += 1
        return RevokedGrant(
            access_token_ids=tuple(dict.fromkeys(revoked)),
            refresh_tokens=refresh,
            codes=codes,
            consents=consents,
        )

    @staticmethod
    def _tokens_of_families(state: State, families: set[str]) -> set[str]:
        return {r.id for r in state.tokens.values() if r.token.family_id in families}

    @staticmethod
    def _select(state: State, grant: GrantSelector) -> tuple[set[str], set[str], set[str]]:
        """The access token ids and refresh families a selector names directly, and the refresh
        token ids it names directly (selectors by user or app)."""
        tokens = state.tokens.values()
        if isinstance(grant, TokenGrant):
            return {grant.token_id}, set(), set()
        if isinstance(grant, FamilyGrant):
            return set(), {grant.family_id}, set()
        if isinstance(grant, CodeGrant):
            ids = {r.id for r in tokens if r.token.code_id == grant.code_id}
            families = {
                r.record.family_id for r in state.refresh.values() if r.record.code_id == grant.code_id
            }
            return ids, families, set()
        if isinstance(grant, UserAppGrant):
            ids = {
                r.id
                for r in tokens
                if r.token.user_id == grant.user_id
                and r.token.client_id == grant.client_id
                and r.token.space_id is None
                and r.revoked_at is None
            }
            refresh = {
                rid
                for rid, r in state.refresh.items()
                if r.record.user_id == grant.user_id
                and r.record.client_id == grant.client_id
                and r.record.space_id is None
            }
            return ids, set(), refresh
        if isinstance(grant, SpaceAppGrant):
            ids = {
                r.id
                for r in tokens
                if r.token.space_id == grant.space_id
                and r.token.client_id == grant.client_id
                and r.revoked_at is None
            }
            return ids, set(), set()
        if isinstance(grant, AppGrants):
            ids = {r.id for r in tokens if r.token.client_id == grant.client_id and r.revoked_at is None}
            refresh = {rid for rid, r in state.refresh.items() if r.record.client_id == grant.client_id}
            return ids, set(), refresh
        raise TypeError(f"not a grant selector: {grant!r}")

    @staticmethod
    def _families_of(state: State, token_ids: set[str]) -> set[str]:
        return {
            row.token.family_id
            for tid in token_ids
            if (row := state.tokens.get(tid)) is not None and row.token.family_id is not None
        }

    @staticmethod
    def _revoke_access(state: State, token_ids: set[str], families: set[str], now: datetime) -> list[str]:
        revoked: list[str] = []
        for tid, row in list(state.tokens.items()):
            if row.revoked_at is None and (tid in token_ids or row.token.family_id in families):
                state.tokens[tid] = replace(row, revoked_at=now)
                revoked.append(tid)
        return revoked

    @staticmethod
    def _revoke_refresh(state: State, families: set[str], now: datetime) -> int:
        count = 0
        for rid, row in list(state.refresh.items()):
            if row.record.family_id in families and row.record.revoked_at is None:
                state.refresh[rid] = replace(row, record=replace(row.record, revoked_at=now))
                count += 1
        return count

    @staticmethod
    def _revoke_refresh_row(state: State, row_id: str, now: datetime) -> int:
        row = state.refresh[row_id]
        if row.record.revoked_at is not None:
            return 0
        state.refresh[row_id] = replace(row, record=replace(row.record, revoked_at=now))
        return 1

    # ---- ConsentStore ----------------------------------------------------------------------

    async def granted_scopes(self, user_id: str, client_id: str, space_id: str | None) -> frozenset[str]:
        return frozenset(self._read.consents.get((user_id, client_id, space_id), ()))

    async def remember_consent(
        self, user_id: str, client_id: str, space_id: str | None, scopes: tuple[str, ...]
    ) -> None:
        state = await self._write()
        key = (user_id, client_id, space_id)
        state.consents[key] = tuple(dict.fromkeys([*state.consents.get(key, ()), *scopes]))

    # ---- PushedRequestStore ----------------------------------------------------------------

    async def save_pushed_request(self, raw: str, pushed: PushedRequest) -> None:
        state = await self._write()
        state.pushed[digest(raw)] = pushed

    async def find_pushed_request(self, raw: str) -> PushedRequest | None:
        return self._read.pushed.get(digest(raw))

    async def open_pushed_request(self, raw: str, until: datetime) -> None:
        state = await self._write()
        row = state.pushed.get(digest(raw))
        if row is not None and row.opened_at is None:
            state.pushed[digest(raw)] = replace(row, opened_at=utcnow(), expires_at=until)

    async def use_pushed_request(self, raw: str, now: datetime) -> bool:
        # Taking the write lock first makes check-and-mark one step (the conditional UPDATE).
        state = await self._write()
        row = state.pushed.get(digest(raw))
        if row is None or row.used_at is not None:
            return False
        state.pushed[digest(raw)] = replace(row, used_at=now)
        return True

    # ---- DeviceStore -----------------------------------------------------------------------

    async def save_device_authorization(
        self, device_code: str, user_code: str, new: NewDeviceAuthorization, now: datetime
    ) -> bool:
        state = await self._write()
        code_digest = digest("device-user-code|" + user_code)
        live = (r for r in state.devices.values() if r.record.expires_at > now)
        if any(r.user_code_digest == code_digest for r in live):
            return False
        record = DeviceAuthorization(
            **{f: getattr(new, f) for f in NewDeviceAuthorization.__dataclass_fields__},
            id=new_id(),
            created_at=now,
        )
        state.devices[record.id] = DeviceRow(digest(device_code), code_digest, record)
        return True

    async def find_device_by_user_code(self, user_code: str, issuer: str) -> DeviceAuthorization | None:
        code_digest = digest("device-user-code|" + user_code)
        found = [
            r.record
            for r in self._read.devices.values()
            if r.user_code_digest == code_digest and r.record.issuer == issuer
        ]
        return max(found, key=lambda r: r.created_at or datetime.min.replace(tzinfo=UTC), default=None)

    async def decide_device(self, authorization_id: str, decision: DeviceDecision, now: datetime) -> bool:
        state = await self._write()
        row = state.devices.get(authorization_id)
        if row is None or row.record.status != DEVICE_PENDING or row.record.expires_at <= now:
            return False
        record = replace(
            row.record,
            status=DEVICE_APPROVED if decision.approved else DEVICE_DENIED,
            user_id=decision.user_id,
            auth_time=decision.auth_time,
            amr=decision.amr,
            sid=decision.sid,
        )
        state.devices[authorization_id] = replace(row, record=record)
        return True

    async def poll_device(self, device_code: str, now: datetime) -> DeviceAuthorization | None:
        state = await self._write()
        wanted = digest(device_code)
        row = next((r for r in state.devices.values() if r.device_digest == wanted), None)
        if row is None:
            return None
        state.devices[row.record.id] = replace(row, record=replace(row.record, last_polled_at=now))
        return row.record

    async def slow_device(self, authorization_id: str, interval: int) -> None:
        state = await self._write()
        row = state.devices[authorization_id]
        state.devices[authorization_id] = replace(row, record=replace(row.record, interval=interval))

    async def redeem_device(self, authorization_id: str) -> bool:
        state = await self._write()
        row = state.devices.get(authorization_id)
        if row is None or row.record.status != DEVICE_APPROVED:
            return False
        state.devices[authorization_id] = replace(row, record=replace(row.record, status=DEVICE_USED))
        return True

    # ---- RefreshStore ----------------------------------------------------------------------

    async def save_refresh_token(self, raw: str, token: NewRefreshToken) -> str:
        state = await self._write()
        record = RefreshTokenRecord(
            id=new_id(),
            family_id=token.family_id,
            client_id=token.client_id,
            user_id=token.user_id,
            scopes=token.scopes,
            created_at=utcnow(),
            space_id=token.space_id,
            issuer=token.issuer,
            code_id=token.code_id,
            access_token_id=token.access_token_id,
            expires_at=token.expires_at,
            audience=token.audience,
            dpop_jkt=token.dpop_jkt,
        )
        state.refresh[record.id] = RefreshRow(digest=digest(raw), record=record)
        return record.id

    async def assign_token_family(self, token_id: str, family_id: str) -> None:
        state = await self._write()
        row = state.tokens.get(token_id)
        if row is not None:
            state.tokens[token_id] = replace(row, token=replace(row.token, family_id=family_id))

    async def rotate_refresh_token(self, raw: str, client_id: str, now: datetime) -> Rotation:
        # The write lock first: check-and-mark is one step (the conditional UPDATE).
        state = await self._write()
        row = self._refresh_row(state, raw)
        if row is None:
            return Rotation()
        record = row.record
        if record.client_id != client_id or not record.active(now):
            return Rotation(found=record)
        rotated = replace(record, rotated_at=now)
        state.refresh[record.id] = replace(row, record=rotated)
        return Rotation(rotated=self._with_origin(state, rotated))

    async def find_refresh_token(self, raw: str) -> RefreshTokenRecord | None:
        row = self._refresh_row(self._read, raw)
        return row.record if row else None

    @staticmethod
    def _refresh_row(state: State, raw: str) -> RefreshRow | None:
        wanted = digest(raw)
        return next((r for r in state.refresh.values() if r.digest == wanted), None)

    @staticmethod
    def _with_origin(state: State, record: RefreshTokenRecord) -> RefreshTokenRecord:
        """What the family started from: the code's ``auth_time`` and space, or (password
        grant) the family's first token's time (as RefreshStorageMixin._record)."""
        if record.code_id is not None:
            code = state.codes.get(record.code_id)
            if code is None:
                return record
            return replace(
                record, auth_time=code.code.auth_time, auth_space_id=code.code.space_id, sid=code.code.sid
            )
        started = min(
            r.record.created_at for r in state.refresh.values() if r.record.family_id == record.family_id
        )
        return replace(record, auth_time=started)

    # ---- KeyStore --------------------------------------------------------------------------

    async def signing_key(self) -> SigningKeyPair:
        if self._read.keys:
            return self._read.keys[-1]
        # First use: created in this unit of work, committed with the token it signs.
        key = await asyncio.to_thread(generate_key)
        assert key.kid is not None
        pair = SigningKeyPair(kid=key.kid, alg=ALG, private_key=key)
        (await self._write()).keys.append(pair)
        return pair

    # ---- PersonStore -----------------------------------------------------------------------

    async def person(self, user_id: str) -> Person | None:
        found = self._read.people.get(user_id)
        # As the SQL storage: who the person is, not when they signed up.
        return Person(id=found.id, email=found.email, name=found.name) if found else None

    async def space_role(self, space_id: str, user_id: str) -> SpaceRole | None:
        state = self._read
        space = state.spaces.get(space_id)
        if space is None:
            return None
        return SpaceRole(id=space.id, subdomain=space.subdomain, role=state.roles.get((space_id, user_id)))

    async def acting_person(self, token: TokenInfo) -> Person | None:
        if token.user_id is None:  # client_credentials
            return None
        if token.space_id is None:
            return await self.person(token.user_id)
        space = self._read.spaces.get(token.space_id)
        if space is None:
            return None
        if self._read.roles.get((space.id, token.user_id)) == "admin":
            return await self.person(token.user_id)
        return await self.person(space.owner_id)

    # ---- EventStore ------------------------------------------------------------------------

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
        events.check(event, detail)
        (await self._write()).events.append(
            RecordedEvent(event, user_id, app_id, space_id, (ip or "")[:45], dict(detail or {}))
        )


if TYPE_CHECKING:
    # mypy holds the memory storage to the whole interface, structurally.
    _: Storage = MemoryStorage()
