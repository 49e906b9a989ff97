"""Invitations to a space by email (the space's members page; docs/guide.md, "Accounts").

A space admin invites an address with a role. The invitation's link carries a random token
(``fdel_…``, like every emailed link: services/email_links.py); the database keeps only its
digest. The link works once, for ``invitation_days``, on the space's own host. Accepting it
(an account that is logged in, or one created from the invitation, whose address is then
verified: the link reached it) creates the membership through ``services/spaces.add_member``,
confirmed at the moment of acceptance, so its event and webhooks are the usual ones. Nothing
here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.mail import messages
from frontdesk.oauth.models import Person
from frontdesk.records import SpaceRef
from frontdesk.security.passwords import Passwords
from frontdesk.security.randoms import EMAIL_LINK_PREFIX, new_id, new_secret
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import accounts, spaces
from frontdesk.services.email_links import EXPIRED, UNKNOWN
from frontdesk.store import email_outbox
from frontdesk.store.audit_storage import record_event
from frontdesk.store.models import Invitation, User
from frontdesk.store.scoping import SpaceScope
from frontdesk.store.types import utcnow

PATH: Final = "/invitation"
USED: Final = "This invitation has been used already."
REVOKED: Final = "This invitation was withdrawn. Ask the space's admins for a new one."
ROLE_WORDS: Final = {"member": N_("a member"), "admin": N_("an admin")}
# Who invites, in the message, when the platform does (the admin API).
PLATFORM: Final = "Frontdesk"


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    invited_by: str | None  # the inviter's name, while their account exists


@dataclass(frozen=True, slots=True)
class InvitationState:
    """What an invitation link leads to: the invitation, whether an account has its address,
    or why it cannot be used (``problem``)."""

    invitation: InvitationRecord | None
    account_exists: bool = False
    problem: str | None = None


def _record(row: Invitation, inviter: str | None) -> InvitationRecord:
    return InvitationRecord(row.id, row.email, row.role, row.created_at, row.expires_at, inviter)


async def _inviter_name(db: AsyncSession, user_id: str | None) -> str | None:
    user = await db.get(User, user_id) if user_id else None
    return user.name if user is not None else None


async def pending(db: AsyncSession, space_id: str) -> list[InvitationRecord]:
    """The space's invitations that can still be accepted, newest first."""
    stmt = (
        SpaceScope(space_id)
        .select(Invitation)
        .where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc(), Invitation.id)
    )
    rows = list((await db.execute(stmt)).scalars())
    names = {uid: await _inviter_name(db, uid) for uid in {r.invited_by for r in rows if r.invited_by}}
    return [_record(r, names.get(r.invited_by or "")) for r in rows]


async def invite(
    db: AsyncSession,
    server_secret: ServerSecret,
    space: SpaceRef,
    *,
    email: str,
    role: str,
    inviter: Person | None,
    origin: str,
    days: float,
    ip: str = "",
) -> InvitationRecord:
    """Invite ``email`` to the space as ``role``: the link (to ``origin``, the space's host)
    goes out by email (the outbox, in this transaction); an earlier pending invitation of the
    address is replaced. ``inviter``: the admin who invites (None: the platform, admin API).
    :class:`FieldError` for a malformed address, a bad role, or an address whose account is
    a member already."""
    if role not in spaces.ROLES:
        raise FieldError("role", N_("Role must be member or admin."))
    display, key = accounts.normalize_email(email)
    person = await accounts.find_by_email(db, display)
    if person is not None and await spaces.membership_of(db, space.id, person.id) is not None:
        raise FieldError(
            "email", N_("{email} is already a member of {space}."), email=person.email, space=space.name
        )
    now = utcnow()
    await db.execute(
        SpaceScope(space.id)
        .update(Invitation)
        .where(
            Invitation.email_key == key,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = new_secret(EMAIL_LINK_PREFIX)
    row = Invitation(
        id=new_id(),
        space_id=space.id,
        email=display,
        email_key=key,
        role=role,
        token_digest=server_secret.digest(token),
        invited_by=inviter.id if inviter is not None else None,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.add(row)
    await db.flush()
    await email_outbox.enqueue(
        db,
        server_secret,
        to=display,
        template=messages.INVITATION,
        context={
            "link": f"{origin}{PATH}?{urlencode({'token': token})}",
            "space": space.name,
            "inviter": inviter.name if inviter is not None else PLATFORM,
            "email": display,
            "role_words": ROLE_WORDS[role],
            "days": f"{days:g}",
            # The invitee's language if they have an account, else the inviter's.
            "locale": await accounts.locale_for(db, person.id if person is not None else None)
            or await accounts.locale_for(db, inviter.id if inviter is not None else None),
        },
    )
    await record_event(
        db,
        events.INVITATION_SENT,
        user_id=inviter.id if inviter is not None else None,
        space_id=space.id,
        ip=ip,
        detail={"invitation_id": row.id, "role": role},
    )
    return _record(row, inviter.name if inviter is not None else None)


async def revoke(
    db: AsyncSession, space: SpaceRef, invitation_id: str, *, by: str | None, ip: str = ""
) -> str:
    """Withdraw a pending invitation (its link stops working); returns its address.
    :class:`NotFound` when the space has no such pending invitation."""
    row = (
        await db.execute(SpaceScope(space.id).select(Invitation).where(Invitation.id == invitation_id))
    ).scalar_one_or_none()
    if row is None or row.accepted_at is not None or row.revoked_at is not None:
        raise NotFound("No such pending invitation.")
    row.revoked_at = utcnow()
    await db.flush()
    await record_event(
        db,
        events.INVITATION_REVOKED,
        user_id=by,
        space_id=space.id,
        ip=ip,
        detail={"invitation_id": row.id},
    )
    return row.email


async def _find(
    db: AsyncSession, server_secret: ServerSecret, token: str, space: SpaceRef
) -> tuple[Invitation | None, str | None]:
    if not token.startswith(EMAIL_LINK_PREFIX) or len(token) > 100:
        return None, UNKNOWN
    stmt = (
        SpaceScope(space.id).select(Invitation).where(Invitation.token_digest == server_secret.digest(token))
    )
    row = (await db.execute(stmt)).scalar_one_or_none()
    if row is None:  # also a link of another space's invitation: it works on that host only
        return None, UNKNOWN
    if row.accepted_at is not None:
        return row, USED
    if row.revoked_at is not None:
        return row, REVOKED
    if row.expires_at <= utcnow():
        return row, EXPIRED
    return row, None


async def check(
    db: AsyncSession, server_secret: ServerSecret, token: str, space: SpaceRef
) -> InvitationState:
    """Whether ``token`` is a usable invitation to ``space`` (reads only; the page shows it)."""
    row, problem = await _find(db, server_secret, token, space)
    if row is None or problem is not None:
        return InvitationState(None, problem=problem)
    exists = await accounts.find_by_email(db, row.email) is not None
    return InvitationState(_record(row, await _inviter_name(db, row.invited_by)), exists)


@dataclass(frozen=True, slots=True)
class Accepted:
    """The outcome of accepting: the membership, or that the person was a member already."""

    invitation: InvitationRecord
    already_member: bool


async def accept(
    db: AsyncSession,
    server_secret: ServerSecret,
    token: str,
    space: SpaceRef,
    person: Person,
    *,
    ip: str = "",
) -> Accepted | InvitationState:
    """Use the invitation for ``person``: the link is spent (of concurrent uses one wins) and
    the membership is created with the invitation's role, confirmed now. A person who is a
    member already keeps their membership as it is. When the person's address is the invited
    one it counts as verified. Returns an :class:`InvitationState` with the problem when the
    link cannot be used."""
    row, problem = await _find(db, server_secret, token, space)
    if row is None or problem is not None:
        return InvitationState(None, problem=problem)
    now = utcnow()
    won = await db.execute(
        SpaceScope(space.id)
        .update(Invitation)
        .where(Invitation.id == row.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .values(accepted_at=now, accepted_by=person.id)
    )
    if not won.rowcount:  # type: ignore[attr-defined]
        return InvitationState(None, problem=USED)
    record = _record(row, await _inviter_name(db, row.invited_by))
    user = await db.get(User, person.id)
    if user is not None and user.email_key == row.email_key and user.email_verified_at is None:
        user.email_verified_at = now
        await db.flush()
        await record_event(db, events.EMAIL_VERIFIED, user_id=person.id, ip=ip)
    await record_event(
        db,
        events.INVITATION_ACCEPTED,
        user_id=person.id,
        space_id=space.id,
        ip=ip,
        detail={"invitation_id": row.id, "role": row.role},
    )
    if await spaces.membership_of(db, space.id, person.id) is not None:
        return Accepted(record, already_member=True)
    await spaces.add_member(db, space, email=person.email, role=row.role, confirmed=True)
    return Accepted(record, already_member=False)


async def sign_up_and_accept(
    db: AsyncSession,
    passwords: Passwords,
    server_secret: ServerSecret,
    token: str,
    space: SpaceRef,
    *,
    name: str,
    password: str,
    ip: str = "",
) -> tuple[Person | None, Accepted | InvitationState]:
    """Create an account for the invited address (verified: the link reached it) and accept
    the invitation with it. :class:`FieldError` as at sign-up (``email`` when an account has
    the address: then log in and accept). Returns the person (None when the link is
    unusable) and the outcome."""
    row, problem = await _find(db, server_secret, token, space)
    if row is None or problem is not None:
        return None, InvitationState(None, problem=problem)
    person = await accounts.create_user(
        db, passwords, email=row.email, password=password, name=name, email_verified=True
    )
    return person, await accept(db, server_secret, token, space, person, ip=ip)
