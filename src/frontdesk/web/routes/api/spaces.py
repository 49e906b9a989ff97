"""Spaces and their memberships.

* ``GET /api/spaces/<subdomain>`` (public): what apps need to turn a subdomain into an id.
* ``GET /api/spaces/<subdomain>/memberships`` and, on a space's own host, ``GET /api/memberships``
  and ``GET /api/memberships/<id>`` (scope ``read_memberships``; an admin's user token or
  that space's token).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from frontdesk.services import spaces as space_service
from frontdesk.store.models import Membership, Space, User
from frontdesk.store.scoping import SpaceScope
from frontdesk.web.api_auth import ApiError, ReadMemberships, space_rights
from frontdesk.web.api_models import ErrorOut, MembershipOut, SpaceOut
from frontdesk.web.deps import DB, State
from frontdesk.web.routes.api.links import membership_link

router = APIRouter(tags=["spaces"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


async def _space(db: DB, subdomain: str) -> Space:
    space = await space_service.get_by_subdomain(db, subdomain)
    if space is None:
        raise ApiError(404, "not_found", f"no space with subdomain {subdomain!r}")
    return space


async def _host_space(request: Request, db: DB) -> Space:
    site = request.state.site
    if site.space is None:
        raise ApiError(404, "not_found", "this endpoint lives on a space's host")
    space = await db.get(Space, site.space.id)
    if space is None:
        raise ApiError(404, "not_found", "no such space")
    return space


@router.get("/api/spaces/{subdomain}", response_model=SpaceOut, responses=NOT_FOUND, summary="A space")
async def get_space(subdomain: str, st: State, db: DB) -> JSONResponse:
    space = await _space(db, subdomain)
    return JSONResponse(
        {
            "id": space.id,
            "subdomain": space.subdomain,
            "name": space.name,
            "url": space_service.space_url(st.settings, space),
            "custom_domain": space.custom_domain,
        }
    )


def _membership_json(st: State, space: Space, membership: Membership, user: User) -> dict[str, str]:
    return {
        "id": membership.id,
        "user_id": user.id,
        "name": user.name,
        "email": user.email,
        "role": membership.role,
        "link": membership_link(st.settings, space.subdomain, membership.id),
    }


async def _memberships(st: State, db: DB, caller: ReadMemberships, space: Space) -> JSONResponse:
    await space_rights(db, caller, space, admin=True)
    rows = await space_service.list_members(db, space.id)
    return JSONResponse([_membership_json(st, space, m, m.user) for m in rows])


@router.get(
    "/api/spaces/{subdomain}/memberships",
    response_model=list[MembershipOut],
    responses=NOT_FOUND,
    summary="Memberships of a space",
)
async def space_memberships(subdomain: str, caller: ReadMemberships, st: State, db: DB) -> JSONResponse:
    return await _memberships(st, db, caller, await _space(db, subdomain))


@router.get(
    "/api/memberships",
    response_model=list[MembershipOut],
    responses=NOT_FOUND,
    summary="Memberships of this host's space",
)
async def host_memberships(request: Request, caller: ReadMemberships, st: State, db: DB) -> JSONResponse:
    return await _memberships(st, db, caller, await _host_space(request, db))


@router.get(
    "/api/memberships/{membership_id}",
    response_model=MembershipOut,
    responses=NOT_FOUND,
    summary="One membership of this host's space",
)
async def host_membership(
    membership_id: str, request: Request, caller: ReadMemberships, st: State, db: DB
) -> JSONResponse:
    space = await _host_space(request, db)
    row = (
        await db.execute(SpaceScope(space.id).select(Membership).where(Membership.id == membership_id))
    ).scalar_one_or_none()
    own = row is not None and caller.token.space_id is None and row.user_id == caller.user.id
    # Members may read their own membership (the `link` /api/user gives them); admins any.
    await space_rights(db, caller, space, admin=not own)
    if row is None:
        raise ApiError(404, "not_found", "no such membership in this space")
    user = await db.get(User, row.user_id)
    assert user is not None
    return JSONResponse(_membership_json(st, space, row, user))
