"""SQL storage for :class:`frontdesk.oauth.storage.PushedRequestStore` (RFC 9126, oauth/par.py).

A pushed request is stored under an HMAC digest of the random part of its ``request_uri``
(like codes and tokens: nothing in the table lets anyone send a person with it). Using one up
is one conditional ``UPDATE … WHERE used_at IS NULL`` (the lock, as in
:meth:`frontdesk.store.sql_storage.SqlStorage.consume_code`): of two concurrent decisions on
PostgreSQL the second waits for the row and then no longer matches; SQLite serialises writers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth.storage import PushedRequest
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.models import PushedAuthorizationRequest
from frontdesk.store.types import utcnow

ROWS = PushedAuthorizationRequest


class PushedRequestStorageMixin:
    """Pushed authorization requests: mixed into :class:`frontdesk.store.sql_storage.SqlStorage`."""

    db: AsyncSession
    server_secret: ServerSecret

    async def save_pushed_request(self, raw: str, pushed: PushedRequest) -> None:
        # The app's expired requests go as it pushes a new one: the table holds live ones only
        # (an expired request_uri and an unknown one get the same error page).
        await self.db.execute(delete(ROWS).where(ROWS.app_id == pushed.client_id, ROWS.expires_at < utcnow()))
        self.db.add(
            ROWS(
                digest=self.server_secret.digest(raw),
                app_id=pushed.client_id,
                issuer=pushed.issuer,
                space_id=pushed.space_id,
                params=[[k, v] for k, v in pushed.params],
                created_at=utcnow(),
                expires_at=pushed.expires_at,
            )
        )
        await self.db.flush()

    async def find_pushed_request(self, raw: str) -> PushedRequest | None:
        if not raw or len(raw) > 200:
            return None
        row = (
            await self.db.execute(select(ROWS).where(ROWS.digest == self.server_secret.digest(raw)))
        ).scalar_one_or_none()
        if row is None:
            return None
        return PushedRequest(
            client_id=row.app_id,
            issuer=row.issuer,
            space_id=row.space_id,
            params=tuple((str(k), str(v)) for k, v in row.params or ()),
            expires_at=row.expires_at,
            opened_at=row.opened_at,
            used_at=row.used_at,
        )

    async def open_pushed_request(self, raw: str, until: datetime) -> None:
        await self.db.execute(
            update(ROWS)
            .where(ROWS.digest == self.server_secret.digest(raw), ROWS.opened_at.is_(None))
            .values(opened_at=utcnow(), expires_at=until)
        )

    async def use_pushed_request(self, raw: str, now: datetime) -> bool:
        result = await self.db.execute(
            update(ROWS)
            .where(ROWS.digest == self.server_secret.digest(raw), ROWS.used_at.is_(None))
            .values(used_at=now)
            .returning(ROWS.id)
        )
        return result.first() is not None
