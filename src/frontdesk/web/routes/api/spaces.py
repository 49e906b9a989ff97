"""Spaces and their memberships.

* ``GET /api/spaces/<subdomain>`` (public): what apps need to turn a subdomain into an id.
* ``GET /api/spaces/<subdomain>/memberships`` and, on a space's own host, ``GET /api/memberships``
  and ``GET /api/memberships/<id>`` (scope ``read_memberships``; an admin's user token or
  that space's token).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse

from frontdesk.records import MembershipRecord, SpaceRef
from frontdesk.services import spaces as space_service
from frontdesk.services.work import UnitOfWork
from frontdesk.settings import Settings
from frontdesk.web import routing
from frontdesk.web.api_auth import ApiError, ReadMemberships, space_rights
from frontdesk.web.api_models import ErrorOut, MembershipOut, SpaceOut
from frontdesk.web.deps import State, Work
from frontdesk.web.routes.api.links import membership_link
from frontdesk.web.routes.pages.avatars import picture_url

router = routing.router(tags=["spaces"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


async def _space(uow: UnitOfWork, subdomain: str) -> SpaceRef:
    space = await space_service.get_by_subdomain(uow.session, subdomain)
    if space is None:
        raise ApiError(404, "not_found", f"no space with subdomain {subdomain!r}")
    return space


async def _host_space(request: Request, uow: UnitOfWork) -> SpaceRef:
    site = request.state.site
    if site.space is None:
        raise ApiError(404, "not_found", "this endpoint lives on a space's host")
    space = await space_service.get_space(uow.session, site.space.id)
    if space is None:
        raise ApiError(404, "not_found", "no such space")
    return space


@router.get("/api/spaces/{subdomain}", response_model=SpaceOut, responses=NOT_FOUND, summary="A space")
async def get_space(subdomain: str, st: State, uow: Work) -> JSONResponse:
    space = await _space(uow, subdomain)
    return JSONResponse(
        {
            "id": space.id,
            "subdomain": space.subdomain,
            "name": space.name,
            "url": space_service.space_url(st.settings, space),
            "custom_domain": space.custom_domain,
        }
    )


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second (``2026-12-06T10:40:00Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def membership_json(settings: Settings, membership: MembershipRecord) -> dict[str, Any]:
    """A membership as Cobot's API 1 shows one, with the fields Frontdesk can fill
    (docs/compatibility.md, "Memberships"); the first six are Frontdesk's own, kept as they were."""
    user = membership.user
    confirmed = membership.confirmed_at
    canceled = membership.canceled_to
    return {
        "id": membership.id,
        "user_id": user.id,
        "name": user.name,
        "email": user.email,
        "role": membership.role,
        "link": membership_link(settings, membership.space.subdomain, membership.id),
        "user": {"id": user.id, "email": user.email},
        "address": {"name": user.name},
        "picture": picture_url(settings, user),
        "confirmed_at": _timestamp(confirmed) if confirmed is not None else None,
        "canceled_to": canceled.isoformat() if canceled is not None else None,
    }


async def _memberships(st: State, uow: UnitOfWork, caller: ReadMemberships, space: SpaceRef) -> JSONResponse:
    await space_rights(uow, caller, space, admin=True)
    rows = await space_service.list_members(uow.session, space.id)
    return JSONResponse([membership_json(st.settings, m) for m in rows])


@router.get(
    "/api/spaces/{subdomain}/memberships",
    response_model=list[MembershipOut],
    responses=NOT_FOUND,
    summary="Memberships of a space",
)
async def space_memberships(subdomain: str, caller: ReadMemberships, st: State, uow: Work) -> JSONResponse:
    return await _memberships(st, uow, caller, await _space(uow, subdomain))


@router.get(
    "/api/memberships",
    response_model=list[MembershipOut],
    responses=NOT_FOUND,
    summary="Memberships of this host's space",
)
async def host_memberships(request: Request, caller: ReadMemberships, st: State, uow: Work) -> JSONResponse:
    return await _memberships(st, uow, caller, await _host_space(request, uow))


@router.get(
    "/api/memberships/{membership_id}",
    response_model=MembershipOut,
    responses=NOT_FOUND,
    summary="One membership of this host's space",
)
async def host_membership(
    membership_id: str, request: Request, caller: ReadMemberships, st: State, uow: Work
) -> JSONResponse:
    space = await _host_space(request, uow)
    found = await space_service.get_membership(uow.session, space.id, membership_id)
    own = found is not None and caller.token.space_id is None and found.user.id == caller.user.id
    # Members may read their own membership (the `link` /api/user gives them); admins any.
    await space_rights(uow, caller, space, admin=not own)
    if found is None:
        raise ApiError(404, "not_found", "no such membership in this space")
    return JSONResponse(membership_json(st.settings, found))
