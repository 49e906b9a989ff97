"""User accounts: sign-up, lookup and password checks."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FieldError
from frontdesk.security.passwords import Passwords, check_password_strength
from frontdesk.store.models import User


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
    name = " ".join((raw or "").split())
    if not name and required:
        raise FieldError(field, "Enter a name.")
    if len(name) > 200:
        raise FieldError(field, "Use at most 200 characters.")
    return name


async def find_by_email(db: AsyncSession, email: str) -> User | None:
    return (await db.execute(select(User).where(User.email_key == email_key(email)))).scalar_one_or_none()


async def get_user(db: AsyncSession, user_id: str) -> User | None:
    return await db.get(User, user_id)


async def create_user(
    db: AsyncSession, passwords: Passwords, *, email: str, password: str, name: str | None = None
) -> User:
    """Validate and create an account (committed). Raises :class:`FieldError`."""
    display, key = normalize_email(email)
    clean = clean_name(name or "", required=False) or display.split("@", 1)[0]
    problem = check_password_strength(password, email=display)
    if problem:
        raise FieldError("password", problem)
    if await find_by_email(db, display) is not None:
        raise FieldError("email", "An account with this email address already exists.")
    user = User(email=display, email_key=key, name=clean, password_hash=await passwords.hash(password))
    db.add(user)
    try:
        await db.commit()
    except IntegrityError as exc:  # lost a race with a concurrent sign-up
        await db.rollback()
        raise FieldError("email", "An account with this email address already exists.") from exc
    return user


async def check_credentials(
    db: AsyncSession, passwords: Passwords, *, email: str, password: str
) -> User | None:
    """The user if the password matches. Unknown users cost the same hashing work; hashes
    made with older parameters are upgraded on success."""
    user = await find_by_email(db, email) if email else None
    ok, needs_rehash = await passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None:
        return None
    if needs_rehash:
        user.password_hash = await passwords.hash(password)
        await db.commit()
    return user
