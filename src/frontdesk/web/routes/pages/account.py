"""A person's own account pages: authorized apps and their security activity (main host).

``/account/apps`` lists every app that can act for the person: live user tokens (access and
refresh), remembered consents, and, for information only, space tokens the person created as
a space admin (those belong to the space; its admins revoke them). "Revoke access" takes back
everything the person gave the app: its tokens stop working at once, pending authorization
codes expire, and the consent is forgotten so the next authorization asks again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from frontdesk.oauth.scopes import catalogue, parse_scope
from frontdesk.services import audit
from frontdesk.services.spaces import spaces_of
from frontdesk.store.models import AccessToken, App, AuthorizationCode, Consent, RefreshToken, User
from frontdesk.store.scoping import SpaceScope
from frontdesk.store.types import utcnow
from frontdesk.web.deps import DB, CurrentUser, MainSite, checked_form
from frontdesk.web.templating import flash, render

router = APIRouter()

PER_PAGE = 50
# How many revoked token ids one audit event lists (the count is always exact).
MAX_IDS = 50


@dataclass
class AppGrant:
    """What one app holds for the person."""

    app: App
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
        for name in parse_scope(scope):
            if name not in self.scopes:
                self.scopes.append(name)
        if created is not None and (self.since is None or created < self.since):
            self.since = created


def _live(model: type[AccessToken] | type[RefreshToken], now: datetime) -> ColumnElement[bool]:
    return and_(model.revoked_at.is_(None), or_(model.expires_at.is_(None), model.expires_at > now))


async def authorized_apps(db: AsyncSession, user: User) -> list[AppGrant]:
    """Apps holding live user tokens or a consent of ``user``, and their space tokens."""
    now = utcnow()
    grants: dict[str, AppGrant] = {}
    access = (
        select(
            AccessToken.app_id,
            AccessToken.scope,
            func.count(),
            func.min(AccessToken.created_at),
            func.max(AccessToken.last_used_at),
        )
        .where(AccessToken.user_id == user.id, AccessToken.space_id.is_(None), _live(AccessToken, now))
        .group_by(AccessToken.app_id, AccessToken.scope)
    )
    refresh = (
        select(RefreshToken.app_id, RefreshToken.scope, func.count(), func.min(RefreshToken.created_at))
        .where(
            RefreshToken.user_id == user.id,
            RefreshToken.space_id.is_(None),
            RefreshToken.rotated_at.is_(None),
            _live(RefreshToken, now),
        )
        .group_by(RefreshToken.app_id, RefreshToken.scope)
    )
    consents = select(Consent.app_id, Consent.scope, Consent.created_at).where(Consent.user_id == user.id)

    access_rows = (await db.execute(access)).all()
    refresh_rows = (await db.execute(refresh)).all()
    consent_rows = (await db.execute(consents)).all()
    space_rows = await _space_tokens_of(db, user, now)
    app_ids = {r[0] for r in [*access_rows, *refresh_rows, *consent_rows]} | {a for a, _ in space_rows}
    if not app_ids:
        return []
    apps = {
        a.client_id: a for a in (await db.execute(select(App).where(App.client_id.in_(app_ids)))).scalars()
    }
    for app_id, app in apps.items():
        grants[app_id] = AppGrant(app=app)
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


async def _space_tokens_of(db: AsyncSession, user: User, now: datetime) -> list[tuple[str, str]]:
    """(app id, space name) of live space tokens ``user`` created in spaces they administer.
    Space tokens are tenant rows: each space's are read through its :class:`SpaceScope`."""
    result: list[tuple[str, str]] = []
    for summary in await spaces_of(db, user.id):
        if summary.role != "admin":
            continue
        stmt = (
            SpaceScope(summary.space.id)
            .select(AccessToken)
            .with_only_columns(AccessToken.app_id)
            .where(AccessToken.user_id == user.id, _live(AccessToken, now))
            .distinct()
        )
        result += [(app_id, summary.space.name) for app_id in (await db.execute(stmt)).scalars()]
    return result


@dataclass(frozen=True)
class Revoked:
    access_token_ids: list[str]
    refresh_tokens: int
    consents: int
    codes: int

    @property
    def anything(self) -> bool:
        return bool(self.access_token_ids or self.refresh_tokens or self.consents or self.codes)


async def revoke_app(db: AsyncSession, user: User, client_id: str) -> Revoked:
    """Take back every user token, pending code and consent ``user`` gave the app (not space
    tokens: they belong to spaces). Not committed."""
    now = utcnow()
    access = await db.execute(
        update(AccessToken)
        .where(
            AccessToken.user_id == user.id,
            AccessToken.app_id == client_id,
            AccessToken.space_id.is_(None),
            AccessToken.revoked_at.is_(None),
        )
        .values(revoked_at=now, sealed=None)
        .returning(AccessToken.id)
    )
    token_ids = list(access.scalars())
    refresh = await db.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user.id,
            RefreshToken.app_id == client_id,
            RefreshToken.space_id.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    # A code handed out just before must not turn into a new token after this.
    codes = await db.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.user_id == user.id,
            AuthorizationCode.app_id == client_id,
            AuthorizationCode.consumed_at.is_(None),
            AuthorizationCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    consents = await db.execute(
        delete(Consent).where(Consent.user_id == user.id, Consent.app_id == client_id)
    )
    return Revoked(
        access_token_ids=token_ids,
        refresh_tokens=int(refresh.rowcount or 0),  # type: ignore[attr-defined]
        consents=int(consents.rowcount or 0),  # type: ignore[attr-defined]
        codes=int(codes.rowcount or 0),  # type: ignore[attr-defined]
    )


@router.get("/account/apps", include_in_schema=False)
async def apps_page(request: Request, site: MainSite, db: DB, user: CurrentUser) -> Response:
    cat = catalogue()
    grants = await authorized_apps(db, user)
    described = {name: cat.describe(name) for g in grants for name in g.scopes}
    return render(request, "account_apps.html", {"grants": grants, "describe": described})


@router.post("/account/apps/{client_id}/revoke", include_in_schema=False)
async def revoke(request: Request, client_id: str, site: MainSite, db: DB, user: CurrentUser) -> Response:
    await checked_form(request)
    app = await db.get(App, client_id) if 0 < len(client_id) <= 64 else None
    revoked = await revoke_app(db, user, client_id) if app is not None else None
    if app is None or revoked is None or not revoked.anything:
        # The same answer whether the app does not exist or has no access: reveals nothing.
        raise HTTPException(404, "This app holds no access to your account.")
    ip = request.state.client_ip
    if revoked.consents:
        await audit.record(
            db, audit.CONSENT_REVOKED, user_id=user.id, app_id=app.client_id, ip=ip, detail={"by": "user"}
        )
    if revoked.access_token_ids or revoked.refresh_tokens:
        detail = {
            "by": "user",
            "count": len(revoked.access_token_ids),
            "refresh_tokens": revoked.refresh_tokens,
            "token_ids": revoked.access_token_ids[:MAX_IDS],
        }
        await audit.record(
            db, audit.TOKEN_REVOKED, user_id=user.id, app_id=app.client_id, ip=ip, detail=detail
        )
    await db.commit()
    response = RedirectResponse("/account/apps", status_code=303)
    flash(request, response, f"{app.name} no longer has access to your account.")
    return response


@router.get("/account/activity", include_in_schema=False)
async def activity_page(
    request: Request, site: MainSite, db: DB, user: CurrentUser, page: int = 1
) -> Response:
    found = await audit.events_of_user(db, user.id, page=max(1, min(page, 10_000)), per_page=PER_PAGE)
    return render(request, "account_activity.html", {"page": found})
