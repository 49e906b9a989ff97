"""SQL storage for security events (audit log): :class:`frontdesk.oauth.storage.EventStore`."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.keyring import Keyring
from frontdesk.security.randoms import new_id
from frontdesk.store.models import AuditEvent
from frontdesk.store.types import utcnow

INSERT_EVENT = insert(cast(Table, AuditEvent.__table__))


class EventStorageMixin:
    """Mixed into :class:`frontdesk.store.oauth_storage.SqlStorage`."""

    db: AsyncSession
    keyring: Keyring

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
        await self.db.execute(
            INSERT_EVENT,
            {
                "id": new_id(),
                "created_at": utcnow(),
                "event": event,
                "user_id": user_id,
                "app_id": app_id,
                "space_id": space_id,
                "ip": ip[:45],
                "detail": detail or {},
            },
        )
