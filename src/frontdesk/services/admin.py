"""Operations of the admin API (docs/integrating.md, "Admin API") that the other services do
not offer: changing and disabling accounts, and listing accounts, tokens and the audit log by
cursor. Nothing here commits (the caller's unit of work does).

Cursors are opaque to callers: base64url of the last row's sort key, so a page never repeats
or skips a row when rows are added meanwhile (keyset pagination).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from frontdesk import events
from frontdesk.errors import FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.oauth.models import Person
from frontdesk.oauth.scopes import parse_scope
from frontdesk.oauth.storage import RevokedGrant, TokenGrant
from frontdesk.records import SpaceRef
from frontdesk.services import accounts, audit, domains, grants, spaces
from frontdesk.services.work import AppStorage
from frontdesk.store.audit_storage import record_event
from frontdesk.store.inserts import update_unless_taken
from frontdesk.store.models import AccessToken, AuditEvent, User
from frontdesk.store.sql_storage import person_of
from frontdesk.store.types import utcnow

R = TypeVar("R")
MAX_LIMIT = 200
_BAD_CURSOR = "That cursor is not one this API gave out."


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        padded = (cursor + "=" * (-len(cursor) % 4)).encode("ascii")
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError) as exc:  # ValueError: not ASCII, not UTF-8
        raise FieldError("cursor", _BAD_CURSOR) from exc
    parts = raw.split("\x1f")
    if len(parts) != count or not all(parts):
        raise FieldError("cursor", _BAD_CURSOR)
    return parts


def _after(
    created: InstrumentedAttribute[datetime], row_id: InstrumentedAttribute[str], cursor: str
) -> ColumnElement[bool]:
    """Rows after the cursor in newest-first ``(created, id)`` order (keyset pagination)."""
    when, last_id = decode_cursor(cursor, 2)
    try:
        at = aware(datetime.fromisoformat(when))
    except ValueError as exc:
        raise FieldError("cursor", _BAD_CURSOR) from exc
    return or_(created < at, and_(created == at, row_id < last_id))


def _page(rows: Sequence[R], limit: int, key: Callable[[R], tuple[str, ...]]) -> tuple[list[R], str | None]:
    """The first ``limit`` of ``limit + 1`` rows read, and the cursor of the next page (None:
    this was the last)."""
    page = list(rows[:limit])
    return page, encode_cursor(*key(page[-1])) if len(rows) > limit and page else None


def _newest_first(row: TokenRow | audit.EventRow) -> tuple[str, ...]:
    return row.created_at.isoformat(), row.id


# ---- users -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    person: Person
    disabled_at: datetime | None


async def _user(db: AsyncSession, user_id: str) -> User:
    user = await db.get(User, user_id) if user_id and len(user_id) <= 64 else None
    if user is None:
        raise NotFound("no such user")
    return user


def _account(user: User) -> Account:
    return Account(person_of(user), user.disabled_at)


async def get_account(db: AsyncSession, user_id: str) -> Account:
    return _account(await _user(db, user_id))


async def users_page(
    db: AsyncSession, *, search: str | None = None, cursor: str | None = None, limit: int = 50
) -> tuple[list[Account], str | None]:
    """Accounts by email (``search``: part of the email or name), and the cursor of the next page."""
    after = decode_cursor(cursor, 1)[0] if cursor else None
    people, next_cursor = _page(
        await accounts.list_users(db, search=search, limit=limit + 1, after=after),
        limit,
        lambda p: (p.email,),
    )
    disabled = await _disabled_since(db, [p.id for p in people])
    return [Account(p, disabled.get(p.id)) for p in people], next_cursor


# ---- spaces ----------------------------------------------------------------------------------


async def spaces_page(
    db: AsyncSession, *, search: str | None = None, cursor: str | None = None, limit: int = 50
) -> tuple[list[tuple[SpaceRef, domains.DomainState]], str | None]:
    """Spaces by subdomain (``search``: part of the subdomain or name), each with its custom
    domain's state, and the cursor of the next page."""
    after = decode_cursor(cursor, 1)[0] if cursor else None
    return _page(
        await spaces.list_spaces_with_domains(db, search=search, limit=limit + 1, after=after),
        limit,
        lambda row: (row[0].subdomain,),
    )


async def update_user(
    db: AsyncSession, user_id: str, *, name: str | None = None, email: str | None = None
) -> Account:
    """Change an account's name or email (validated like sign-up; an email taken by another
    account is refused)."""
    user = await _user(db, user_id)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = accounts.clean_name(name)
    if email is not None:
        display, key = accounts.normalize_email(email)
        if key != user.email_key:
            taken = await accounts.find_by_email(db, display)
            if taken is not None:
                raise FieldError("email", N_("An account with this email address already exists."))
            values["email_verified_at"] = None  # a new address is not verified
        values |= {"email": display, "email_key": key}
    if values:
        claim = update(User).where(User.id == user_id).values(**values, updated_at=utcnow())
        if not await update_unless_taken(db, claim):
            raise FieldError("email", N_("An account with this email address already exists."))
        await db.refresh(user)
        await record_event(db, events.USER_UPDATED, user_id=user_id, detail={"fields": sorted(values)})
    return _account(user)


async def set_disabled(db: AsyncSession, sessions: AppStorage, user_id: str, disabled: bool) -> Account:
    """Disable an account (no login, its browser sessions end, everything it gave apps is
    revoked) or enable it again (it logs in afresh; nothing revoked comes back)."""
    user = await _user(db, user_id)
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
        await sessions.end_sessions_of(user_id)
        await grants.revoke_tokens(db, user_id=user_id)
        await record_event(db, events.USER_DISABLED, user_id=user_id)
    elif not disabled and user.disabled_at is not None:
        user.disabled_at = None
        await record_event(db, events.USER_UPDATED, user_id=user_id, detail={"fields": ["disabled"]})
    await db.flush()
    return _account(user)


async def _disabled_since(db: AsyncSession, user_ids: list[str]) -> dict[str, datetime]:
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
    stmt = select(AccessToken).where(grants.live(AccessToken, utcnow()))
    if client_id is not None:
        stmt = stmt.where(AccessToken.app_id == client_id)
    if user_id is not None:
        stmt = stmt.where(AccessToken.user_id == user_id)
    if space_id is not None:
        stmt = stmt.where(AccessToken.space_id == space_id)
    if cursor:
        stmt = stmt.where(_after(AccessToken.created_at, AccessToken.id, cursor))
    stmt = stmt.order_by(AccessToken.created_at.desc(), AccessToken.id.desc()).limit(limit + 1)
    rows = [
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
        for t in (await db.execute(stmt)).scalars()
    ]
    return _page(rows, limit, _newest_first)


async def revoke_token_id(db: AsyncSession, token_id: str) -> RevokedGrant:
    """Revoke one access token by id, with its refresh family and what derives from it."""
    if not token_id or len(token_id) > 64 or await db.get(AccessToken, token_id) is None:
        raise NotFound("no token with this id")
    return await grants.revoke_selected(db, TokenGrant(token_id))


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
        stmt = stmt.where(audit.of_kind(kind))
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= aware(since))
    if until is not None:
        stmt = stmt.where(AuditEvent.created_at < aware(until))
    if cursor:
        stmt = stmt.where(_after(AuditEvent.created_at, AuditEvent.id, cursor))
    return _page(await audit.fetch(db, stmt.limit(limit + 1)), limit, _newest_first)


def aware(moment: datetime) -> datetime:
    """A time from a query string or a cursor: UTC unless it says otherwise."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
