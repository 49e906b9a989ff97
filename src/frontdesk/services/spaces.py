"""Spaces (tenants) and their memberships."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from frontdesk.errors import Conflict, FieldError, NotFound
from frontdesk.services.accounts import clean_name, find_by_email
from frontdesk.settings import Settings
from frontdesk.store.models import Membership, Space, User
from frontdesk.store.scoping import SpaceScope

ROLES = ("member", "admin")

# Names that would shadow platform hosts or confuse people.
RESERVED_SUBDOMAINS = frozenset(
    {
        "www",
        "www1",
        "www2",
        "api",
        "admin",
        "administrator",
        "app",
        "apps",
        "assets",
        "auth",
        "autoconfig",
        "autodiscover",
        "blog",
        "cdn",
        "dashboard",
        "dev",
        "developer",
        "developers",
        "docs",
        "email",
        "ftp",
        "help",
        "imap",
        "login",
        "logout",
        "mail",
        "media",
        "mx",
        "ns",
        "ns1",
        "ns2",
        "oauth",
        "oauth2",
        "pop",
        "pop3",
        "root",
        "secure",
        "signin",
        "signup",
        "smtp",
        "sso",
        "static",
        "status",
        "support",
        "system",
        "test",
        "webmail",
        "localhost",
        "frontdesk",
    }
)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def validate_subdomain(raw: str) -> str:
    """A DNS label (RFC 1035 §2.3.1, lower-case letters, digits, hyphens) that is not reserved."""
    value = (raw or "").strip().lower()
    if not value:
        raise FieldError("subdomain", "Choose a subdomain.")
    if len(value) > 63:
        raise FieldError("subdomain", "A subdomain has at most 63 characters.")
    if not _LABEL.match(value):
        raise FieldError(
            "subdomain",
            "Use lower-case letters, digits and hyphens; start and end with a letter or digit.",
        )
    if "--" in value[2:4]:
        raise FieldError("subdomain", "Hyphens in the third and fourth place are reserved (xn--).")
    if value in RESERVED_SUBDOMAINS:
        raise FieldError("subdomain", f"“{value}” is reserved; choose another subdomain.")
    return value


def validate_custom_domain(raw: str | None, settings: Settings) -> str | None:
    """A fully qualified host name outside the platform's own domain, or ``None`` to clear."""
    value = (raw or "").strip().lower().rstrip(".")
    if not value:
        return None
    if "://" in value or "/" in value or ":" in value:
        raise FieldError("custom_domain", "Enter a host name only, like members.example.com.")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        raise FieldError("custom_domain", "Use a domain name, not an IP address.")
    if len(value) > 253:
        raise FieldError("custom_domain", "A domain name has at most 253 characters.")
    labels = value.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise FieldError("custom_domain", "That is not a valid domain name, like members.example.com.")
    base = settings.base_domain
    if value == base or value.endswith("." + base) or value in settings.main_hosts:
        raise FieldError("custom_domain", f"Custom domains must be outside {base}.")
    return value


@dataclass(frozen=True)
class SpaceSummary:
    space: Space
    role: str


async def get_by_subdomain(db: AsyncSession, subdomain: str) -> Space | None:
    return (
        await db.execute(select(Space).where(Space.subdomain == subdomain.strip().lower()))
    ).scalar_one_or_none()


async def get_by_custom_domain(db: AsyncSession, domain: str) -> Space | None:
    return (await db.execute(select(Space).where(Space.custom_domain == domain))).scalar_one_or_none()


async def get_by_id_or_subdomain(db: AsyncSession, ref: str) -> Space | None:
    space = await db.get(Space, ref)
    return space if space is not None else await get_by_subdomain(db, ref)


async def create_space(
    db: AsyncSession,
    settings: Settings,
    *,
    subdomain: str,
    name: str,
    owner: User,
    custom_domain: str | None = None,
) -> Space:
    """Create a space owned (and administered) by ``owner``. Committed."""
    sub = validate_subdomain(subdomain)
    clean = clean_name(name)
    domain = validate_custom_domain(custom_domain, settings)
    if await get_by_subdomain(db, sub) is not None:
        raise FieldError("subdomain", f"The subdomain “{sub}” is taken.")
    if domain and await get_by_custom_domain(db, domain) is not None:
        raise FieldError("custom_domain", f"{domain} is already used by another space.")
    space = Space(subdomain=sub, name=clean, custom_domain=domain, owner_id=owner.id)
    db.add(space)
    await db.flush()
    db.add(Membership(space_id=space.id, user_id=owner.id, role="admin", admin_name=owner.name))
    try:
        await db.commit()
    except IntegrityError as exc:
        await db.rollback()
        raise FieldError("subdomain", "That subdomain or domain was just taken.") from exc
    return space


async def update_space(
    db: AsyncSession, settings: Settings, space: Space, *, name: str, custom_domain: str | None
) -> Space:
    """Rename the space and set or clear its custom domain; validates everything first."""
    clean = clean_name(name)
    domain = validate_custom_domain(custom_domain, settings)
    if domain:
        other = await get_by_custom_domain(db, domain)
        if other is not None and other.id != space.id:
            raise FieldError("custom_domain", f"{domain} is already used by another space.")
    space.name = clean
    space.custom_domain = domain
    try:
        await db.commit()
    except IntegrityError as exc:
        await db.rollback()
        raise FieldError("custom_domain", f"{domain} is already used by another space.") from exc
    return space


async def membership_of(db: AsyncSession, space_id: str, user_id: str) -> Membership | None:
    stmt = SpaceScope(space_id).select(Membership).where(Membership.user_id == user_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def list_members(db: AsyncSession, space_id: str) -> list[Membership]:
    stmt = (
        SpaceScope(space_id)
        .select(Membership)
        .options(selectinload(Membership.user))
        .join(User, User.id == Membership.user_id)
        .order_by(Membership.role, func.lower(User.name))
    )
    return list((await db.execute(stmt)).scalars())


async def add_member(
    db: AsyncSession, space: Space, *, email: str, role: str = "member", admin_name: str | None = None
) -> Membership:
    """Add an existing account to the space, or change the role of one already in it."""
    if role not in ROLES:
        raise FieldError("role", "Role must be member or admin.")
    user = await find_by_email(db, email)
    if user is None:
        raise FieldError("email", "No account uses this email address; ask them to sign up first.")
    membership = await membership_of(db, space.id, user.id)
    display = clean_name(admin_name or "", field="admin_name", required=False) or None
    if membership is None:
        membership = Membership(space_id=space.id, user_id=user.id, role=role)
        db.add(membership)
    elif membership.role == role:
        raise FieldError("email", f"{user.email} is already {'an admin' if role == 'admin' else 'a member'}.")
    else:
        await _ensure_admin_remains(db, space, membership, role)
        membership.role = role
    membership.admin_name = (display or user.name) if role == "admin" else None
    try:
        await db.commit()
    except IntegrityError as exc:
        await db.rollback()
        raise Conflict("That person was added at the same moment; reload the page.") from exc
    await db.refresh(membership, ["user"])
    return membership


async def _ensure_admin_remains(
    db: AsyncSession, space: Space, membership: Membership, new_role: str | None
) -> None:
    if membership.user_id == space.owner_id and new_role != "admin":
        raise FieldError("role", "The owner of the space is always an admin.")


async def change_role(db: AsyncSession, space: Space, membership_id: str, role: str) -> Membership:
    if role not in ROLES:
        raise FieldError("role", "Role must be member or admin.")
    membership = await _get_membership(db, space, membership_id)
    await _ensure_admin_remains(db, space, membership, role)
    membership.role = role
    if role == "admin" and not membership.admin_name:
        await db.refresh(membership, ["user"])
        membership.admin_name = membership.user.name
    if role == "member":
        membership.admin_name = None
    await db.commit()
    return membership


async def remove_member(db: AsyncSession, space: Space, membership_id: str) -> None:
    membership = await _get_membership(db, space, membership_id)
    await _ensure_admin_remains(db, space, membership, None)
    await db.delete(membership)
    await db.commit()


async def _get_membership(db: AsyncSession, space: Space, membership_id: str) -> Membership:
    stmt = SpaceScope(space.id).select(Membership).where(Membership.id == membership_id)
    membership = (await db.execute(stmt)).scalar_one_or_none()
    if membership is None:
        raise NotFound("No such member in this space.")
    return membership


async def spaces_of(db: AsyncSession, user_id: str) -> list[SpaceSummary]:
    stmt = (
        select(Membership, Space)
        .join(Space, Space.id == Membership.space_id)
        .where(Membership.user_id == user_id)
        .order_by(func.lower(Space.name))
    )
    return [SpaceSummary(space=space, role=m.role) for m, space in (await db.execute(stmt)).all()]


def space_url(settings: Settings, space: Space) -> str:
    """The canonical URL of a space: its custom domain if set, else its subdomain."""
    if space.custom_domain:
        return settings.custom_domain_url(space.custom_domain)
    return settings.space_url(space.subdomain)
