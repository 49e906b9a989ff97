"""A person deleting their own account (the account page; docs/guide.md, "Accounts").

What goes is spelled out first (:func:`preview`), then the account is deleted through
``services/accounts.delete_user``, the one path the CLI and the admin API use too: it refuses
while the person owns spaces, deletes the apps they registered (revoking every token those
apps hold) and revokes the tokens they gave apps. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Conflict, FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.records import MembershipRecord, SpaceRef
from frontdesk.security.passwords import Passwords
from frontdesk.services import accounts, apps, grants, spaces
from frontdesk.store.models import Space, User
from frontdesk.store.sql_storage import space_of

# What a person types to confirm, besides their email address.
CONFIRM_WORD = "delete"


@dataclass(frozen=True)
class Preview:
    """What deleting the account would take with it."""

    owned_spaces: list[SpaceRef]  # deletion is refused while there are any
    memberships: list[MembershipRecord]  # other spaces: the memberships end
    registered_apps: list[str]  # names: deleted, every token they hold revoked
    authorized_apps: list[str]  # names: what the person gave them is revoked

    @property
    def blocked(self) -> bool:
        return bool(self.owned_spaces)


async def preview(db: AsyncSession, user_id: str) -> Preview:
    rows = await db.execute(select(Space).where(Space.owner_id == user_id).order_by(Space.subdomain))
    owned = [space_of(row) for row in rows.scalars()]
    memberships = await spaces.spaces_of(db, user_id)
    return Preview(
        owned_spaces=owned,
        memberships=[m for m in memberships if m.space.owner_id != user_id],
        registered_apps=sorted(app.name for app in await apps.apps_of(db, user_id)),
        authorized_apps=sorted(g.app.name for g in await grants.authorized_apps(db, user_id)),
    )


async def confirm(
    db: AsyncSession, passwords: Passwords, user_id: str, *, password: str, confirmation: str
) -> None:
    """Check the person's confirmation: ``password`` is the account's password
    (:class:`FieldError` ``password``) and ``confirmation`` its email address or "delete"
    (``confirmation``); :class:`Conflict` while they own spaces (as ``delete_user`` would
    answer). Changes nothing: the caller ends the sessions, then calls :func:`delete`."""
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    ok, _ = await passwords.verify(user.password_hash, password)
    if not ok:
        raise FieldError("password", N_("That is not your password."))
    typed = confirmation.strip().casefold()
    if typed not in (CONFIRM_WORD, user.email_key):
        raise FieldError(
            "confirmation", N_("Type your email address or “{word}” to confirm."), word=CONFIRM_WORD
        )
    owned = (await preview(db, user_id)).owned_spaces
    if owned:
        names = ", ".join(space.name for space in owned)
        raise Conflict(
            f"You own {names}: an account that owns spaces cannot be deleted. Ask the people who "
            "run this service to delete those spaces first."
        )


async def delete(db: AsyncSession, user_id: str) -> None:
    """Delete the account through ``accounts.delete_user`` (the path the CLI and the admin
    API use)."""
    await accounts.delete_user(db, user_id)
