"""Operations of the admin API (docs/integrating.md, "Admin API") that the other services do
not offer: changing and disabling accounts, listing an app's tokens, and reading the audit log
by cursor. Nothing here commits (the caller's unit of work does).

Cursors are opaque to callers: base64url of the last row's sort key, so a page never repeats
or skips a row when rows are added meanwhile (keyset pagination).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import FieldError, NotFound
from frontdesk.oauth.models import Person
from frontdesk.oauth.scopes import parse_scope
from frontdesk.oauth.storage import RevokedGrant, TokenGrant
from frontdesk.services import accounts, audit, grants
from frontdesk.store import revocation
from frontdesk.store.audit_storage import record_event
from frontdesk.store.inserts import update_unless_taken
from frontdesk.store.models import AccessToken, AuditEvent, LoginSession, User
from frontdesk.store.sql_storage import person_of
from frontdesk.store.types import utcnow

MAX_LIMIT = 200


def clean_limit(raw: int | None, default: int = 50) -> int:
    if raw is None:
        return default
    if not 1 <= raw <= MAX_LIMIT:
        raise FieldError("limit", f"Use a limit from 1 to {MAX_LIMIT}.")
    return raw


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        padded = (cursor + "=" * (-len(cursor) % 4)).encode("ascii")
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError) as exc:  # ValueError: not ASCII, not UTF-8
        raise FieldError("cursor", "That cursor is not one this API gave out.") from exc
    parts = raw.split("\x1f")
    if len(parts) != count or not all(parts):
        raise FieldError("cursor", "That cursor is not one this API gave out.")
    return parts


# ---- users -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    person: Person
    disabled_at: datetime | None


async def get_account(db: AsyncSession, user_id: str) -> Account:
    user = await db.get(User, user_id) if user_id and len(user_id) <= 64 else None
    if user is None:
        raise NotFound("no such user")
    return Account(person_of(user), user.disabled_at)


async def update_user(
    db: AsyncSession, user_id: str, *, name: str | None = None, email: str | None = None
) -> Account:
    """Change an account's name or email (validated like sign-up; an email taken by another
    account is refused)."""
    user = await db.get(User, user_id) if user_id and len(user_id) <= 64 else None
    if user is None:
        raise NotFound("no such user")
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = accounts.clean_name(name)
    if email is not None:
        display, key = accounts.normalize_email(email)
        if key != user.email_key:
            taken = await accounts.find_by_email(db, display)
            if taken is not None:
                raise FieldError("email", "An account with this email address already exists.")
        values |= {"email": display, "email_key": key}
    if values:
        claim = update(User).where(User.id == user_id).values(**values, updated_at=utcnow())
        if not await update_unless_taken(db, claim):
            raise FieldError("email", "An account with this email address already exists.")
        await db.refresh(user)
        await record_event(db, events.USER_UPDATED, user_id=user_id, detail={"fields": sorted(values)})
    return Account(person_of(user), user.disabled_at)


async def set_disabled(db: AsyncSession, user_id: str, disabled: bool) -> Account:
    """Disable an account (no login, its browser sessions end, everything it gave apps is
    revoked) or enable it again (it logs in afresh; nothing revoked comes back)."""
    user = await db.get(User, user_id) if user_id and len(user_id) <= 64 else None
    if user is None:
        raise NotFound("no such user")
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
        await db.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await grants.revoke_tokens(db, user_id=user_id)
        await record_event(db, events.USER_DISABLED, user_id=user_id)
    elif not disabled and user.disabled_at is not None:
        user.disabled_at = None
        await record_event(db, events.USER_UPDATED, user_id=user_id, detail={"fields": ["disabled"]})
    await db.flush()
    return Account(person_of(user), user.disabled_at)


async def disabled_since(db: AsyncSession, user_ids: list[str]) -> dict[str, datetime]:
    """When each of these accounts was disabled (enabled ones are left out)."""
    if not user_ids:
        return {}
    stmt = select(User.id, User.disabled_at).where(User.id.in_(user_ids), User.disabled_at.is_not(None))
    return {uid: at for uid, at in (await db.execute(stmt)).all() if at is not None}


# ---- an app's tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRow:
    id: str
    client_id: str
    user_id: str | None
    space_id: str | None
    scopes: tuple[str, ...]
    grant_type: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


async def live_tokens(
    db: AsyncSession,
    *,
    client_id: str | None = None,
    user_id: str | None = None,
    space_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[TokenRow], str | None]:
    """Live access tokens (never their values), newest first, and the cursor of the next page."""
    now = utcnow()
    stmt = select(AccessToken).where(
        AccessToken.revoked_at.is_(None),
        or_(AccessToken.expires_at.is_(None), AccessToken.expires_at > now),
    )
    if client_id is not None:
        stmt = stmt.where(AccessToken.app_id == client_id)
    if user_id is not None:
        stmt = stmt.where(AccessToken.user_id == user_id)
    if space_id is not None:
        stmt = stmt.where(AccessToken.space_id == space_id)
    if cursor:
        created, token_id = decode_cursor(cursor, 2)
        at = _parse_time(created)
        stmt = stmt.where(
            or_(
                AccessToken.created_at < at,
                and_(AccessToken.created_at == at, AccessToken.id < token_id),
            )
        )
    stmt = stmt.order_by(AccessToken.created_at.desc(), AccessToken.id.desc()).limit(limit + 1)
    rows = list((await db.execute(stmt)).scalars())
    page = [
        TokenRow(
            id=t.id,
            client_id=t.app_id,
            user_id=t.user_id,
            space_id=t.space_id,
            scopes=parse_scope(t.scope),
            grant_type=t.grant_type,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
        )
        for t in rows[:limit]
    ]
    more = len(rows) > limit
    next_cursor = encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if more and page else None
    return page, next_cursor


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FieldError("cursor", "That cursor is not one this API gave out.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---- the audit log ---------------------------------------------------------------------------


async def audit_page(
    db: AsyncSession,
    *,
    user_id: str | None = None,
    app_id: str | None = None,
    space_id: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[audit.EventRow], str | None]:
    """Audit events newest first, filtered, and the cursor of the next page. ``kind`` is an
    event name (``token.issued``) or a family (``token`` matches every ``token.*``)."""
    stmt = audit.rows_query()
    if user_id:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    if app_id:
        stmt = stmt.where(AuditEvent.app_id == app_id)
    if space_id:
        stmt = stmt.where(AuditEvent.space_id == space_id)
    if kind:
        stmt = stmt.where(
            AuditEvent.event == kind
            if "." in kind
            else AuditEvent.event.startswith(kind + ".", autoescape=True)
        )
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.created_at < until)
    if cursor:
        created, event_id = decode_cursor(cursor, 2)
        at = _parse_time(created)
        stmt = stmt.where(
            or_(AuditEvent.created_at < at, and_(AuditEvent.created_at == at, AuditEvent.id < event_id))
        )
    rows = await audit.fetch(db, stmt.limit(limit + 1))
    page = rows[:limit]
    more = len(rows) > limit
    next_cursor = encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if more and page else None
    return page, next_cursor


async def revoke_token_id(db: AsyncSession, token_id: str) -> RevokedGrant:
    """Revoke one access token by id, with its refresh family and what derives from it."""
    if not token_id or len(token_id) > 64 or await db.get(AccessToken, token_id) is None:
        raise NotFound("no token with this id")
    revoked = await revocation.revoke_grant(db, TokenGrant(token_id), descendants=True)
    if revoked.anything:
        await record_event(
            db,
            events.TOKEN_REVOKED,
            detail={"by": "operator", "token_ids": list(revoked.access_token_ids[:50])},
        )
    return revoked


def aware(moment: datetime | None) -> datetime | None:
    """A time from a query string: UTC unless it says otherwise."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
