"""Links sent by email: address verification and password reset (docs/guide.md, "Accounts").

A link carries a random token (``fdel_…``, 256 bits); the database keeps only its digest
(``ServerSecret.digest``) in ``email_links``, and the message that carries it goes into the
email outbox (``store/email_outbox.py``) in the caller's transaction, its values sealed. A link
is used at most once: one conditional ``UPDATE`` marks it used, and of concurrent uses one
wins. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import FieldError
from frontdesk.i18n import N_
from frontdesk.mail import messages
from frontdesk.oauth.models import Person
from frontdesk.oauth.storage import RevokedGrant
from frontdesk.security.passwords import Passwords, check_password_strength
from frontdesk.security.randoms import EMAIL_LINK_PREFIX, new_secret
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import accounts, grants
from frontdesk.store import email_outbox
from frontdesk.store.audit_storage import record_event
from frontdesk.store.inserts import update_unless_taken
from frontdesk.store.models import EmailLink, User
from frontdesk.store.revocation import revoke_grant
from frontdesk.store.sql_storage import person_of
from frontdesk.store.types import utcnow

VERIFY: Final = "verify"
RESET: Final = "reset"
VERIFY_PATH: Final = "/account/verify"
RESET_PATH: Final = "/password/reset"
CHANGE: Final = "change"
CHANGE_PATH: Final = "/account/email/confirm"


def link_url(origin: str, path: str, token: str) -> str:
    return f"{origin}{path}?{urlencode({'token': token})}"


async def _new_link(
    db: AsyncSession,
    server_secret: ServerSecret,
    user: User,
    purpose: str,
    ttl: timedelta,
    new_email: str | None = None,
) -> str:
    token = new_secret(EMAIL_LINK_PREFIX)
    now = utcnow()
    db.add(
        EmailLink(
            id=server_secret.digest(token),
            user_id=user.id,
            purpose=purpose,
            email_key=user.email_key,
            created_at=now,
            expires_at=now + ttl,
            new_email=new_email,
        )
    )
    await db.flush()
    return token


# ---- verification ------------------------------------------------------------------------------


async def send_verification(
    db: AsyncSession, server_secret: ServerSecret, user_id: str, *, origin: str, hours: float, ip: str = ""
) -> bool:
    """Queue a verification link for the account's address (valid ``hours``, used once);
    False when there is nothing to verify (verified already, or no such account)."""
    user = await db.get(User, user_id)
    if user is None or user.email_verified_at is not None:
        return False
    token = await _new_link(db, server_secret, user, VERIFY, timedelta(hours=hours))
    await email_outbox.enqueue(
        db,
        server_secret,
        to=user.email,
        template=messages.VERIFY,
        context={
            "link": link_url(origin, VERIFY_PATH, token),
            "name": user.name,
            "email": user.email,
            "hours": f"{hours:g}",
            "locale": user.locale,
        },
    )
    await record_event(db, events.EMAIL_VERIFICATION_SENT, user_id=user.id, ip=ip)
    return True


@dataclass(frozen=True, slots=True)
class LinkState:
    """What a link's token leads to: the account, or why not (``problem``)."""

    person: Person | None
    problem: str | None = None


EXPIRED = "This link has expired. Ask for a new one."
USED = "This link has been used already. Ask for a new one if you still need it."
UNKNOWN = "This link is not valid. Check that you copied all of it, or ask for a new one."


async def _find(
    db: AsyncSession, server_secret: ServerSecret, token: str, purpose: str
) -> tuple[EmailLink | None, User | None, str | None]:
    if not token.startswith(EMAIL_LINK_PREFIX) or len(token) > 100:
        return None, None, UNKNOWN
    link = await db.get(EmailLink, server_secret.digest(token))
    if link is None or link.purpose != purpose:
        return None, None, UNKNOWN
    if link.used_at is not None:
        return link, None, USED
    if link.expires_at <= utcnow():
        return link, None, EXPIRED
    user = await db.get(User, link.user_id)
    if user is None or user.email_key != link.email_key or user.disabled_at is not None:
        return link, None, UNKNOWN  # the address changed since, or the account is disabled
    return link, user, None


async def check_link(db: AsyncSession, server_secret: ServerSecret, token: str, purpose: str) -> LinkState:
    """Whether ``token`` is a usable link for ``purpose`` (reads only; the pages show the form)."""
    _, user, problem = await _find(db, server_secret, token, purpose)
    return LinkState(person_of(user) if user is not None else None, problem)


async def _use(db: AsyncSession, link: EmailLink, now: datetime) -> bool:
    """Mark the link used; False when a concurrent use won."""
    result = await db.execute(
        update(EmailLink)
        .where(EmailLink.id == link.id, EmailLink.used_at.is_(None), EmailLink.expires_at > now)
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def verify(db: AsyncSession, server_secret: ServerSecret, token: str, *, ip: str = "") -> LinkState:
    """Use a verification link: the account's address is verified from now on."""
    link, user, problem = await _find(db, server_secret, token, VERIFY)
    if user is None or link is None:
        return LinkState(None, problem)
    now = utcnow()
    if not await _use(db, link, now):
        return LinkState(None, USED)
    if user.email_verified_at is None:
        user.email_verified_at = now
        await db.flush()
        await record_event(db, events.EMAIL_VERIFIED, user_id=user.id, ip=ip)
    return LinkState(person_of(user))


# ---- password reset ----------------------------------------------------------------------------


async def request_reset(
    db: AsyncSession,
    server_secret: ServerSecret,
    email: str,
    *,
    origin: str,
    minutes: float,
    ip: str = "",
    locale: str | None = None,
) -> None:
    """Queue a reset link for the account with this address (in its language), or, with no
    (usable) account, a message saying so (in ``locale``, the page's language), so that the
    work and the answer are the same either way: one outbox row, sealed, in the caller's
    transaction. Raises :class:`FieldError` for a malformed address only."""
    display, key = accounts.normalize_email(email)
    user = (await db.execute(select(User).where(User.email_key == key))).scalar_one_or_none()
    if user is None or user.disabled_at is not None:
        await email_outbox.enqueue(
            db,
            server_secret,
            to=display,
            template=messages.RESET_UNKNOWN,
            context={"link": f"{origin}/signup", "email": display, "locale": locale},
        )
        # Recorded like a sent link (the same deferred write), without an account.
        await record_event(db, events.PASSWORD_RESET_SENT, ip=ip, detail={"account": False})
        return
    token = await _new_link(db, server_secret, user, RESET, timedelta(minutes=minutes))
    await email_outbox.enqueue(
        db,
        server_secret,
        to=user.email,
        template=messages.RESET,
        context={
            "link": link_url(origin, RESET_PATH, token),
            "name": user.name,
            "minutes": f"{minutes:g}",
            "locale": user.locale,
        },
    )
    await record_event(db, events.PASSWORD_RESET_SENT, user_id=user.id, ip=ip, detail={"account": True})


async def reset_password(
    db: AsyncSession,
    passwords: Passwords,
    server_secret: ServerSecret,
    token: str,
    password: str,
    *,
    sign_out_apps: bool,
    ip: str = "",
) -> LinkState:
    """Use a reset link: a new password (checked like at sign-up), every other reset link of
    the account void, and, with ``sign_out_apps``, every token of the account revoked. The
    caller ends the account's browser sessions. Raises :class:`FieldError` for a weak
    password (the link stays usable). Opening a reset link proves the address too."""
    link, user, problem = await _find(db, server_secret, token, RESET)
    if user is None or link is None:
        return LinkState(None, problem)
    weak = check_password_strength(password, email=user.email)
    if weak:
        raise FieldError("password", weak)
    new_hash = await passwords.hash(password)
    now = utcnow()
    if not await _use(db, link, now):
        return LinkState(None, USED)
    user.password_hash = new_hash
    if user.email_verified_at is None:
        user.email_verified_at = now
    await db.execute(
        update(EmailLink)
        # A pending email change goes too: the notice to the old address says a reset cancels it.
        .where(
            EmailLink.user_id == user.id, EmailLink.purpose.in_((RESET, CHANGE)), EmailLink.used_at.is_(None)
        )
        .values(used_at=now)
    )
    await db.flush()
    await record_event(
        db, events.PASSWORD_RESET_USED, user_id=user.id, ip=ip, detail={"signed_out_apps": sign_out_apps}
    )
    if sign_out_apps:
        await revoke_everything(db, user.id, ip=ip)
    return LinkState(person_of(user))


async def revoke_everything(db: AsyncSession, user_id: str, *, ip: str = "") -> RevokedGrant:
    """Revoke every grant the person gave apps and the space tokens they created, through
    ``store/revocation.revoke_grant`` (the selection of ``services/grants.user_grants``)."""
    results = [await revoke_grant(db, s, descendants=True) for s in await grants.user_grants(db, user_id)]
    ids = tuple(i for r in results for i in r.access_token_ids)
    total = RevokedGrant(
        access_token_ids=ids,
        refresh_tokens=sum(r.refresh_tokens for r in results),
        codes=sum(r.codes for r in results),
        consents=sum(r.consents for r in results),
    )
    if total.anything:
        await record_event(
            db,
            events.TOKEN_REVOKED,
            user_id=user_id,
            ip=ip,
            detail={
                "by": "user",
                "count": len(ids),
                "refresh_tokens": total.refresh_tokens,
                "token_ids": list(ids[: grants.MAX_IDS]),
            },
        )
    return total


# ---- change password (the account page) ---------------------------------------------------------


async def change_password(
    db: AsyncSession, passwords: Passwords, user_id: str, *, current: str, new: str, ip: str = ""
) -> Person:
    """Set a new password when ``current`` is right (:class:`FieldError` ``current_password``
    otherwise, or ``password`` for a weak one). The caller ends the other sessions."""
    user = await db.get(User, user_id)
    if user is None:
        raise FieldError("current_password", N_("Wrong password."))
    ok, _ = await passwords.verify(user.password_hash, current)
    if not ok:
        raise FieldError("current_password", N_("That is not your current password."))
    weak = check_password_strength(new, email=user.email)
    if weak:
        raise FieldError("password", weak)
    user.password_hash = await passwords.hash(new)
    await db.flush()
    await record_event(db, events.PASSWORD_CHANGED, user_id=user.id, ip=ip)
    return person_of(user)


# ---- change email (the account page) ------------------------------------------------------------

TAKEN: Final = "An account with this email address already exists."


async def request_email_change(
    db: AsyncSession,
    passwords: Passwords,
    server_secret: ServerSecret,
    user_id: str,
    *,
    current: str,
    new_email: str,
    origin: str,
    hours: float,
    ip: str = "",
) -> str:
    """Ask to move the account to ``new_email`` when ``current`` is the password
    (:class:`FieldError` ``current_password``; ``email`` for a malformed, unchanged or taken
    address, worded like sign-up's). A link valid ``hours`` goes to the new address (earlier
    unused ones are void) and a notice without it to the old one; the address changes only
    when the link is used (:func:`confirm_email_change`). Returns the new address."""
    user = await db.get(User, user_id)
    if user is None:
        raise FieldError("current_password", N_("Wrong password."))
    ok, _ = await passwords.verify(user.password_hash, current)
    if not ok:
        raise FieldError("current_password", N_("That is not your current password."))
    display, key = accounts.normalize_email(new_email)
    if key == user.email_key:
        raise FieldError("email", N_("That is your address already."))
    if await accounts.find_by_email(db, display) is not None:
        raise FieldError("email", TAKEN)
    now = utcnow()
    await db.execute(
        update(EmailLink)
        .where(EmailLink.user_id == user.id, EmailLink.purpose == CHANGE, EmailLink.used_at.is_(None))
        .values(used_at=now)
    )
    token = await _new_link(db, server_secret, user, CHANGE, timedelta(hours=hours), new_email=display)
    await email_outbox.enqueue(
        db,
        server_secret,
        to=display,
        template=messages.EMAIL_CHANGE,
        context={
            "link": link_url(origin, CHANGE_PATH, token),
            "name": user.name,
            "email": display,
            "old_email": user.email,
            "hours": f"{hours:g}",
            "locale": user.locale,
        },
    )
    await email_outbox.enqueue(
        db,
        server_secret,
        to=user.email,
        template=messages.EMAIL_CHANGE_NOTICE,
        context={
            "link": f"{origin}/password/forgot",
            "name": user.name,
            "email": user.email,
            "new_email": display,
            "locale": user.locale,
        },
    )
    await record_event(db, events.EMAIL_CHANGE_REQUESTED, user_id=user.id, ip=ip)
    return display


@dataclass(frozen=True, slots=True)
class ChangeState:
    """What an email-change link leads to: the account and the address it confirms, or why not."""

    person: Person | None
    new_email: str = ""
    problem: str | None = None


async def check_email_change(db: AsyncSession, server_secret: ServerSecret, token: str) -> ChangeState:
    """Whether ``token`` is a usable email-change link (reads only)."""
    link, user, problem = await _find(db, server_secret, token, CHANGE)
    if user is None or link is None or link.new_email is None:
        return ChangeState(None, problem=problem or UNKNOWN)
    return ChangeState(person_of(user), link.new_email)


async def confirm_email_change(
    db: AsyncSession, server_secret: ServerSecret, token: str, *, ip: str = ""
) -> ChangeState:
    """Use an email-change link: the account's address becomes the new one, verified (the link
    reached it). Refused (the link unused) when another account took the address meanwhile;
    ``user.updated`` is recorded (and sent to webhooks) by the one recorder."""
    link, user, problem = await _find(db, server_secret, token, CHANGE)
    if user is None or link is None or link.new_email is None:
        return ChangeState(None, problem=problem or UNKNOWN)
    display, key = accounts.normalize_email(link.new_email)
    if await accounts.find_by_email(db, display) is not None:
        return ChangeState(None, display, TAKEN)
    now = utcnow()
    if not await _use(db, link, now):
        return ChangeState(None, problem=USED)
    claim = (
        update(User)
        .where(User.id == user.id)
        .values(email=display, email_key=key, email_verified_at=now, updated_at=now)
    )
    if not await update_unless_taken(db, claim):  # lost a race with a sign-up for it
        return ChangeState(None, display, TAKEN)
    await db.refresh(user)
    await record_event(
        db, events.USER_UPDATED, user_id=user.id, ip=ip, detail={"fields": ["email", "email_verified"]}
    )
    return ChangeState(person_of(user), display)
