"""User accounts: sign-up, lookup and password checks. Callers see :class:`Person` values,
never rows; nothing here commits (the caller's unit of work does)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events, names
from frontdesk.errors import Conflict, FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.oauth.models import Person
from frontdesk.oauth.storage import UserAppGrant
from frontdesk.oauth.web_urls import WebUrlError, normalize_web_url
from frontdesk.security.passwords import (
    NO_PASSWORD,
    Passwords,
    UnsupportedHash,
    check_password_strength,
    hash_scheme,
)
from frontdesk.security.randoms import new_id
from frontdesk.services import second_factor
from frontdesk.store.audit_storage import record_event
from frontdesk.store.inserts import insert_unless_taken
from frontdesk.store.models import App, Consent, Space, User
from frontdesk.store.revocation import revoke_grant
from frontdesk.store.sql_storage import person_of
from frontdesk.store.types import utcnow


def normalize_email(raw: str) -> tuple[str, str]:
    """Return ``(email as entered but with a normalised domain, case-folded lookup key)``."""
    raw = (raw or "").strip()
    if not raw:
        raise FieldError("email", N_("Enter your email address."))
    try:
        result = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise FieldError(
            "email", N_("That is not a valid email address: {problem}"), problem=str(exc)
        ) from exc
    return result.normalized, email_key(result.normalized)


def email_key(email: str) -> str:
    return email.strip().casefold()


def clean_name(raw: str | None, *, field: str = "name", required: bool = True, max_length: int = 200) -> str:
    """A name people see (frontdesk/names.py), trimmed; :class:`FieldError` for ``field``."""
    try:
        name = names.clean_name(raw)
    except names.UnsafeName as exc:
        raise FieldError(field, str(exc)) from exc
    if not name and required:
        raise FieldError(field, N_("Enter a name."))
    if len(name) > max_length:
        raise FieldError(field, N_("Use at most {n} characters."), n=max_length)
    return name


def check_password_hash(password_hash: str) -> str:
    """A hash another system wrote, if Frontdesk can check it (``security/passwords.hash_scheme``);
    else :class:`FieldError` for ``password_hash``."""
    try:
        hash_scheme(password_hash)
    except UnsupportedHash as exc:
        raise FieldError("password_hash", str(exc)) from exc
    return password_hash


async def _row_by_email(db: AsyncSession, email: str) -> User | None:
    return (await db.execute(select(User).where(User.email_key == email_key(email)))).scalar_one_or_none()


async def find_by_email(db: AsyncSession, email: str) -> Person | None:
    user = await _row_by_email(db, email) if email else None
    return person_of(user) if user is not None else None


async def get_person(db: AsyncSession, user_id: str) -> Person | None:
    user = await db.get(User, user_id)
    return person_of(user) if user is not None else None


async def create_user(
    db: AsyncSession,
    passwords: Passwords,
    *,
    email: str,
    password: str | None = None,
    name: str | None = None,
    password_hash: str | None = None,
    email_verified: bool = False,
    locale: str | None = None,
) -> Person:
    """Validate and create an account (``locale``: the language it signed up in). Raises :class:`FieldError`.

    ``email_verified``: the operator vouches for the address (admin API); else it is
    unverified until the person opens a verification link (sign-up sends one).

    Give at most one of ``password`` (checked for strength, hashed with Argon2id) and
    ``password_hash`` (a hash another system wrote, kept as it is and re-hashed at the next
    login: ``security/passwords.hash_scheme`` lists what is accepted). With neither, the
    account has no password and cannot log in with one until a password is set."""
    display, key = normalize_email(email)
    clean = clean_name(name or "", required=False) or display.split("@", 1)[0]
    if password is not None and password_hash is not None:
        raise FieldError("password_hash", N_("Give either a password or a password hash, not both."))
    if password is not None:
        problem = check_password_strength(password, email=display)
        if problem:
            raise FieldError("password", problem)
    elif password_hash is not None:
        check_password_hash(password_hash)
    if await _row_by_email(db, display) is not None:
        raise FieldError("email", N_("An account with this email address already exists."))
    user_id = new_id()
    values: dict[str, Any] = {
        "id": user_id,
        "email": display,
        "email_key": key,
        "name": clean,
        "password_hash": (
            await passwords.hash(password) if password is not None else password_hash or NO_PASSWORD
        ),
        "created_at": utcnow(),
        "locale": locale,
    }
    values["email_verified_at"] = values["created_at"] if email_verified else None
    if not await insert_unless_taken(db, User, values):  # lost a race with a concurrent sign-up
        raise FieldError("email", N_("An account with this email address already exists."))
    await record_event(db, events.USER_CREATED, user_id=user_id)
    return Person(
        id=user_id,
        email=display,
        name=clean,
        created_at=values["created_at"],
        email_verified=email_verified,
        locale=locale,
    )


async def set_locale(db: AsyncSession, user_id: str, locale: str) -> None:
    """Remember the language the person chose (their emails are written in it)."""
    user = await db.get(User, user_id)
    if user is not None and user.locale != locale:
        user.locale = locale


async def locale_for(db: AsyncSession, user_id: str | None) -> str | None:
    """The language the account chose (None: none chosen, or no account)."""
    if user_id is None:
        return None
    return (await db.execute(select(User.locale).where(User.id == user_id))).scalar_one_or_none()


async def check_credentials(
    db: AsyncSession, passwords: Passwords, *, email: str, password: str
) -> Person | None:
    """The person if the password matches. Unknown users cost the same hashing work; hashes
    made with older parameters are upgraded on success (staged with the caller's work)."""
    user = await _row_by_email(db, email) if email else None
    ok, needs_rehash = await passwords.verify(user.password_hash if user else None, password)
    # A disabled account (admin API) answers like a wrong password, after the same work.
    if not ok or user is None or user.disabled_at is not None:
        return None
    if needs_rehash:
        user.password_hash = await passwords.hash(password)
        await db.flush()
    # Whoever checks a login must know whether a second factor is still to come.
    return replace(person_of(user), second_factor=await second_factor.has_second_factor(db, user.id))


# ---- operator's tools (CLI and admin API) --------------------------------------------------------


def like_pattern(text: str) -> str:
    """A LIKE pattern (escape ``\\``) matching ``text`` anywhere, compared case-folded."""
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_users(
    db: AsyncSession, *, search: str | None = None, limit: int = 100, after: str | None = None
) -> list[Person]:
    """Accounts ordered by email, at most ``limit``; ``search`` matches any part of the email
    (case-insensitive) or the name; ``after``: only emails sorting after this one (paging)."""
    stmt = select(User).order_by(User.email_key).limit(max(1, min(limit, 10_000)))
    if search:
        pattern = like_pattern(search.strip())
        stmt = stmt.where(
            User.email_key.like(pattern, escape="\\") | func.lower(User.name).like(pattern, escape="\\")
        )
    if after:
        stmt = stmt.where(User.email_key > email_key(after))
    return [person_of(user) for user in (await db.execute(stmt)).scalars()]


async def set_password(db: AsyncSession, passwords: Passwords, user_id: str, password: str) -> Person:
    """Give the account a new password (checked for strength, hashed with Argon2id)."""
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    problem = check_password_strength(password, email=user.email)
    if problem:
        raise FieldError("password", problem)
    user.password_hash = await passwords.hash(password)
    await db.flush()
    await record_event(db, events.USER_UPDATED, user_id=user_id, detail={"changed": ["password"]})
    return person_of(user)


async def delete_user(db: AsyncSession, user_id: str) -> None:
    """Revoke everything the account holds and delete it, with its memberships and apps. A
    user who still owns spaces is refused (delete or hand over those spaces first)."""
    # Imported here: both import modules that import this one.
    from frontdesk.services import apps as app_service
    from frontdesk.services import grants, spaces

    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    owned = list((await db.execute(select(Space.subdomain).where(Space.owner_id == user_id))).scalars())
    if owned:
        raise Conflict(f"{user.email} owns the spaces {', '.join(sorted(owned))}; delete them first")
    for client_id in (await db.execute(select(App.client_id).where(App.owner_id == user_id))).scalars().all():
        await app_service.delete_app(db, client_id)
    # What goes with the account is recorded before it goes, as if taken away one by one:
    # its consents, its tokens, its memberships (the pages, the CLI and the admin API all
    # delete accounts through here).
    await grants.record_consents_revoked(db, Consent.user_id == user_id, reason="user_deleted")
    for selector in await grants.user_grants(db, user_id):
        revoked = await revoke_grant(db, selector, descendants=True)
        if revoked.tokens:
            app_id = selector.client_id if isinstance(selector, UserAppGrant) else None
            await grants.record_revocation(
                db,
                revoked,
                user_id=user_id,
                client_id=app_id,
                space_id=None,
                by="system",
                reason="user_deleted",
            )
    await spaces.record_memberships_removed(
        db, [(m.id, m.space.id, user_id) for m in await spaces.spaces_of(db, user_id)], reason="user_deleted"
    )
    # Recorded (and sent to the outbox) before the row goes; the event keeps the id.
    await record_event(db, events.USER_DELETED, user_id=user_id, detail={"user_id": user_id})
    await db.delete(user)
    await db.flush()


async def set_picture_url(db: AsyncSession, user_id: str, url: str | None) -> Person:
    """Set the picture ``/api/user`` and memberships report for the person (an https URL the
    platform serves), or clear it with ``None`` or ``""`` (the generated avatar is reported
    again; docs/compatibility.md, "Pictures")."""
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    if url is None or not url.strip():
        user.picture_url = None
    else:
        try:
            user.picture_url = normalize_web_url(url)
        except WebUrlError as exc:
            raise FieldError("picture_url", str(exc)) from None
    await db.flush()
    return person_of(user)
