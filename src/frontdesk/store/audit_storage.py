"""The one recorder of security events (audit log): every event, from the protocol core
(:meth:`frontdesk.oauth.storage.EventStore.record_event`), the services and the pages, is
written here, after :func:`frontdesk.events.check`. The event is staged in the session's
transaction and committed with the work it describes, and so are its webhook messages
(:mod:`frontdesk.store.webhooks`)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.security.randoms import new_id
from frontdesk.store import webhooks
from frontdesk.store.deferred import defer_insert
from frontdesk.store.models import AuditEvent
from frontdesk.store.types import utcnow

INSERT_EVENT = insert(cast(Table, AuditEvent.__table__))


async def record_event(
    db: AsyncSession,
    event: str,
    *,
    user_id: str | None = None,
    app_id: str | None = None,
    space_id: str | None = None,
    ip: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Stage one event in ``db``'s transaction (refusing unknown names and secrets); the row is
    sent with the next statement or the commit."""
    events.check(event, detail)
    row = {
        "id": new_id(),
        "created_at": utcnow(),
        "event": event,
        "user_id": user_id,
        "app_id": app_id,
        "space_id": space_id,
        "ip": (ip or "")[:45],
        "detail": detail or {},
    }
    defer_insert(db, INSERT_EVENT, row)
    webhook_type = events.WEBHOOK_TYPES.get(event)
    if webhook_type is not None:
        # The outbox row of every endpoint that wants it, in this same transaction (a cached
        # lookup: no query when no endpoint wants this type).
        await webhooks.stage_event(db, webhook_type, row)
