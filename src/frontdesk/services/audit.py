"""The audit log: security events for people (their own activity) and operators (the CLI).

Events are rows of :class:`frontdesk.store.models.AuditEvent`, written by the one
implementation in :class:`frontdesk.store.audit_storage.EventStorageMixin` (the protocol core
reaches it through ``Storage.record_event``, everything else through :func:`record`). An event
is committed with the work it describes.

``detail`` never holds a secret (tokens, codes, client secrets, passwords): only ids (token
ids, code ids, client ids), counts, scopes and grant types. :func:`record` refuses keys and
values that look like secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.keyring import Keyring
from frontdesk.security.randoms import (
    ACCESS_TOKEN_PREFIX,
    CLIENT_SECRET_PREFIX,
    CODE_PREFIX,
    REFRESH_TOKEN_PREFIX,
    SESSION_PREFIX,
)
from frontdesk.services.accounts import find_by_email
from frontdesk.store.audit_storage import EventStorageMixin
from frontdesk.store.models import App, AuditEvent, Space, User
from frontdesk.store.types import utcnow

# ---- event names ----------------------------------------------------------------------------
# The protocol core (frontdesk.oauth) records "token.issued", "token.revoked",
# "code.replayed" and "refresh_token.reused" by name, without importing this module; tests
# check that the names it uses are these constants.

LOGIN_SUCCEEDED = "login.succeeded"
LOGIN_FAILED = "login.failed"
CONSENT_GRANTED = "consent.granted"
CONSENT_REVOKED = "consent.revoked"
TOKEN_ISSUED = "token.issued"
TOKEN_REVOKED = "token.revoked"
REFRESH_TOKEN_REUSED = "refresh_token.reused"
CODE_REPLAYED = "code.replayed"
CLIENT_SECRET_REGENERATED = "client_secret.regenerated"
TEST_TOKEN_CREATED = "test_token.created"
TEST_TOKEN_REVOKED = "test_token.revoked"
SPACE_TOKEN_REVOKED = "space_token.revoked"
CLIENT_AUTH_FAILED = "client_auth.failed"

EVENTS = (
    LOGIN_SUCCEEDED,
    LOGIN_FAILED,
    CONSENT_GRANTED,
    CONSENT_REVOKED,
    TOKEN_ISSUED,
    TOKEN_REVOKED,
    REFRESH_TOKEN_REUSED,
    CODE_REPLAYED,
    CLIENT_SECRET_REGENERATED,
    TEST_TOKEN_CREATED,
    TEST_TOKEN_REVOKED,
    SPACE_TOKEN_REVOKED,
    CLIENT_AUTH_FAILED,
)

# What people read on their activity page.
DESCRIPTIONS = {
    LOGIN_SUCCEEDED: "Logged in",
    LOGIN_FAILED: "Failed login attempt",
    CONSENT_GRANTED: "Allowed an app access",
    CONSENT_REVOKED: "Took back an app's access",
    TOKEN_ISSUED: "Access token issued",
    TOKEN_REVOKED: "Access token revoked",
    REFRESH_TOKEN_REUSED: "Refresh token used twice (every token of that grant was revoked)",
    CODE_REPLAYED: "Authorization code used twice (its tokens were revoked)",
    CLIENT_SECRET_REGENERATED: "Regenerated an app's client secret",
    TEST_TOKEN_CREATED: "Created a test token",
    TEST_TOKEN_REVOKED: "Revoked a test token",
    SPACE_TOKEN_REVOKED: "Revoked an app's space tokens",
    CLIENT_AUTH_FAILED: "An app failed to authenticate (wrong client secret)",
}

# Keys that would name a secret; ids of secrets are fine ("token_id", "code_id").
_SECRET_KEYS = frozenset(
    {"access_token", "refresh_token", "token", "code", "client_secret", "secret", "password", "id_token"}
)
_SECRET_PREFIXES = (
    ACCESS_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    CODE_PREFIX,
    CLIENT_SECRET_PREFIX,
    SESSION_PREFIX,
)


class _Events(EventStorageMixin):
    """The storage mixin on a bare session (recording events needs no keyring)."""

    keyring: Keyring

    def __init__(self, db: AsyncSession) -> None:
        self.db = db


def _check_detail(detail: dict[str, Any]) -> None:
    for key, value in detail.items():
        if key.lower() in _SECRET_KEYS:
            raise ValueError(f"audit detail must not hold a secret ({key!r}); record its id instead")
        if isinstance(value, str) and value.startswith(_SECRET_PREFIXES):
            raise ValueError(f"audit detail {key!r} looks like a secret; record its id instead")
        if isinstance(value, dict):
            _check_detail(value)


async def record(
    db: AsyncSession,
    event: str,
    *,
    user_id: str | None = None,
    app_id: str | None = None,
    space_id: str | None = None,
    ip: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Stage an event in ``db``; it is committed with the surrounding work."""
    if detail:
        _check_detail(detail)
    await _Events(db).record_event(
        event, user_id=user_id, app_id=app_id, space_id=space_id, ip=ip or "", detail=detail
    )


async def record_login_failure(db: AsyncSession, email: str, *, ip: str, space_id: str | None) -> None:
    """A wrong password (or unknown account) at a login form. Committed.

    The event names the account when it exists, so its owner sees the attempt. What was typed
    is never stored: people type passwords into the email field."""
    user = await find_by_email(db, email) if email and len(email) <= 254 else None
    await record(db, LOGIN_FAILED, user_id=user.id if user else None, space_id=space_id, ip=ip)
    await db.commit()


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
        return DESCRIPTIONS.get(self.event, self.event)

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


def _rows_query() -> _Row:
    return (
        select(AuditEvent, User.email, App.name, Space.subdomain, Space.name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(App, App.client_id == AuditEvent.app_id)
        .outerjoin(Space, Space.id == AuditEvent.space_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )


async def _fetch(db: AsyncSession, stmt: _Row) -> list[EventRow]:
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
    stmt = (
        _rows_query().where(AuditEvent.user_id == user_id).offset((page - 1) * per_page).limit(per_page + 1)
    )
    rows = await _fetch(db, stmt)
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
    stmt = _rows_query()
    if user_email is not None:
        user = await find_by_email(db, user_email)
        if user is None:
            return []
        stmt = stmt.where(AuditEvent.user_id == user.id)
    if event:
        # "token" matches every token.* event; "token.issued" only that one.
        stmt = stmt.where(
            AuditEvent.event == event
            if "." in event
            else AuditEvent.event.startswith(event + ".", autoescape=True)
        )
    if app_id:
        stmt = stmt.where(AuditEvent.app_id == app_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= since)
    return await _fetch(db, stmt.limit(max(1, limit)))


_RELATIVE = re.compile(r"^(\d{1,6})\s*([smhdw])$")
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
