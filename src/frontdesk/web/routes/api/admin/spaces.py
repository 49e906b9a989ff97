"""``/api/admin/spaces``: spaces and their custom domains (scopes ``admin:spaces:read`` and
``admin:spaces:write``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.responses import JSONResponse, Response

from frontdesk.records import SpaceRef
from frontdesk.services import admin, domains
from frontdesk.services import spaces as space_service
from frontdesk.services.work import UnitOfWork
from frontdesk.settings import Settings
from frontdesk.web import routing
from frontdesk.web.admin_auth import AdminCaller, require_admin
from frontdesk.web.deps import State, Work
from frontdesk.web.errors import ApiError
from frontdesk.web.routes.api.admin.common import (
    ERRORS,
    PageCursor,
    PageLimit,
    body_doc,
    domain_errors,
    found,
    owner_of,
    read_body,
)
from frontdesk.web.routes.api.admin.models import (
    AdminDomainCheckIn,
    AdminDomainCheckOut,
    AdminSpaceIn,
    AdminSpaceList,
    AdminSpaceOut,
    AdminSpacePatch,
)

router = routing.router(tags=["admin: spaces"])
Reader = Annotated[AdminCaller, Depends(require_admin("admin:spaces:read"))]
Writer = Annotated[AdminCaller, Depends(require_admin("admin:spaces:write"))]


async def existing_space(uow: UnitOfWork, space_id: str) -> SpaceRef:
    """The space with this id (or subdomain), else 404."""
    return found(await space_service.get_by_id_or_subdomain(uow.session, space_id), "no such space")


async def space_json(uow: UnitOfWork, settings: Settings, space: SpaceRef) -> dict[str, object]:
    return space_out(settings, space, await domains.domain_state(uow.session, space.id))


def space_out(settings: Settings, space: SpaceRef, state: domains.DomainState) -> dict[str, object]:
    return AdminSpaceOut(
        id=space.id,
        subdomain=space.subdomain,
        name=space.name,
        owner_id=space.owner_id,
        url=space_service.space_url(settings, space),
        custom_domain=space.custom_domain,
        domain={
            "verified": state.verified,
            "pending": state.pending,
            "record_name": state.record_name,
            "record_value": state.record_value,
        },
    ).model_dump(mode="json")


@router.get("/api/admin/spaces", response_model=AdminSpaceList, summary="List spaces")
async def list_spaces(
    caller: Reader,
    st: State,
    uow: Work,
    search: Annotated[str | None, Query(max_length=254, description="Part of the subdomain or name.")] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> JSONResponse:
    with domain_errors():
        page, next_cursor = await admin.spaces_page(uow.session, search=search, cursor=cursor, limit=limit)
    return JSONResponse(
        {"spaces": [space_out(st.settings, s, state) for s, state in page], "next_cursor": next_cursor}
    )


@router.post(
    "/api/admin/spaces",
    status_code=201,
    response_model=AdminSpaceOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminSpaceIn),
    summary="Create a space",
)
async def create_space(request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    body = await read_body(request, AdminSpaceIn)
    with domain_errors():
        owner = await owner_of(uow.session, body.owner_id)
        space = await space_service.create_space(
            uow.session,
            st.settings,
            subdomain=body.subdomain,
            name=body.name,
            owner=owner,
            custom_domain=body.custom_domain or None,
        )
    await caller.record("spaces.create", space_id=space.id, user_id=owner.id)
    return JSONResponse(await space_json(uow, st.settings, space), status_code=201)


@router.get(
    "/api/admin/spaces/{space_id}",
    response_model=AdminSpaceOut,
    responses=ERRORS,
    summary="One space (by id or subdomain)",
)
async def get_space(space_id: str, caller: Reader, st: State, uow: Work) -> JSONResponse:
    return JSONResponse(await space_json(uow, st.settings, await existing_space(uow, space_id)))


@router.patch(
    "/api/admin/spaces/{space_id}",
    response_model=AdminSpaceOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminSpacePatch),
    summary="Rename a space, set or remove its custom domain",
)
async def update_space(space_id: str, request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    body = await read_body(request, AdminSpacePatch)
    space = await existing_space(uow, space_id)
    given = body.model_fields_set
    if "custom_domain" in given:
        domain = body.custom_domain or None
    else:
        state = await domains.domain_state(uow.session, space.id)
        domain = state.pending or state.verified
    with domain_errors():
        changed = await space_service.update_space(
            uow.session,
            st.settings,
            space.id,
            name=body.name if body.name is not None else space.name,
            custom_domain=domain,
        )
    await caller.record("spaces.update", space_id=space.id, fields=sorted(given))
    return JSONResponse(await space_json(uow, st.settings, changed))


@router.post(
    "/api/admin/spaces/{space_id}/domain/check",
    response_model=AdminDomainCheckOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminDomainCheckIn),
    summary="Verify the pending custom domain now (look up its DNS TXT record)",
)
async def check_domain(space_id: str, request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    """The "Check now" of the space's settings page (services/domains.py): when the TXT record
    ``domain.record_name`` carries ``domain.record_value``, the pending domain becomes the one
    served. DNS trouble is no error: ``verified`` is false and ``message`` says what happened."""
    body = await read_body(request, AdminDomainCheckIn)
    space = await existing_space(uow, space_id)
    if body.domain is not None:
        pending = (await domains.domain_state(uow.session, space.id)).pending
        if body.domain.strip().rstrip(".").lower() != pending:
            raise ApiError(409, "conflict", f"the pending custom domain of this space is {pending or 'none'}")
    with domain_errors():
        result = await domains.check_domain(uow.session, st.settings, space.id)
    if result.verified:
        await caller.record("spaces.domain_verified", space_id=space.id)
    checked = found(await space_service.get_space(uow.session, space.id), "no such space")
    outcome = {"verified": result.verified, "message": result.message}
    return JSONResponse({**outcome, "space": await space_json(uow, st.settings, checked)})


@router.delete("/api/admin/spaces/{space_id}", status_code=204, responses=ERRORS, summary="Delete a space")
async def delete_space(space_id: str, caller: Writer, uow: Work) -> Response:
    space = await existing_space(uow, space_id)
    with domain_errors():
        await space_service.delete_space(uow.session, space)
    # The space's id is kept in the detail only: the row is gone.
    await caller.record("spaces.delete", deleted_space_id=space.id, subdomain=space.subdomain)
    return Response(status_code=204)
