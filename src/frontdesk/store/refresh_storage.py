"""SQL storage for :class:`frontdesk.oauth.storage.RefreshStore`.

Refresh tokens are stored as HMAC digests, like access tokens. Rotation is one conditional
``UPDATE … WHERE rotated_at IS NULL AND revoked_at IS NULL … RETURNING`` (the lock, as in
:meth:`SqlStorage.consume_code`): on PostgreSQL a second concurrent update waits for the row
and then no longer matches; on SQLite writers serialise.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth import amr
from frontdesk.oauth.scopes import format_scope, parse_scope
from frontdesk.oauth.storage import NewRefreshToken, RefreshTokenRecord, Rotation
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.models import AccessToken, AuthorizationCode, RefreshToken


class RefreshStorageMixin:
    """Refresh tokens (rotation, families, reuse detection):
    mixed into :class:`frontdesk.store.sql_storage.SqlStorage`."""

    db: AsyncSession
    server_secret: ServerSecret

    async def save_refresh_token(self, raw: str, token: NewRefreshToken) -> str:
        row = RefreshToken(
            digest=self.server_secret.digest(raw),
            family_id=token.family_id,
            app_id=token.client_id,
            user_id=token.user_id,
            space_id=token.space_id,
            scope=format_scope(token.scopes),
            issuer=token.issuer,
            audience=token.audience,
            dpop_jkt=token.dpop_jkt,
            code_id=token.code_id,
            access_token_id=token.access_token_id,
            expires_at=token.expires_at,
        )
        self.db.add(row)
        await self.db.flush()
        return row.id

    async def assign_token_family(self, token_id: str, family_id: str) -> None:
        await self.db.execute(
            update(AccessToken).where(AccessToken.id == token_id).values(family_id=family_id)
        )

    async def rotate_refresh_token(self, raw: str, client_id: str, now: datetime) -> Rotation:
        digest = self.server_secret.digest(raw)
        result = await self.db.execute(
            update(RefreshToken)
            .where(
                RefreshToken.digest == digest,
                RefreshToken.app_id == client_id,
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                or_(RefreshToken.expires_at.is_(None), RefreshToken.expires_at > now),
            )
            .values(rotated_at=now)
            .returning(RefreshToken)
        )
        row = result.scalar_one_or_none()
        if row is not None:
            return Rotation(rotated=await self._record(row))
        return Rotation(found=await self.find_refresh_token(raw))

    async def find_refresh_token(self, raw: str) -> RefreshTokenRecord | None:
        row = (
            await self.db.execute(
                select(RefreshToken)
                .where(RefreshToken.digest == self.server_secret.digest(raw))
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        return _record(row) if row is not None else None

    async def _record(self, row: RefreshToken) -> RefreshTokenRecord:
        """The record with what the family started from: the code's ``auth_time`` and space,
        or (password grant) the family's first token's time."""
        auth_time: datetime | None = None
        auth_space_id: str | None = None
        login_methods: tuple[str, ...] = ()
        sid: str | None = None
        if row.code_id is not None:
            code = (
                await self.db.execute(
                    select(
                        AuthorizationCode.auth_time,
                        AuthorizationCode.space_id,
                        AuthorizationCode.amr,
                        AuthorizationCode.sid,
                    ).where(AuthorizationCode.id == row.code_id)
                )
            ).first()
            if code is not None:
                auth_time, auth_space_id, login_methods = code[0], code[1], amr.decode(code[2])
                sid = code[3]
        else:
            auth_time = (
                await self.db.execute(
                    select(func.min(RefreshToken.created_at)).where(RefreshToken.family_id == row.family_id)
                )
            ).scalar_one_or_none()
        return _record(
            row, auth_time=auth_time, auth_space_id=auth_space_id, login_methods=login_methods, sid=sid
        )


def _record(
    row: RefreshToken,
    *,
    auth_time: datetime | None = None,
    auth_space_id: str | None = None,
    login_methods: tuple[str, ...] = (),
    sid: str | None = None,
) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        id=row.id,
        family_id=row.family_id,
        client_id=row.app_id,
        user_id=row.user_id,
        scopes=parse_scope(row.scope),
        created_at=row.created_at,
        space_id=row.space_id,
        issuer=row.issuer,
        code_id=row.code_id,
        access_token_id=row.access_token_id,
        expires_at=row.expires_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
        auth_time=auth_time,
        auth_space_id=auth_space_id,
        amr=login_methods,
        audience=row.audience,
        sid=sid,
        dpop_jkt=row.dpop_jkt,
    )
