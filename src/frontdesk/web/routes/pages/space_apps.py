"""Space admins: apps holding space tokens for their space (on the space's own host).

Space tokens belong to the space, not to the admin who created them, so any admin of the space
sees and revokes them here. Every query goes through :class:`SpaceScope`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from frontdesk.oauth.scopes import parse_scope
from frontdesk.services import audit
from frontdesk.store.models import AccessToken, App, User
from frontdesk.store.scoping import SpaceScope
from frontdesk.store.types import utcnow
from frontdesk.web.deps import DB, CurrentSpace, SpaceAdmin, checked_form
from frontdesk.web.templating import flash, render

router = APIRouter()

# How many revoked token ids one audit event lists (the count is always exact).
MAX_IDS = 50


@dataclass
class SpaceGrant:
    """The live space tokens one app holds for the space."""

    app: App
    tokens: int = 0
    scopes: list[str] = field(default_factory=list)
    created: datetime | None = None
    last_used: datetime | None = None
    # (name, email) of the people who created them.
    creators: list[tuple[str, str]] = field(default_factory=list)


def _live(now: datetime) -> ColumnElement[bool]:
    return and_(
        AccessToken.revoked_at.is_(None),
        or_(AccessToken.expires_at.is_(None), AccessToken.expires_at > now),
    )


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
        .where(_live(utcnow()))
        .group_by(AccessToken.app_id, AccessToken.scope, AccessToken.user_id)
    )
    rows = (await db.execute(stmt)).all()
    if not rows:
        return []
    app_ids = {r[0] for r in rows}
    user_ids = {r[2] for r in rows}
    apps = {
        a.client_id: a for a in (await db.execute(select(App).where(App.client_id.in_(app_ids)))).scalars()
    }
    users = {u.id: u for u in (await db.execute(select(User).where(User.id.in_(user_ids)))).scalars()}
    grants: dict[str, SpaceGrant] = {}
    for app_id, scope, user_id, count, created, last_used in rows:
        app = apps.get(app_id)
        if app is None:
            continue
        grant = grants.setdefault(app_id, SpaceGrant(app=app))
        grant.tokens += count
        grant.scopes += [s for s in parse_scope(scope) if s not in grant.scopes]
        if created is not None and (grant.created is None or created < grant.created):
            grant.created = created
        if last_used is not None and (grant.last_used is None or last_used > grant.last_used):
            grant.last_used = last_used
        creator = users.get(user_id)
        who = (creator.name, creator.email) if creator else ("(deleted account)", "")
        if who not in grant.creators:
            grant.creators.append(who)
    return sorted(grants.values(), key=lambda g: g.app.name.lower())


async def revoke_space_tokens(db: AsyncSession, space_id: str, client_id: str) -> list[str]:
    """Revoke the app's live space tokens for this space; their ids. Not committed."""
    result = await db.execute(
        SpaceScope(space_id)
        .update(AccessToken)
        .where(AccessToken.app_id == client_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(AccessToken.id)
    )
    return list(result.scalars())


@router.get("/admin/apps", include_in_schema=False)
async def apps_page(request: Request, space: CurrentSpace, admin: SpaceAdmin, db: DB) -> Response:
    return render(request, "space_apps.html", {"space": space, "grants": await space_grants(db, space.id)})


@router.post("/admin/apps/{client_id}/revoke", include_in_schema=False)
async def revoke(
    request: Request, client_id: str, space: CurrentSpace, admin: SpaceAdmin, db: DB
) -> Response:
    await checked_form(request)
    app = await db.get(App, client_id) if 0 < len(client_id) <= 64 else None
    token_ids = await revoke_space_tokens(db, space.id, client_id) if app is not None else []
    if app is None or not token_ids:
        raise HTTPException(404, "This app holds no space tokens for this space.")
    await audit.record(
        db,
        audit.SPACE_TOKEN_REVOKED,
        user_id=admin.user_id,
        app_id=app.client_id,
        space_id=space.id,
        ip=request.state.client_ip,
        detail={"count": len(token_ids), "token_ids": token_ids[:MAX_IDS]},
    )
    await db.commit()
    response = RedirectResponse("/admin/apps", status_code=303)
    flash(request, response, f"Revoked {app.name}'s access to {space.name}.")
    return response
