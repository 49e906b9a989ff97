"""User accounts: sign-up, lookup and password checks. Callers see :class:`Person` values,
never rows; nothing here commits (the caller's unit of work does)."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import names
from frontdesk.errors import FieldError
from frontdesk.oauth.models import Person
from frontdesk.security.passwords import Passwords, check_password_strength
from frontdesk.security.randoms import new_id
from frontdesk.store.inserts import insert_unless_taken
from frontdesk.store.models import User
from frontdesk.store.sql_storage import person_of
from frontdesk.store.types import utcnow


def normalize_email(raw: str) -> tuple[str, str]:
    """Return ``(email as entered but with a normalised domain, case-folded lookup key)``."""
    raw = (raw or "").strip()
    if not raw:
        raise FieldError("email", "Enter your email address.")
    try:
        result = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise FieldError("email", f"That is not a valid email address: {exc}") from exc
    return result.normalized, email_key(result.normalized)


def email_key(email: str) -> str:
    return email.strip().casefold()


def clean_name(raw: str, *, field: str = "name", required: bool = True) -> str:
    try:
        name = names.clean_name(raw)
    except names.UnsafeName as exc:
        raise FieldError(field, str(exc)) from exc
    if not name and required:
        raise FieldError(field, "Enter a name.")
    if len(name) > 200:
        raise FieldError(field, "Use at most 200 characters.")
    return name


async def _row_by_email(db: AsyncSession, email: str) -> User | None:
    return (await db.execute(select(User).where(User.email_key == email_key(email)))).scalar_one_or_none()


async def find_by_email(db: AsyncSession, email: str) -> Person | None:
    user = await _row_by_email(db, email) if email else None
    return person_of(user) if user is not None else None


async def get_person(db: AsyncSession, user_id: str) -> Person | None:
    user = await db.get(User, user_id)
    return person_of(user) if user is not None else None


async def create_user(
    db: AsyncSession, passwords: Passwords, *, email: str, password: str, name: str | None = None
) -> Person:
    """Validate and create an account. Raises :class:`FieldError`."""
    display, key = normalize_email(email)
    clean = clean_name(name or "", required=False) or display.split("@", 1)[0]
    problem = check_password_strength(password, email=display)
    if problem:
        raise FieldError("password", problem)
    if await _row_by_email(db, display) is not None:
        raise FieldError("email", "An account with this email address already exists.")
    user_id = new_id()
    values: dict[str, Any] = {
        "id": user_id,
        "email": display,
        "email_key": key,
        "name": clean,
        "password_hash": await passwords.hash(password),
        "created_at": utcnow(),
    }
    if not await insert_unless_taken(db, User, values):  # lost a race with a concurrent sign-up
        raise FieldError("email", "An account with this email address already exists.")
    return Person(id=user_id, email=display, name=clean, created_at=values["created_at"])


async def check_credentials(
    db: AsyncSession, passwords: Passwords, *, email: str, password: str
) -> Person | None:
    """The person if the password matches. Unknown users cost the same hashing work; hashes
    made with older parameters are upgraded on success (staged with the caller's work)."""
    user = await _row_by_email(db, email) if email else None
    ok, needs_rehash = await passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None:
        return None
    if needs_rehash:
        user.password_hash = await passwords.hash(password)
        await db.flush()
    return person_of(user)
