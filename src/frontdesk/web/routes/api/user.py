"""``GET /api/user`` (scope ``read_user``): the token's user, memberships and admin roles.

The body is cached per worker and user; any write to users, memberships or spaces drops it on
every worker (see :mod:`frontdesk.store.cache`).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from frontdesk.settings import Settings
from frontdesk.store.cache import MISSING, PROFILES, read_through
from frontdesk.store.models import Membership, Space
from frontdesk.web.api_auth import Person, authenticate
from frontdesk.web.api_models import UserOut
from frontdesk.web.deps import get_state
from frontdesk.web.routes.api.links import membership_link, space_api_link
from frontdesk.web.routing import RawRoute

router = APIRouter(tags=["user"])


async def user_body(db: AsyncSession, settings: Settings, user: Person) -> bytes:
    rows = (
        await db.execute(
            select(Membership.id, Membership.role, Membership.admin_name, Space.subdomain, Space.name)
            .join(Space, Space.id == Membership.space_id)
            .where(Membership.user_id == user.id)
            .order_by(Space.subdomain)
        )
    ).all()
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
    body = {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "memberships": memberships,
        "admin_of": admin_of,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def current_user(request: Request) -> Response:
    # The hottest route: no FastAPI request handling (RawRoute), no database session when the
    # caches hit.
    caller = await authenticate(request, "read_user")
    st = get_state(request)
    key = ("me", caller.user.id, caller.user.email, caller.user.name)
    body = st.db.cache.profiles.get(key)
    if body is MISSING:
        async with st.db.session() as db:
            body = await read_through(db, PROFILES, key, lambda: user_body(db, st.settings, caller.user))
    return Response(body, media_type="application/json")


router.add_api_route(
    "/api/user",
    current_user,
    methods=["GET"],
    response_model=UserOut,
    summary="The current user",
    openapi_extra={"security": [{"bearer": ["read_user"]}]},
    route_class_override=RawRoute,
)
