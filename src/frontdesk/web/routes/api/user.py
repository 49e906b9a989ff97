"""``GET /api/user`` (scope ``read_user``): the token's user, memberships and admin roles."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from starlette.responses import JSONResponse

from frontdesk.store.models import Membership, Space
from frontdesk.web.api_auth import ReadUser
from frontdesk.web.api_models import UserOut
from frontdesk.web.deps import DB, State
from frontdesk.web.routes.api.links import membership_link, space_api_link

router = APIRouter(tags=["user"])


@router.get("/api/user", response_model=UserOut, summary="The current user")
async def current_user(caller: ReadUser, st: State, db: DB) -> JSONResponse:
    user = caller.user
    rows = (
        await db.execute(
            select(Membership.id, Membership.role, Membership.admin_name, Space.subdomain, Space.name)
            .join(Space, Space.id == Membership.space_id)
            .where(Membership.user_id == user.id)
            .order_by(Space.subdomain)
        )
    ).all()
    settings = st.settings
    memberships = []
    admin_of = []
    for mid, role, admin_name, subdomain, space_name in rows:
        link = space_api_link(settings, subdomain)
        if role == "admin":
            admin_of.append(
                {
                    "space_subdomain": subdomain,
                    "space_name": space_name,
                    "space_link": link,
                    "name": admin_name or user.name,
                }
            )
        else:
            memberships.append(
                {
                    "id": mid,
                    "space_subdomain": subdomain,
                    "space_name": space_name,
                    "space_link": link,
                    "link": membership_link(settings, subdomain, mid),
                }
            )
    return JSONResponse(
        {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "memberships": memberships,
            "admin_of": admin_of,
        }
    )
