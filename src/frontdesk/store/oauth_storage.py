"""SQL implementation of :mod:`frontdesk.oauth.storage` on one database session."""

from __future__ import annotations

import hmac
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth.models import Client, CodeRecord, ConsumedCode, NewCode, NewToken, TokenInfo
from frontdesk.oauth.scopes import format_scope, parse_scope
from frontdesk.security.keyring import Keyring
from frontdesk.security.randoms import new_id
from frontdesk.store.audit_storage import EventStorageMixin
from frontdesk.store.cache import APPS, CONSENTS, TOKENS, read_through
from frontdesk.store.key_storage import KeyStorageMixin
from frontdesk.store.models import AccessToken, App, AuthorizationCode, Consent, User
from frontdesk.store.refresh_storage import RefreshStorageMixin
from frontdesk.store.types import utcnow

CODES = cast(Table, AuthorizationCode.__table__)
TOKENS_TABLE = cast(Table, AccessToken.__table__)

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
    )


def token_info(row: AccessToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        client_id=row.app_id,
        user_id=row.user_id,
        space_id=row.space_id,
        scopes=parse_scope(row.scope),
        grant_type=row.grant_type,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
        issuer=row.issuer,
        family_id=row.family_id,
        last_used_at=row.last_used_at,
    )


class SqlStorage(RefreshStorageMixin, KeyStorageMixin, EventStorageMixin):
    def __init__(self, db: AsyncSession, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring

    async def commit(self) -> None:
        await self.db.commit()

    # ---- clients ---------------------------------------------------------------------------

    async def _client_entry(self, client_id: str) -> tuple[Client, str | None] | None:
        """The client and its secret digest, cached per worker (invalidated on app changes)."""

        async def load() -> tuple[Client, str | None] | None:
            row = (await self.db.execute(LOAD_CLIENT, {"client_id": client_id})).first()
            return (client_from_row(row[0], row[1]), row[0].secret_digest) if row else None

        return await read_through(self.db, APPS, client_id, load)  # type: ignore[no-any-return]

    async def get_client(self, client_id: str) -> Client | None:
        if not client_id or len(client_id) > 64:
            return None
        entry = await self._client_entry(client_id)
        return entry[0] if entry else None

    async def check_client_secret(self, client: Client, secret: str) -> bool:
        entry = await self._client_entry(client.client_id)
        stored = entry[1] if entry else None
        presented = self.keyring.digest(secret)
        if stored is None:
            hmac.compare_digest(presented, presented)  # same work either way
            return False
        return hmac.compare_digest(stored, presented)

    # ---- codes -----------------------------------------------------------------------------

    # Hot writes use plain INSERT statements rather than the unit of work: a code or token
    # row is written once and never read back in the same session.

    async def save_code(self, raw: str, code: NewCode) -> None:
        await self.db.execute(
            INSERT_CODE,
            {
                "id": new_id(),
                "digest": self.keyring.digest(raw),
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
                "auth_time": code.auth_time,
                "expires_at": code.expires_at,
                "created_at": utcnow(),
            },
        )

    async def consume_code(self, raw: str) -> ConsumedCode:
        digest = self.keyring.digest(raw)
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

    async def revoke_tokens_of_code(self, code_id: str) -> int:
        # The refresh token families the code started go too, with every token refreshed
        # from them (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
        families = await self.revoke_refresh_families_of_code(code_id)
        result = await self.db.execute(
            update(AccessToken)
            .where(AccessToken.code_id == code_id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return families + int(result.rowcount or 0)  # type: ignore[attr-defined]

    # ---- tokens ----------------------------------------------------------------------------

    async def save_token(self, raw: str, token: NewToken) -> str:
        token_id = new_id()
        await self.db.execute(
            INSERT_TOKEN,
            {
                "id": token_id,
                "digest": self.keyring.digest(raw),
                "app_id": token.client_id,
                "user_id": token.user_id,
                "space_id": token.space_id,
                "scope": format_scope(token.scopes),
                "grant_type": token.grant_type,
                "code_id": token.code_id,
                "parent_id": token.parent_id,
                "family_id": token.family_id,
                "issuer": token.issuer,
                "expires_at": token.expires_at,
                "sealed": self.keyring.encrypt(raw, f"token:{token_id}") if token.keep_sealed else None,
                "created_at": utcnow(),
            },
        )
        return token_id

    async def lookup_token(self, raw: str) -> TokenInfo | None:
        """One indexed lookup by digest, cached per worker; revocations anywhere invalidate
        the cache on every worker within a second (see :mod:`frontdesk.store.cache`)."""
        digest = self.keyring.digest(raw)

        async def load() -> TokenInfo | None:
            row = (await self.db.execute(LOAD_TOKEN, {"digest": digest})).scalar_one_or_none()
            return token_info(row) if row else None

        return await read_through(self.db, TOKENS, digest, load, keep_none=False)  # type: ignore[no-any-return]

    async def revoke_token(self, token_id: str) -> None:
        await self.db.execute(
            update(AccessToken)
            .where(AccessToken.id == token_id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    # ---- consent ---------------------------------------------------------------------------

    async def _consent(self, user_id: str, client_id: str, space_id: str | None) -> Consent | None:
        stmt = select(Consent).where(
            Consent.user_id == user_id,
            Consent.app_id == client_id,
            Consent.space_id.is_(None) if space_id is None else Consent.space_id == space_id,
        )
        return (await self.db.execute(stmt)).scalars().first()

    async def granted_scopes(self, user_id: str, client_id: str, space_id: str | None) -> frozenset[str]:

        async def load() -> frozenset[str]:
            consent = await self._consent(user_id, client_id, space_id)
            return frozenset(parse_scope(consent.scope)) if consent else frozenset()

        key = (user_id, client_id, space_id)
        return await read_through(self.db, CONSENTS, key, load)  # type: ignore[no-any-return]

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
    )
