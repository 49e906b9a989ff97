"""``GET /api/user`` (scope ``read_user``): the token's user, memberships and admin roles.
On a space token: the person it acts for, and that one space's membership or admin entry.

``GET <space host>/api/users/<id>`` (scope ``read_user``, an admin's token or the space's
token): the same document for a person who connected the calling app in that space, or is a
member of it, with that space's entry only. The ``url`` of a subscription's ``connected_user``
delivery points here (docs/integrating.md, "Webhooks").

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
from frontdesk.services import grants
from frontdesk.settings import Settings
from frontdesk.web import routing
from frontdesk.web.adapter import get_state
from frontdesk.web.api_auth import ApiError, ReadUser, admin_space, authenticate
from frontdesk.web.api_models import ErrorOut, UserOut
from frontdesk.web.deps import State, Work
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


@router.get(
    "/api/users/{user_id}",
    response_model=UserOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="A person connected to the calling app in this host's space",
)
async def connected_user(user_id: str, request: Request, caller: ReadUser, st: State, uow: Work) -> Response:
    space = await admin_space(request, uow, caller, elsewhere="people are served on a space's host")
    person = await grants.connected_person(
        uow.session, space_id=space.id, client_id=caller.token.client_id, user_id=user_id
    )
    if person is None:
        raise ApiError(404, "not_found", "no such person connected to this app in this space")
    memberships = tuple(m for m in await uow.storage.memberships_of(person.id) if m.space.id == space.id)
    return Response(user_document(st.settings, person, memberships), media_type="application/json")
