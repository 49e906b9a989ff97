"""The SQL storage: :mod:`frontdesk.oauth.storage`'s protocols and the browser sessions and
memberships the pages and the API read, over one database session.

It reads and stages writes; it never commits (the unit of work does, see
:mod:`frontdesk.store.unit_of_work`). The server wraps it in
:class:`frontdesk.store.caching.CachingStorage`; services and the CLI use it directly.
"""

from __future__ import annotations

import hmac
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth import amr
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
from frontdesk.oauth.scopes import format_scope, parse_scope
from frontdesk.oauth.storage import GrantSelector, RevokedGrant
from frontdesk.records import MembershipRecord, NewSession, SessionRecord, SpaceRef
from frontdesk.security.randoms import new_id
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store import audit_storage, revocation, session_apps
from frontdesk.store.deferred import defer_insert
from frontdesk.store.device_storage import DeviceStorageMixin
from frontdesk.store.key_storage import KeyStorageMixin
from frontdesk.store.models import (
    AccessToken,
    App,
    AuthorizationCode,
    Consent,
    LoginSession,
    Membership,
    Space,
    User,
)
from frontdesk.store.pushed_requests import PushedRequestStorageMixin
from frontdesk.store.refresh_storage import RefreshStorageMixin
from frontdesk.store.types import utcnow

CODES = cast(Table, AuthorizationCode.__table__)
TOKENS_TABLE = cast(Table, AccessToken.__table__)
SESSIONS_TABLE = cast(Table, LoginSession.__table__)

# Writes that make no cached read stale (the time a token or session was last used).
NO_INVALIDATION = {"frontdesk_no_invalidation": True}

# The statements of every authorization-code flow, built once: values travel as execution
# parameters, so a flow spends no time building expressions or computing their cache keys.
LOAD_CLIENT = (
    select(App, User.name).join(User, User.id == App.owner_id).where(App.client_id == bindparam("client_id"))
)
LOAD_TOKEN = select(AccessToken).where(AccessToken.digest == bindparam("digest"))
INSERT_CODE = insert(CODES)
INSERT_TOKEN = insert(TOKENS_TABLE)
# A conditional UPDATE is the lock: on PostgreSQL the second of two concurrent updates waits
# for the row and then sees consumed_at set; on SQLite writers serialise.
CONSUME_CODE = (
    update(CODES)
    .where(CODES.c.digest == bindparam("code_digest"), CODES.c.consumed_at.is_(None))
    .values(consumed_at=bindparam("now"))
    .returning(*CODES.c)
)
LOAD_PERSON = select(
    User.id, User.email, User.name, User.created_at, User.picture_url, User.email_verified_at, User.locale
).where(User.id == bindparam("user_id"))
LOAD_SESSION = select(LoginSession).where(LoginSession.id == bindparam("session_id"))
TOUCH_SESSION = (
    update(SESSIONS_TABLE)
    .where(SESSIONS_TABLE.c.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("now"))
)


def client_from_row(app: App, owner_name: str = "") -> Client:
    return Client(
        client_id=app.client_id,
        name=app.name,
        name_in_space=app.name_in_space,
        owner_id=app.owner_id,
        owner_name=owner_name,
        main_url=app.main_url,
        redirect_uris=tuple(app.redirect_uris or ()),
        scopes=parse_scope(app.scopes),
        password_grant=app.password_grant,
        public=app.public,
        allow_redirect_query=app.allow_redirect_query,
        trusted=app.trusted,
        require_pkce=app.require_pkce,
        access_token_ttl=app.access_token_ttl,
        can_introspect=app.can_introspect,
        client_credentials=app.client_credentials,
        admin_scopes=parse_scope(app.admin_scopes),
        jwt_access_tokens=app.jwt_access_tokens,
        dpop_required=app.dpop_required,
        par_required=app.par_required,
        post_logout_redirect_uris=tuple(app.post_logout_redirect_uris or ()),
        backchannel_logout_uri=app.backchannel_logout_uri,
        token_endpoint_auth_method=app.token_endpoint_auth_method,
        jwks=app.jwks,
        jwks_uri=app.jwks_uri,
        profile=app.profile,
        registered_via=app.registered_via,
        created_at=app.created_at,
    )


def _shared(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)


def token_info(row: AccessToken) -> TokenInfo:
    """The token as the caches keep it (store/caching.py holds up to 100,000 per worker): the
    values many tokens repeat (app, person, space, scopes, grant type, issuer, audience) are
    interned, so each is one string in memory instead of a copy per token (1,299 → 903 bytes
    a cached token, docs/performance.md, "Memory")."""
    return TokenInfo(
        id=row.id,
        client_id=sys.intern(row.app_id),
        user_id=_shared(row.user_id),
        space_id=_shared(row.space_id),
        scopes=tuple(sys.intern(scope) for scope in parse_scope(row.scope)),
        grant_type=sys.intern(row.grant_type),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
        issuer=_shared(row.issuer),
        family_id=row.family_id,
        last_used_at=row.last_used_at,
        audience=_shared(row.audience),
        dpop_jkt=row.dpop_jkt,
        act=row.act,
    )


def person_of(user: User) -> Person:
    return Person(
        id=user.id,
        email=user.email,
        name=user.name,
        created_at=user.created_at,
        picture_url=user.picture_url,
        email_verified=user.email_verified_at is not None,
        locale=user.locale,
    )


def space_of(space: Space) -> SpaceRef:
    return SpaceRef(
        id=space.id,
        subdomain=space.subdomain,
        name=space.name,
        custom_domain=space.custom_domain,
        owner_id=space.owner_id,
        require_admin_second_factor=bool(space.require_admin_second_factor),
    )


def session_of(row: LoginSession) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        host=row.host,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
        revoked_at=row.revoked_at,
        reauthenticated_at=row.reauthenticated_at,
        data=dict(row.data or {}),
        public_id=row.public_id,
        amr=amr.decode(row.amr) or (amr.PASSWORD,),
        authenticated_at=row.authenticated_at,
        pending_factor=bool(row.pending_factor),
    )


def membership_record(membership: Membership, space: Space, user: User) -> MembershipRecord:
    return MembershipRecord(
        id=membership.id,
        role=membership.role,
        admin_name=membership.admin_name,
        space=space_of(space),
        user=person_of(user),
        created_at=membership.created_at,
        confirmed_at=membership.confirmed_at,
        canceled_to=membership.canceled_to,
    )


@dataclass(frozen=True, slots=True)
class ClientEntry:
    """A client and the digest of its secret (None for public clients)."""

    client: Client
    secret_digest: str | None
    # After a rotation with an overlap window: the previous secret, valid until then.
    previous_digest: str | None = None
    previous_expires_at: datetime | None = None


class ClientReads:
    """:class:`frontdesk.oauth.storage.ClientStore` in terms of ``client_entry`` (one read
    that also yields the secret's digest): shared by the SQL storage and the caching layer."""

    server_secret: ServerSecret

    async def client_entry(self, client_id: str) -> ClientEntry | None:
        raise NotImplementedError

    async def get_client(self, client_id: str) -> Client | None:
        entry = await self.client_entry(client_id)
        return entry.client if entry else None

    async def check_client_secret(self, client: Client, secret: str) -> bool:
        return secret_matches(self.server_secret, await self.client_entry(client.client_id), secret)


def secret_matches(server_secret: ServerSecret, entry: ClientEntry | None, secret: str) -> bool:
    """Constant-time comparison of a presented client secret with the stored digest."""
    stored = entry.secret_digest if entry else None
    presented = server_secret.digest(secret)
    if stored is None:
        hmac.compare_digest(presented, presented)  # same work either way
        return False
    assert entry is not None
    current = hmac.compare_digest(stored, presented)
    # The previous secret of a rotation with an overlap window (services/apps.rotate_secret)
    # works until the window closes.
    previous, until = entry.previous_digest, entry.previous_expires_at
    if previous is None or until is None or until <= utcnow():
        return current
    return hmac.compare_digest(previous, presented) or current


class SqlStorage(
    ClientReads, RefreshStorageMixin, KeyStorageMixin, PushedRequestStorageMixin, DeviceStorageMixin
):
    def __init__(self, db: AsyncSession, server_secret: ServerSecret) -> None:
        self.db = db
        self.server_secret = server_secret

    # ---- clients ---------------------------------------------------------------------------

    async def client_entry(self, client_id: str) -> ClientEntry | None:
        """The client and its secret digest (one indexed read)."""
        if not client_id or len(client_id) > 64:
            return None
        row = (await self.db.execute(LOAD_CLIENT, {"client_id": client_id})).first()
        if not row:
            return None
        app = row[0]
        return ClientEntry(
            client_from_row(app, row[1]),
            app.secret_digest,
            app.previous_secret_digest,
            app.previous_secret_expires_at,
        )

    # ---- codes -----------------------------------------------------------------------------

    # A code or token row is written once and read back by nobody in the same unit of work:
    # its INSERT is deferred (sent with the next statement or the commit, see
    # frontdesk.store.deferred).

    async def save_code(self, raw: str, code: NewCode) -> None:
        defer_insert(
            self.db,
            INSERT_CODE,
            {
                "id": new_id(),
                "digest": self.server_secret.digest(raw),
                "app_id": code.client_id,
                "user_id": code.user_id,
                "space_id": code.space_id,
                "issuer": code.issuer,
                "redirect_uri": code.redirect_uri,
                "redirect_uri_sent": code.redirect_uri_sent,
                "scope": format_scope(code.scopes),
                "code_challenge": code.code_challenge,
                "code_challenge_method": code.code_challenge_method,
                "nonce": code.nonce,
                "resource": code.resource,
                "auth_time": code.auth_time,
                "expires_at": code.expires_at,
                "created_at": utcnow(),
                "sid": code.sid,
                "amr": amr.encode(code.amr) or None,
                "dpop_jkt": code.dpop_jkt,
            },
        )

    async def consume_code(self, raw: str) -> ConsumedCode:
        digest = self.server_secret.digest(raw)
        result = await self.db.execute(CONSUME_CODE, {"code_digest": digest, "now": utcnow()})
        row = result.mappings().one_or_none()
        if row is not None:
            return ConsumedCode(code=_code_record(row))
        known = (
            await self.db.execute(select(AuthorizationCode.id).where(AuthorizationCode.digest == digest))
        ).scalar_one_or_none()
        if known is None:
            return ConsumedCode(code=None)
        return ConsumedCode(code=None, replayed_code_id=known)

    # ---- tokens ----------------------------------------------------------------------------

    async def save_token(self, raw: str, token: NewToken) -> str:
        token_id = new_id()
        defer_insert(
            self.db,
            INSERT_TOKEN,
            {
                "id": token_id,
                "digest": self.server_secret.digest(raw),
                "app_id": token.client_id,
                "user_id": token.user_id,
                "space_id": token.space_id,
                "scope": format_scope(token.scopes),
                "grant_type": token.grant_type,
                "code_id": token.code_id,
                "parent_id": token.parent_id,
                "family_id": token.family_id,
                "issuer": token.issuer,
                "audience": token.audience,
                "dpop_jkt": token.dpop_jkt,
                "act": token.act,
                "expires_at": token.expires_at,
                "sealed": self.server_secret.encrypt(raw, f"token:{token_id}") if token.keep_sealed else None,
                "created_at": utcnow(),
            },
        )
        return token_id

    async def lookup_token(self, raw: str) -> TokenInfo | None:
        return await self.token_by_digest(self.server_secret.digest(raw))

    async def token_by_digest(self, digest: str) -> TokenInfo | None:
        row = (await self.db.execute(LOAD_TOKEN, {"digest": digest})).scalar_one_or_none()
        return token_info(row) if row else None

    def note_token_use(self, token_id: str) -> None:
        """Without a batching layer around it, nothing is recorded: the server's
        :class:`frontdesk.store.caching.CachingStorage` writes ``last_used_at`` in batches."""

    async def mark_tokens_used(self, token_ids: list[str], when: datetime) -> None:
        for start in range(0, len(token_ids), 500):
            await self.db.execute(
                update(AccessToken)
                .where(AccessToken.id.in_(token_ids[start : start + 500]))
                .values(last_used_at=when),
                execution_options=NO_INVALIDATION,
            )

    async def revoke_grant(self, grant: GrantSelector, *, descendants: bool = False) -> RevokedGrant:
        return await revocation.revoke_grant(self.db, grant, descendants=descendants)

    # ---- consent ---------------------------------------------------------------------------

    async def _consent(self, user_id: str, client_id: str, space_id: str | None) -> Consent | None:
        stmt = select(Consent).where(
            Consent.user_id == user_id,
            Consent.app_id == client_id,
            Consent.space_id.is_(None) if space_id is None else Consent.space_id == space_id,
        )
        return (await self.db.execute(stmt)).scalars().first()

    async def granted_scopes(self, user_id: str, client_id: str, space_id: str | None) -> frozenset[str]:
        consent = await self._consent(user_id, client_id, space_id)
        return frozenset(parse_scope(consent.scope)) if consent else frozenset()

    async def remember_consent(
        self, user_id: str, client_id: str, space_id: str | None, scopes: tuple[str, ...]
    ) -> None:
        consent = await self._consent(user_id, client_id, space_id)
        if consent is None:
            self.db.add(
                Consent(user_id=user_id, app_id=client_id, space_id=space_id, scope=format_scope(scopes))
            )
        else:
            merged = dict.fromkeys([*parse_scope(consent.scope), *scopes])
            consent.scope = format_scope(merged)
        await self.db.flush()

    # ---- people and spaces -----------------------------------------------------------------

    async def person(self, user_id: str) -> Person | None:
        row = (await self.db.execute(LOAD_PERSON, {"user_id": user_id})).first()
        if row is None:
            return None
        return Person(
            id=row[0],
            email=row[1],
            name=row[2],
            created_at=row[3],
            picture_url=row[4],
            email_verified=row[5] is not None,
            locale=row[6],
        )

    async def space_role(self, space_id: str, user_id: str) -> SpaceRole | None:
        row = (
            await self.db.execute(
                select(Space.id, Space.subdomain, Membership.role)
                .outerjoin(Membership, (Membership.space_id == Space.id) & (Membership.user_id == user_id))
                .where(Space.id == space_id)
            )
        ).first()
        return SpaceRole(id=row[0], subdomain=row[1], role=row[2]) if row else None

    async def acting_person(self, token: TokenInfo) -> Person | None:
        if token.user_id is None:  # a client_credentials token acts for no person
            return None
        if token.space_id is None:
            return await self.person(token.user_id)
        space = (await self.db.execute(select(Space.owner_id).where(Space.id == token.space_id))).first()
        if space is None:
            return None
        role = await self.space_role(token.space_id, token.user_id)
        if role is not None and role.role == "admin":
            return await self.person(token.user_id)
        return await self.person(space[0])

    async def space_by_host(self, by: str, value: str) -> SpaceRef | None:
        """The space a host names: ``by`` is ``"subdomain"`` (a label under the base domain)
        or ``"domain"`` (a custom domain)."""
        column = Space.subdomain if by == "subdomain" else Space.custom_domain
        row = (await self.db.execute(select(Space).where(column == value))).scalar_one_or_none()
        return space_of(row) if row is not None else None

    async def memberships_of(self, user_id: str) -> tuple[MembershipRecord, ...]:
        """Every membership of the person, by space subdomain (what ``/api/user`` lists)."""
        rows = (
            await self.db.execute(
                select(Membership, Space, User)
                .join(Space, Space.id == Membership.space_id)
                .join(User, User.id == Membership.user_id)
                .where(Membership.user_id == user_id)
                .order_by(Space.subdomain)
            )
        ).all()
        return tuple(membership_record(m, space, user) for m, space, user in rows)

    # ---- browser sessions ------------------------------------------------------------------

    async def find_session(self, session_id: str) -> SessionRecord | None:
        row = (await self.db.execute(LOAD_SESSION, {"session_id": session_id})).scalar_one_or_none()
        return session_of(row) if row is not None else None

    async def start_session(self, new: NewSession) -> None:
        self.db.add(
            LoginSession(
                id=new.id,
                user_id=new.user_id,
                host=new.host,
                created_at=new.created_at,
                last_seen_at=new.created_at,
                expires_at=new.expires_at,
                user_agent=new.user_agent[:300],
                ip=new.ip[:45],
                public_id=new_id(),
                amr=amr.encode(new.amr),
                authenticated_at=new.created_at,
                pending_factor=new.pending_factor,
            )
        )
        await self.db.flush()

    async def touch_session(self, session_id: str, now: datetime) -> None:
        await self.db.execute(
            TOUCH_SESSION, {"session_id": session_id, "now": now}, execution_options=NO_INVALIDATION
        )

    # Every end of a session queues its back-channel logout notices (store/session_apps.py).
    async def end_session(self, session_id: str) -> None:
        await session_apps.end_sessions(self.db, self.server_secret, LoginSession.id == session_id)

    async def end_sessions_of(self, user_id: str) -> int:
        return await session_apps.end_sessions(self.db, self.server_secret, LoginSession.user_id == user_id)

    async def update_session(
        self,
        session_id: str,
        *,
        data: dict[str, Any] | None = None,
        reauthenticated_at: datetime | None = None,
        login_methods: tuple[str, ...] | None = None,
        authenticated_at: datetime | None = None,
    ) -> None:
        """Change a session's server-side state, the time its password was confirmed, or
        (a second factor confirmed in it) how and when its login was made."""
        values: dict[str, Any] = {}
        if login_methods is not None:
            values["amr"] = amr.encode(login_methods)
        if authenticated_at is not None:
            values["authenticated_at"] = authenticated_at
        if data is not None:
            values["data"] = data
        if reauthenticated_at is not None:
            values["reauthenticated_at"] = reauthenticated_at
        if values:
            await self.db.execute(update(LoginSession).where(LoginSession.id == session_id).values(**values))

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
        await audit_storage.record_event(
            self.db, event, user_id=user_id, app_id=app_id, space_id=space_id, ip=ip, detail=detail
        )


def _code_record(row: Any) -> CodeRecord:
    """A code from a row mapping of ``authorization_codes``."""
    return CodeRecord(
        id=row["id"],
        client_id=row["app_id"],
        user_id=row["user_id"],
        space_id=row["space_id"],
        issuer=row["issuer"],
        redirect_uri=row["redirect_uri"],
        redirect_uri_sent=row["redirect_uri_sent"],
        scopes=parse_scope(row["scope"]),
        code_challenge=row["code_challenge"],
        code_challenge_method=row["code_challenge_method"],
        nonce=row["nonce"],
        auth_time=row["auth_time"],
        expires_at=row["expires_at"],
        resource=row["resource"],
        sid=row["sid"],
        amr=amr.decode(row["amr"]),
        dpop_jkt=row["dpop_jkt"],
    )
