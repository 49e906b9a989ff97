"""What apps hold: a person's authorized apps (``/account/apps``) and a space's apps
(``/admin/apps``), and taking it back.

A person's apps are those holding live user tokens (access or refresh) or a remembered consent
of theirs; for information, also the space tokens they created as a space admin (those belong
to the space; its admins revoke them). Revoking takes back everything the person gave the app:
its tokens stop working, pending codes expire, and the consent is forgotten so the next
authorization asks again. Space tokens belong to the space, not to the admin who created them,
so any admin of the space sees and revokes them. Revocation goes through
:func:`frontdesk.store.revocation.revoke_grant` like every other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import FieldError
from frontdesk.i18n import N_
from frontdesk.oauth.models import Client, Person
from frontdesk.oauth.scopes import parse_scope
from frontdesk.oauth.storage import (
    AppGrants,
    FamilyGrant,
    GrantSelector,
    RevokedGrant,
    SpaceAppGrant,
    TokenGrant,
    UserAppGrant,
)
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services.spaces import spaces_of
from frontdesk.store import revocation
from frontdesk.store import webhooks as outbox
from frontdesk.store.audit_storage import record_event
from frontdesk.store.models import AccessToken, App, AuthorizationCode, Consent, RefreshToken, User
from frontdesk.store.scoping import SpaceScope
from frontdesk.store.sql_storage import SqlStorage, client_from_row, person_of
from frontdesk.store.types import utcnow

# How many revoked token ids one audit event lists (the count is always exact).
MAX_IDS = 50


def _add_scopes(scopes: list[str], scope: str) -> None:
    for name in parse_scope(scope):
        if name not in scopes:
            scopes.append(name)


def live(model: type[AccessToken] | type[RefreshToken], now: datetime) -> ColumnElement[bool]:
    """Rows of tokens still good at ``now``: neither revoked nor expired (tokens without expiry
    never expire, docs/decisions.md §5)."""
    return and_(model.revoked_at.is_(None), or_(model.expires_at.is_(None), model.expires_at > now))


async def _clients(db: AsyncSession, client_ids: set[str]) -> dict[str, Client]:
    if not client_ids:
        return {}
    rows = (await db.execute(select(App).where(App.client_id.in_(client_ids)))).scalars()
    return {app.client_id: client_from_row(app) for app in rows}


# ---- a person's apps ---------------------------------------------------------------------------


@dataclass
class AppGrant:
    """What one app holds for the person."""

    app: Client
    scopes: list[str] = field(default_factory=list)
    since: datetime | None = None
    last_used: datetime | None = None
    access_tokens: int = 0
    refresh_tokens: int = 0
    consent: bool = False
    # Names of spaces where the person created space tokens for this app (managed there).
    space_tokens: list[str] = field(default_factory=list)

    @property
    def has_user_access(self) -> bool:
        return bool(self.access_tokens or self.refresh_tokens or self.consent)

    def _add(self, scope: str, created: datetime | None) -> None:
        _add_scopes(self.scopes, scope)
        if created is not None and (self.since is None or created < self.since):
            self.since = created


async def authorized_apps(db: AsyncSession, user_id: str) -> list[AppGrant]:
    """Apps holding live user tokens or a consent of the person, and their space tokens."""
    now = utcnow()
    access = (
        select(
            AccessToken.app_id,
            AccessToken.scope,
            func.count(),
            func.min(AccessToken.created_at),
            func.max(AccessToken.last_used_at),
        )
        .where(AccessToken.user_id == user_id, AccessToken.space_id.is_(None), live(AccessToken, now))
        .group_by(AccessToken.app_id, AccessToken.scope)
    )
    refresh = (
        select(RefreshToken.app_id, RefreshToken.scope, func.count(), func.min(RefreshToken.created_at))
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.space_id.is_(None),
            RefreshToken.rotated_at.is_(None),
            live(RefreshToken, now),
        )
        .group_by(RefreshToken.app_id, RefreshToken.scope)
    )
    consents = select(Consent.app_id, Consent.scope, Consent.created_at).where(Consent.user_id == user_id)

    access_rows = (await db.execute(access)).all()
    refresh_rows = (await db.execute(refresh)).all()
    consent_rows = (await db.execute(consents)).all()
    space_rows = await _space_tokens_of(db, user_id, now)
    app_ids: set[str] = {str(r[0]) for r in [*access_rows, *refresh_rows, *consent_rows]}
    app_ids |= {a for a, _ in space_rows}
    grants = {client_id: AppGrant(app=client) for client_id, client in (await _clients(db, app_ids)).items()}
    for app_id, scope, count, first, last_used in access_rows:
        grant = grants.get(app_id)
        if grant is None:
            continue
        grant.access_tokens += count
        grant._add(scope, first)
        if last_used is not None and (grant.last_used is None or last_used > grant.last_used):
            grant.last_used = last_used
    for app_id, scope, count, first in refresh_rows:
        if app_id in grants:
            grants[app_id].refresh_tokens += count
            grants[app_id]._add(scope, first)
    for app_id, scope, created in consent_rows:
        if app_id in grants:
            grants[app_id].consent = True
            grants[app_id]._add(scope, created)
    for app_id, space_name in space_rows:
        if app_id in grants and space_name not in grants[app_id].space_tokens:
            grants[app_id].space_tokens.append(space_name)
    return sorted(grants.values(), key=lambda g: (not g.has_user_access, g.app.name.lower()))


async def _space_tokens_of(db: AsyncSession, user_id: str, now: datetime) -> list[tuple[str, str]]:
    """(app id, space name) of live space tokens the person created in spaces they
    administer. Space tokens are tenant rows: each space's are read through its
    :class:`SpaceScope`."""
    result: list[tuple[str, str]] = []
    for membership in await spaces_of(db, user_id):
        if not membership.is_admin:
            continue
        stmt = (
            SpaceScope(membership.space.id)
            .select(AccessToken)
            .with_only_columns(AccessToken.app_id)
            .where(AccessToken.user_id == user_id, live(AccessToken, now))
            .distinct()
        )
        result += [(app_id, membership.space.name) for app_id in (await db.execute(stmt)).scalars()]
    return result


async def revoke_app(db: AsyncSession, user_id: str, client_id: str, *, ip: str = "") -> RevokedGrant | None:
    """Take back every user token, pending code and consent the person gave the app (not
    space tokens: they belong to spaces), with the audit events. None when the app does not
    exist or holds nothing of theirs (the same answer either way: it reveals nothing)."""
    if not 0 < len(client_id) <= 64 or await db.get(App, client_id) is None:
        return None
    revoked = await revocation.revoke_grant(db, UserAppGrant(user_id=user_id, client_id=client_id))
    if not revoked.anything:
        return None
    if revoked.consents:
        await record_event(
            db, events.CONSENT_REVOKED, user_id=user_id, app_id=client_id, ip=ip, detail={"by": "user"}
        )
    if revoked.tokens:
        detail = {
            "by": "user",
            "count": len(revoked.access_token_ids),
            "refresh_tokens": revoked.refresh_tokens,
            "token_ids": list(revoked.access_token_ids[:MAX_IDS]),
        }
        await record_event(db, events.TOKEN_REVOKED, user_id=user_id, app_id=client_id, ip=ip, detail=detail)
    return revoked


async def connected_person(db: AsyncSession, *, space_id: str, client_id: str, user_id: str) -> Person | None:
    """The person, if they connected the app on this space's host (a consent of theirs for it
    there: Cobot's ``connected_user``) or are a member of the space; else None."""
    if not 0 < len(user_id) <= 64:
        return None
    # The same connections route Cobot's ``updated_connected_user`` (store/webhooks.py).
    if not (await outbox.connections_of(db, user_id)).link(space_id, client_id):
        return None
    user = await db.get(User, user_id)
    return person_of(user) if user is not None else None


async def record_consents_revoked(db: AsyncSession, condition: ColumnElement[bool], *, reason: str) -> None:
    """``consent.revoked`` for each consent matching ``condition`` that is about to go with a
    deleted account, app or space (``reason``): read, and recorded, before it is deleted, with
    the space whose host it was given on (so that space's subscriptions hear it)."""
    rows = await db.execute(
        select(Consent.user_id, Consent.app_id, Consent.space_id).where(condition).order_by(Consent.id)
    )
    for user_id, app_id, space_id in rows.all():
        await record_event(
            db,
            events.CONSENT_REVOKED,
            user_id=user_id,
            app_id=app_id,
            space_id=space_id,
            detail={"by": "system", "reason": reason},
        )


# ---- a space's apps ----------------------------------------------------------------------------


@dataclass
class SpaceGrant:
    """The live space tokens one app holds for the space."""

    app: Client
    tokens: int = 0
    scopes: list[str] = field(default_factory=list)
    created: datetime | None = None
    last_used: datetime | None = None
    # The people who created them.
    creators: list[Person] = field(default_factory=list)


async def space_grants(db: AsyncSession, space_id: str) -> list[SpaceGrant]:
    stmt = (
        SpaceScope(space_id)
        .select(AccessToken)
        .with_only_columns(
            AccessToken.app_id,
            AccessToken.scope,
            AccessToken.user_id,
            func.count(),
            func.min(AccessToken.created_at),
            func.max(AccessToken.last_used_at),
        )
        .where(live(AccessToken, utcnow()))
        .group_by(AccessToken.app_id, AccessToken.scope, AccessToken.user_id)
    )
    rows = (await db.execute(stmt)).all()
    if not rows:
        return []
    apps = await _clients(db, {r[0] for r in rows})
    user_ids = {r[2] for r in rows}
    users = {
        u.id: person_of(u) for u in (await db.execute(select(User).where(User.id.in_(user_ids)))).scalars()
    }
    grants: dict[str, SpaceGrant] = {}
    for app_id, scope, user_id, count, created, last_used in rows:
        app = apps.get(app_id)
        if app is None:
            continue
        grant = grants.setdefault(app_id, SpaceGrant(app=app))
        grant.tokens += count
        _add_scopes(grant.scopes, scope)
        if created is not None and (grant.created is None or created < grant.created):
            grant.created = created
        if last_used is not None and (grant.last_used is None or last_used > grant.last_used):
            grant.last_used = last_used
        if user_id is None:  # space tokens always have a creator; never the case
            continue
        creator = users.get(user_id) or Person(id=user_id, email="", name="(deleted account)")
        if creator not in grant.creators:
            grant.creators.append(creator)
    return sorted(grants.values(), key=lambda g: g.app.name.lower())


async def revoke_space_app(
    db: AsyncSession, space_id: str, client_id: str, *, by: str | None, ip: str = ""
) -> RevokedGrant | None:
    """Revoke the app's live space tokens for this space, with the audit event (``by``: the
    admin who did it; None when the space itself is being deleted); None when it held none."""
    if not 0 < len(client_id) <= 64 or await db.get(App, client_id) is None:
        return None
    revoked = await revocation.revoke_grant(db, SpaceAppGrant(space_id=space_id, client_id=client_id))
    if not revoked.access_token_ids:
        return None
    await record_event(
        db,
        events.SPACE_TOKEN_REVOKED,
        user_id=by,
        app_id=client_id,
        space_id=space_id,
        ip=ip,
        detail={
            "count": len(revoked.access_token_ids),
            "token_ids": list(revoked.access_token_ids[:MAX_IDS]),
        },
    )
    return revoked


# ---- the operator revokes (CLI, admin API) -------------------------------------------------------


def _sum(results: list[RevokedGrant]) -> RevokedGrant:
    return RevokedGrant(
        access_token_ids=tuple(i for r in results for i in r.access_token_ids),
        refresh_tokens=sum(r.refresh_tokens for r in results),
        codes=sum(r.codes for r in results),
        consents=sum(r.consents for r in results),
    )


async def revoke_token_value(db: AsyncSession, server_secret: ServerSecret, raw: str) -> RevokedGrant | None:
    """Revoke the access or refresh token ``raw`` (with its refresh family, as RFC 7009
    revocation does: oauth/revocation.py); ``None`` when no token has this value."""
    storage = SqlStorage(db, server_secret)
    access = await storage.lookup_token(raw) if raw else None
    if access is not None:
        selector: TokenGrant | FamilyGrant = TokenGrant(access.id)
    else:
        refresh = await storage.find_refresh_token(raw) if raw else None
        if refresh is None:
            return None
        selector = FamilyGrant(refresh.family_id)
    return await revoke_selected(db, selector)


async def revoke_selected(db: AsyncSession, selector: GrantSelector) -> RevokedGrant:
    """Revoke one selection (a token, a refresh family) with what derives from it, recorded as
    the operator's revocation (the CLI and the admin API)."""
    revoked = await revocation.revoke_grant(db, selector, descendants=True)
    await record_revocation(db, revoked, user_id=None, client_id=None, space_id=None)
    return revoked


async def user_grants(db: AsyncSession, user_id: str) -> list[GrantSelector]:
    """Everything a person gave apps (per app), and the space tokens they created."""
    held: set[str] = set()
    for model in (AccessToken, RefreshToken, Consent, AuthorizationCode):
        apps_of_user = select(model.app_id).where(model.user_id == user_id).distinct()
        held.update((await db.execute(apps_of_user)).scalars())
    selectors: list[GrantSelector] = [UserAppGrant(user_id=user_id, client_id=c) for c in sorted(held)]
    space_tokens = select(AccessToken.id).where(
        AccessToken.user_id == user_id, AccessToken.space_id.is_not(None), AccessToken.revoked_at.is_(None)
    )
    selectors += [TokenGrant(token_id) for token_id in (await db.execute(space_tokens)).scalars()]
    return selectors


async def _space_grants(db: AsyncSession, space_id: str) -> list[GrantSelector]:
    holders = SpaceScope(space_id).select(AccessToken).with_only_columns(AccessToken.app_id).distinct()
    return [SpaceAppGrant(space_id=space_id, client_id=c) for c in (await db.execute(holders)).scalars()]


async def revoke_tokens(
    db: AsyncSession,
    *,
    user_id: str | None = None,
    client_id: str | None = None,
    space_id: str | None = None,
    by: str = "operator",
) -> RevokedGrant:
    """Revoke, through ``store/revocation.revoke_grant``, what the selection names: a user's
    grants (to one app with ``client_id``), an app's (everything, or in one space with
    ``space_id``), or every app's space tokens in a space. A user and a space together are
    refused: a user's grants are not per space."""
    if user_id and space_id:
        raise FieldError("space", N_("Revoke by user or by space, not both."))
    selectors: list[GrantSelector]
    if user_id and client_id:
        selectors = [UserAppGrant(user_id=user_id, client_id=client_id)]
    elif space_id and client_id:
        selectors = [SpaceAppGrant(space_id=space_id, client_id=client_id)]
    elif client_id:
        selectors = [AppGrants(client_id)]
    elif user_id:
        selectors = await user_grants(db, user_id)
    elif space_id:
        selectors = await _space_grants(db, space_id)
    else:
        raise FieldError("user", N_("Name a token, a user, an app or a space."))
    revoked = _sum([await revocation.revoke_grant(db, s, descendants=True) for s in selectors])
    await record_revocation(db, revoked, user_id=user_id, client_id=client_id, space_id=space_id, by=by)
    return revoked


async def record_revocation(
    db: AsyncSession,
    revoked: RevokedGrant,
    *,
    user_id: str | None,
    client_id: str | None,
    space_id: str | None,
    by: str = "operator",
    reason: str | None = None,
) -> None:
    """``token.revoked`` for what one operation revoked (nothing when it revoked nothing):
    the operator's revocations, and the tokens that went with a deleted account or app."""
    if not revoked.anything:
        return
    detail = {
        "by": by,
        "count": len(revoked.access_token_ids),
        "refresh_tokens": revoked.refresh_tokens,
        "token_ids": list(revoked.access_token_ids[:MAX_IDS]),
    }
    if reason is not None:
        detail["reason"] = reason
    await record_event(
        db, events.TOKEN_REVOKED, user_id=user_id, app_id=client_id, space_id=space_id, detail=detail
    )
