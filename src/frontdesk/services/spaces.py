"""Spaces (tenants) and their memberships. Callers see :class:`SpaceRef` and
:class:`MembershipRecord` values, never rows; nothing here commits."""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import Conflict, FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.oauth.models import Person
from frontdesk.records import MembershipRecord, SpaceRef
from frontdesk.security.randoms import new_id
from frontdesk.services import domains
from frontdesk.services.accounts import clean_name, find_by_email, like_pattern
from frontdesk.settings import Settings
from frontdesk.store.audit_storage import record_event
from frontdesk.store.inserts import insert_unless_taken, update_unless_taken
from frontdesk.store.models import Membership, Space, User
from frontdesk.store.scoping import SpaceScope
from frontdesk.store.sql_storage import membership_record, space_of
from frontdesk.store.types import utcnow

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
        raise FieldError("subdomain", N_("Choose a subdomain."))
    if len(value) > 63:
        raise FieldError("subdomain", N_("A subdomain has at most 63 characters."))
    if not _LABEL.match(value):
        raise FieldError(
            "subdomain",
            N_("Use lower-case letters, digits and hyphens; start and end with a letter or digit."),
        )
    if "--" in value[2:4]:
        raise FieldError("subdomain", N_("Hyphens in the third and fourth place are reserved (xn--)."))
    if value in RESERVED_SUBDOMAINS:
        raise FieldError(
            "subdomain", N_("“{subdomain}” is reserved; choose another subdomain."), subdomain=value
        )
    return value


def validate_custom_domain(raw: str | None, settings: Settings) -> str | None:
    """A fully qualified host name outside the platform's own domain, or ``None`` to clear."""
    value = (raw or "").strip().lower().rstrip(".")
    if not value:
        return None
    if "://" in value or "/" in value or ":" in value:
        raise FieldError("custom_domain", N_("Enter a host name only, like members.example.com."))
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        raise FieldError("custom_domain", N_("Use a domain name, not an IP address."))
    if len(value) > 253:
        raise FieldError("custom_domain", N_("A domain name has at most 253 characters."))
    labels = value.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise FieldError("custom_domain", N_("That is not a valid domain name, like members.example.com."))
    base = settings.base_domain
    if value == base or value.endswith("." + base) or value in settings.main_hosts:
        raise FieldError("custom_domain", N_("Custom domains must be outside {base}."), base=base)
    return value


# ---- reading ------------------------------------------------------------------------------------


async def _space_row(db: AsyncSession, space_id: str) -> Space | None:
    return await db.get(Space, space_id)


async def get_space(db: AsyncSession, space_id: str) -> SpaceRef | None:
    row = await _space_row(db, space_id)
    return space_of(row) if row is not None else None


async def get_by_subdomain(db: AsyncSession, subdomain: str) -> SpaceRef | None:
    row = (
        await db.execute(select(Space).where(Space.subdomain == subdomain.strip().lower()))
    ).scalar_one_or_none()
    return space_of(row) if row is not None else None


async def get_by_custom_domain(db: AsyncSession, domain: str) -> SpaceRef | None:
    row = (await db.execute(select(Space).where(Space.custom_domain == domain))).scalar_one_or_none()
    return space_of(row) if row is not None else None


async def get_by_id_or_subdomain(db: AsyncSession, ref: str) -> SpaceRef | None:
    space = await get_space(db, ref)
    return space if space is not None else await get_by_subdomain(db, ref)


async def _space_rows(
    db: AsyncSession, *, search: str | None, limit: int | None, after: str | None
) -> list[Space]:
    stmt = select(Space).order_by(Space.subdomain)
    if search and search.strip():
        pattern = like_pattern(search.strip())
        stmt = stmt.where(
            Space.subdomain.like(pattern, escape="\\") | func.lower(Space.name).like(pattern, escape="\\")
        )
    if after:
        stmt = stmt.where(Space.subdomain > after)
    if limit is not None:
        stmt = stmt.limit(max(1, limit))
    return list((await db.execute(stmt)).scalars())


async def list_spaces(
    db: AsyncSession, *, search: str | None = None, limit: int | None = None, after: str | None = None
) -> list[SpaceRef]:
    """Spaces by subdomain, at most ``limit``; ``search`` matches any part of the subdomain or
    the name (case-insensitive); ``after``: only subdomains sorting after this one (paging)."""
    return [space_of(row) for row in await _space_rows(db, search=search, limit=limit, after=after)]


async def list_spaces_with_domains(
    db: AsyncSession, *, search: str | None = None, limit: int | None = None, after: str | None = None
) -> list[tuple[SpaceRef, domains.DomainState]]:
    """:func:`list_spaces`, each with its custom domain's state, from the same one query."""
    rows = await _space_rows(db, search=search, limit=limit, after=after)
    return [(space_of(row), domains.state_of(row)) for row in rows]


def _membership_record(row: Row[Membership, Space, User]) -> MembershipRecord:
    return membership_record(row[0], row[1], row[2])


def _memberships(scope: SpaceScope | None = None) -> Select[Membership, Space, User]:
    base = scope.select(Membership) if scope is not None else select(Membership)
    return (
        base.add_columns(Space, User)
        .join(Space, Space.id == Membership.space_id)
        .join(User, User.id == Membership.user_id)
    )


async def membership_of(db: AsyncSession, space_id: str, user_id: str) -> MembershipRecord | None:
    stmt = _memberships(SpaceScope(space_id)).where(Membership.user_id == user_id)
    row = (await db.execute(stmt)).first()
    return _membership_record(row) if row is not None else None


async def get_membership(db: AsyncSession, space_id: str, membership_id: str) -> MembershipRecord | None:
    stmt = _memberships(SpaceScope(space_id)).where(Membership.id == membership_id)
    row = (await db.execute(stmt)).first()
    return _membership_record(row) if row is not None else None


async def list_members(db: AsyncSession, space_id: str) -> list[MembershipRecord]:
    stmt = _memberships(SpaceScope(space_id)).order_by(Membership.role, func.lower(User.name))
    return [_membership_record(row) for row in (await db.execute(stmt)).all()]


async def spaces_of(db: AsyncSession, user_id: str) -> list[MembershipRecord]:
    """The person's memberships, by space name."""
    stmt = _memberships().where(Membership.user_id == user_id).order_by(func.lower(Space.name))
    return [_membership_record(row) for row in (await db.execute(stmt)).all()]


def space_url(settings: Settings, space: SpaceRef) -> str:
    """The canonical URL of a space: its custom domain if set, else its subdomain."""
    if space.custom_domain:
        return settings.custom_domain_url(space.custom_domain)
    return settings.space_url(space.subdomain)


def membership_api_url(settings: Settings, subdomain: str, membership_id: str) -> str:
    """Where the API serves one membership (``GET /api/memberships/<id>`` on the space's host)."""
    return f"{settings.space_url(subdomain)}/api/memberships/{membership_id}"


def user_api_url(settings: Settings, subdomain: str, user_id: str) -> str:
    """Where the space's host serves a person connected to an app (``GET /api/users/<id>``)."""
    return f"{settings.space_url(subdomain)}/api/users/{user_id}"


# ---- changing ----------------------------------------------------------------------------------


async def create_space(
    db: AsyncSession,
    settings: Settings,
    *,
    subdomain: str,
    name: str,
    owner: Person,
    custom_domain: str | None = None,
    domain_verified: bool = False,
) -> SpaceRef:
    """Create a space owned (and administered) by ``owner``. A custom domain waits for its
    DNS proof (services/domains.py) unless ``domain_verified`` (the operator vouches for it:
    the CLI, seed files) or development skips the proof for it."""
    sub = validate_subdomain(subdomain)
    clean = clean_name(name)
    domain = validate_custom_domain(custom_domain, settings)
    if await get_by_subdomain(db, sub) is not None:
        raise FieldError("subdomain", N_("The subdomain “{subdomain}” is taken."), subdomain=sub)
    if domain and await get_by_custom_domain(db, domain) is not None:
        raise FieldError("custom_domain", N_("{domain} is already used by another space."), domain=domain)
    served = domain if domain and (domain_verified or domains.skips_verification(settings, domain)) else None
    space_id = new_id()
    values = {"id": space_id, "subdomain": sub, "name": clean, "custom_domain": served, "owner_id": owner.id}
    if domain and not served:
        values |= {"pending_domain": domain, "domain_token": new_id()}
    if not await insert_unless_taken(db, Space, values):
        raise FieldError("subdomain", N_("That subdomain or domain was just taken."))
    # The owner's own membership takes effect with the space (docs/compatibility.md).
    db.add(
        Membership(
            space_id=space_id, user_id=owner.id, role="admin", admin_name=owner.name, confirmed_at=utcnow()
        )
    )
    await db.flush()
    return SpaceRef(id=space_id, subdomain=sub, name=clean, custom_domain=served, owner_id=owner.id)


async def update_space(
    db: AsyncSession, settings: Settings, space_id: str, *, name: str, custom_domain: str | None
) -> SpaceRef:
    """Rename the space and set or clear its custom domain; validates everything first. A new
    domain waits for its DNS proof (services/domains.py; the served one, if any, stays until
    then) unless development skips the proof for it; clearing it stops serving it at once."""
    clean = clean_name(name)
    domain = validate_custom_domain(custom_domain, settings)
    row = await _space_row(db, space_id)
    if row is None:
        raise NotFound("No such space.")
    if domain and domain != row.custom_domain:
        other = await get_by_custom_domain(db, domain)
        if other is not None and other.id != space_id:
            raise FieldError("custom_domain", N_("{domain} is already used by another space."), domain=domain)
        if domains.skips_verification(settings, domain):
            # Claimed first, so that two spaces racing for it get a readable answer.
            claim = (
                update(Space).where(Space.id == space_id).values(custom_domain=domain, pending_domain=None)
            )
            if not await update_unless_taken(db, claim):
                raise FieldError(
                    "custom_domain", N_("{domain} is already used by another space."), domain=domain
                )
            await db.refresh(row)
        else:
            domains.ask_for(row, domain)
    elif domain is None:
        row.custom_domain = None
        row.pending_domain = None
    elif domain == row.custom_domain:
        row.pending_domain = None  # back to the served one: nothing waits any more
    row.name = clean
    await db.flush()
    return space_of(row)


async def add_member(
    db: AsyncSession,
    space: SpaceRef,
    *,
    email: str,
    role: str = "member",
    admin_name: str | None = None,
    confirmed: bool = True,
) -> MembershipRecord:
    """Add an existing account to the space, or change the role of one already in it.

    A new membership is confirmed at once (``confirmed_at`` now): the person's access starts
    when an admin adds them, or when they accept an invitation (services/invitations.py calls
    this then). A platform with an acceptance
    step passes ``confirmed=False`` and calls :func:`confirm_membership` when the person
    accepts (docs/compatibility.md, "Memberships")."""
    if role not in ROLES:
        raise FieldError("role", N_("Role must be member or admin."))
    user = await find_by_email(db, email)
    if user is None:
        raise FieldError("email", N_("No account uses this email address; ask them to sign up first."))
    display = clean_name(admin_name or "", field="admin_name", required=False) or None
    name_as_admin = (display or user.name) if role == "admin" else None
    row = await _membership_row(db, space.id, user_id=user.id)
    if row is None:
        values = {
            "id": new_id(),
            "space_id": space.id,
            "user_id": user.id,
            "role": role,
            "admin_name": name_as_admin,
            "confirmed_at": utcnow() if confirmed else None,
        }
        if not await insert_unless_taken(db, Membership, values):
            raise Conflict("That person was added at the same moment; reload the page.")
        await record_event(
            db,
            events.MEMBERSHIP_CREATED,
            user_id=user.id,
            space_id=space.id,
            detail={"membership_id": values["id"], "role": role},
        )
    elif row.role == role:
        raise FieldError(
            "email",
            N_("{email} is already an admin.") if role == "admin" else N_("{email} is already a member."),
            email=user.email,
        )
    else:
        _ensure_admin_remains(space, row, role)
        row.role = role
        row.admin_name = name_as_admin
        await db.flush()
        await record_event(
            db,
            events.MEMBERSHIP_CHANGED,
            user_id=user.id,
            space_id=space.id,
            detail={"membership_id": row.id, "role": role, "change": "role"},
        )
    found = await membership_of(db, space.id, user.id)
    assert found is not None
    return found


def _ensure_admin_remains(space: SpaceRef, membership: Membership, new_role: str | None) -> None:
    if membership.user_id == space.owner_id and new_role != "admin":
        raise FieldError("role", N_("The owner of the space is always an admin."))


async def _membership_row(
    db: AsyncSession, space_id: str, *, membership_id: str | None = None, user_id: str | None = None
) -> Membership | None:
    stmt = SpaceScope(space_id).select(Membership)
    if membership_id is not None:
        stmt = stmt.where(Membership.id == membership_id)
    if user_id is not None:
        stmt = stmt.where(Membership.user_id == user_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def _existing_membership(db: AsyncSession, space: SpaceRef, membership_id: str) -> Membership:
    membership = await _membership_row(db, space.id, membership_id=membership_id)
    if membership is None:
        raise NotFound("No such member in this space.")
    return membership


async def change_role(db: AsyncSession, space: SpaceRef, membership_id: str, role: str) -> MembershipRecord:
    if role not in ROLES:
        raise FieldError("role", N_("Role must be member or admin."))
    membership = await _existing_membership(db, space, membership_id)
    _ensure_admin_remains(space, membership, role)
    membership.role = role
    if role == "admin" and not membership.admin_name:
        user = await db.get(User, membership.user_id)
        membership.admin_name = user.name if user is not None else None
    if role == "member":
        membership.admin_name = None
    await db.flush()
    await record_event(
        db,
        events.MEMBERSHIP_CHANGED,
        user_id=membership.user_id,
        space_id=space.id,
        detail={"membership_id": membership_id, "role": role, "change": "role"},
    )
    found = await get_membership(db, space.id, membership_id)
    assert found is not None
    return found


async def remove_member(db: AsyncSession, space: SpaceRef, membership_id: str) -> None:
    membership = await _existing_membership(db, space, membership_id)
    _ensure_admin_remains(space, membership, None)
    await record_event(
        db,
        events.MEMBERSHIP_REMOVED,
        user_id=membership.user_id,
        space_id=space.id,
        detail={"membership_id": membership_id},
    )
    await db.delete(membership)
    await db.flush()


# ---- Cobot's membership fields (docs/compatibility.md, "Memberships") ----------------------------


async def _membership_by_id(db: AsyncSession, membership_id: str, space_id: str | None) -> Membership:
    if space_id is not None:
        row = await _membership_row(db, space_id, membership_id=membership_id)
    else:
        # The operator's admin API works across spaces: a membership id names one space's row.
        row = await db.get(Membership, membership_id)
    if row is None:
        raise NotFound("No such membership.")
    return row


async def _record(
    db: AsyncSession, row: Membership, change: dict[str, Any] | None = None
) -> MembershipRecord:
    """The membership as it is now; with ``change``, the ``membership.changed`` event saying what."""
    await db.flush()
    if change is not None:
        await record_event(
            db,
            events.MEMBERSHIP_CHANGED,
            user_id=row.user_id,
            space_id=row.space_id,
            detail={"membership_id": row.id, **change},
        )
    found = await get_membership(db, row.space_id, row.id)
    assert found is not None
    return found


async def record_memberships_removed(
    db: AsyncSession, memberships: list[tuple[str, str, str]], reason: str
) -> None:
    """``membership.removed`` for each (membership id, space id, user id) that goes with a
    deleted space, account or the like (``reason``), recorded before the rows go."""
    for membership_id, space_id, user_id in memberships:
        await record_event(
            db,
            events.MEMBERSHIP_REMOVED,
            user_id=user_id,
            space_id=space_id,
            detail={"membership_id": membership_id, "reason": reason},
        )


async def confirm_membership(
    db: AsyncSession, membership_id: str, at: datetime | None = None, *, space_id: str | None = None
) -> MembershipRecord:
    """Record that the membership took effect (Cobot's ``confirmed_at``: the person accepted
    it). ``at`` defaults to now and must carry a time zone; confirming a confirmed membership
    again without ``at`` keeps its date (repeating a call changes nothing). ``space_id``
    restricts the lookup to one space."""
    if at is not None and at.tzinfo is None:
        raise FieldError("confirmed_at", N_("Give the time with its time zone (UTC offset)."))
    row = await _membership_by_id(db, membership_id, space_id)
    before = row.confirmed_at
    if at is not None:
        row.confirmed_at = at
    elif row.confirmed_at is None:
        row.confirmed_at = utcnow()
    confirmed = row.confirmed_at.isoformat() if row.confirmed_at is not None else None
    change = {"change": "confirmed", "confirmed_at": confirmed} if row.confirmed_at != before else None
    return await _record(db, row, change)


def _as_date(value: date | str | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise FieldError("canceled_to", N_("Give the last day as a date, like 2027-01-31.")) from None


async def cancel_membership(
    db: AsyncSession, membership_id: str, canceled_to: date | str | None, *, space_id: str | None = None
) -> MembershipRecord:
    """Cancel the membership as of ``canceled_to`` (its last day, Cobot's ``canceled_to``; a
    date or ``YYYY-MM-DD``); ``None`` withdraws a cancellation. The membership and its access
    stay until it is removed: the platform removes it when the day has passed."""
    day = _as_date(canceled_to)
    row = await _membership_by_id(db, membership_id, space_id)
    change = None
    if row.canceled_to != day:
        what = "canceled" if day is not None else "uncanceled"
        change = {"change": what, "canceled_to": day.isoformat() if day is not None else None}
    row.canceled_to = day
    return await _record(db, row, change)


async def delete_space(db: AsyncSession, space: SpaceRef, *, by: str | None = None) -> int:
    """Revoke every token issued for the space, then delete it with its memberships,
    consents, navigation links and pending codes (the database cascades). What goes with it
    is recorded first, as if taken away one by one: ``membership.removed`` for each membership,
    the space tokens' revocation per app (grants.revoke_space_app), ``consent.revoked`` for
    each consent given on its host. The CLI and the admin API both delete through here.
    Returns how many apps' space tokens were revoked."""
    # Imported here: grants imports this module.
    from frontdesk.services import grants
    from frontdesk.store.models import AccessToken, Consent

    row = await _space_row(db, space.id)
    if row is None:
        raise NotFound(f"no space with subdomain {space.subdomain}")
    holders = SpaceScope(space.id).select(AccessToken).with_only_columns(AccessToken.app_id).distinct()
    client_ids = list((await db.execute(holders)).scalars())
    for client_id in client_ids:
        await grants.revoke_space_app(db, space.id, client_id, by=by)
    members = (await db.execute(SpaceScope(space.id).select(Membership).order_by(Membership.id))).scalars()
    await record_memberships_removed(
        db, [(m.id, m.space_id, m.user_id) for m in members], reason="space_deleted"
    )
    await grants.record_consents_revoked(db, Consent.space_id == space.id, reason="space_deleted")
    await db.delete(row)
    await db.flush()
    return len(client_ids)
