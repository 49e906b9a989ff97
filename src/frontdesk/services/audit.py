"""The audit log for people (their own activity) and operators (the CLI): reading it, and the
login failures the login form records.

Event names and the rule that no event holds a secret are in :mod:`frontdesk.events`; every
event is written by :func:`frontdesk.store.audit_storage.record_event`, staged with the work it
describes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.services.accounts import find_by_email
from frontdesk.store.audit_storage import record_event
from frontdesk.store.models import App, AuditEvent, Space, User
from frontdesk.store.types import utcnow


async def record_login_failure(
    db: AsyncSession, email: str, *, ip: str, space_id: str | None, locked: bool = False
) -> None:
    """A wrong password (or unknown account) at a login form; ``locked``: it was the failure
    that made the failure throttle refuse further attempts (``account.locked`` too).

    The event names the account when it exists, so its owner sees the attempt. What was typed
    is never stored: people type passwords into the email field."""
    user = await find_by_email(db, email) if email and len(email) <= 254 else None
    user_id = user.id if user else None
    await record_event(db, events.LOGIN_FAILED, user_id=user_id, space_id=space_id, ip=ip)
    if locked:
        await record_event(db, events.ACCOUNT_LOCKED, user_id=user_id, space_id=space_id, ip=ip)


# ---- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    id: str
    created_at: datetime
    event: str
    user_id: str | None
    user_email: str | None
    app_id: str | None
    app_name: str | None
    space_id: str | None
    space_subdomain: str | None
    space_name: str | None
    ip: str
    detail: dict[str, Any]

    @property
    def description(self) -> str:
        return events.DESCRIPTIONS.get(self.event, self.event)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "event": self.event,
            "user_id": self.user_id,
            "user_email": self.user_email,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "space_id": self.space_id,
            "space_subdomain": self.space_subdomain,
            "ip": self.ip,
            "detail": dict(self.detail or {}),
        }


@dataclass(frozen=True)
class EventPage:
    events: list[EventRow]
    page: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


_Row = Select[AuditEvent, str | None, str | None, str | None, str | None]


def of_kind(kind: str) -> ColumnElement[bool]:
    """``token.issued`` matches that event; a family, ``token``, every ``token.*`` event."""
    if "." in kind:
        return AuditEvent.event == kind
    return AuditEvent.event.startswith(kind + ".", autoescape=True)


def rows_query() -> _Row:
    """Events newest first, with the names of their user, app and space (the CLI's search
    and the admin API's cursor pages, services/admin.py, read through it)."""
    return (
        select(AuditEvent, User.email, App.name, Space.subdomain, Space.name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(App, App.client_id == AuditEvent.app_id)
        .outerjoin(Space, Space.id == AuditEvent.space_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )


async def fetch(db: AsyncSession, stmt: _Row) -> list[EventRow]:
    return [
        EventRow(
            id=row.id,
            created_at=row.created_at,
            event=row.event,
            user_id=row.user_id,
            user_email=email,
            app_id=row.app_id,
            app_name=app_name,
            space_id=row.space_id,
            space_subdomain=subdomain,
            space_name=space_name,
            ip=row.ip,
            detail=row.detail or {},
        )
        for row, email, app_name, subdomain, space_name in (await db.execute(stmt)).all()
    ]


async def events_of_user(db: AsyncSession, user_id: str, *, page: int = 1, per_page: int = 50) -> EventPage:
    """A person's own events, newest first, one page at a time."""
    page = max(1, page)
    per_page = max(1, min(per_page, 200))
    stmt = rows_query().where(AuditEvent.user_id == user_id).offset((page - 1) * per_page).limit(per_page + 1)
    rows = await fetch(db, stmt)
    return EventPage(events=rows[:per_page], page=page, per_page=per_page, has_next=len(rows) > per_page)


async def search(
    db: AsyncSession,
    *,
    user_email: str | None = None,
    event: str | None = None,
    app_id: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[EventRow]:
    """Events for operators, newest first. An unknown ``user_email`` matches nothing."""
    stmt = rows_query()
    if user_email is not None:
        user = await find_by_email(db, user_email)
        if user is None:
            return []
        stmt = stmt.where(AuditEvent.user_id == user.id)
    if event:
        stmt = stmt.where(of_kind(event))
    if app_id:
        stmt = stmt.where(AuditEvent.app_id == app_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= since)
    return await fetch(db, stmt.limit(max(1, limit)))


_RELATIVE = re.compile(r"^([0-9]{1,6})\s*([smhdw])$")  # ASCII digits only (frontdesk/inputs.py)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``1h``, ``30m``, ``7d``, ``2w`` ago, or an ISO 8601 time (UTC unless it says otherwise)."""
    value = text.strip()
    match = _RELATIVE.match(value.lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or utcnow()) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError as exc:
        raise ValueError(
            f"not a time: {text!r} (use ISO 8601 like 2024-05-01T12:00, or 30m, 1h, 7d)"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
