"""``GET /api/user`` (scope ``read_user``): the token's user, memberships and admin roles.
On a space token: the person it acts for, and that one space's membership or admin entry.

The hottest route: served without FastAPI's request handling (RawRoute), and without a
database session when the caches hold the token, its user and their memberships.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.responses import Response

from frontdesk.oauth.models import Person
from frontdesk.records import MembershipRecord
from frontdesk.settings import Settings
from frontdesk.web import routing
from frontdesk.web.adapter import get_state
from frontdesk.web.api_auth import authenticate
from frontdesk.web.api_models import UserOut
from frontdesk.web.routes.api.links import membership_link, space_api_link
from frontdesk.web.routes.pages.avatars import picture_url
from frontdesk.web.routing import RawRoute

router = routing.router(tags=["user"])


def user_document(settings: Settings, user: Person, memberships: tuple[MembershipRecord, ...]) -> bytes:
    plain: list[dict[str, Any]] = []
    admin_of: list[dict[str, Any]] = []
    for m in memberships:
        link = space_api_link(settings, m.space.subdomain)
        if m.is_admin:
            admin_of.append(
                {
                    "space_subdomain": m.space.subdomain,
                    "space_name": m.space.name,
                    "space_link": link,
                    "name": m.admin_name or user.name,
                }
            )
        else:
            plain.append(
                {
                    "id": m.id,
                    "space_subdomain": m.space.subdomain,
                    "space_name": m.space.name,
                    "space_link": link,
                    "link": membership_link(settings, m.space.subdomain, m.id),
                }
            )
    body = {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "picture": picture_url(settings, user),
        "memberships": plain,
        "admin_of": admin_of,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def current_user(request: Request) -> Response:
    st = get_state(request)
    async with st.unit_of_work() as uow:
        caller = await authenticate(request, uow, "read_user")
        memberships = await uow.storage.memberships_of(caller.user.id)
    space_id = caller.token.space_id
    if space_id is not None:
        # A space token sees its own space only, whoever it acts for (docs/guide.md, "Space
        # tokens"); filtered from the same cached read, so no extra query on any path.
        memberships = tuple(m for m in memberships if m.space.id == space_id)
    return Response(user_document(st.settings, caller.user, memberships), media_type="application/json")


router.add_api_route(
    "/api/user",
    current_user,
    methods=["GET"],
    response_model=UserOut,
    summary="The current user",
    openapi_extra={"security": [{"bearer": ["read_user"]}]},
    route_class_override=RawRoute,
)
