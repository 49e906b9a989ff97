"""``/api/admin/spaces/<space>/memberships``: who belongs to a space (scopes
``admin:memberships:read`` and ``admin:memberships:write``). Confirming and canceling set
Cobot's ``confirmed_at`` and ``canceled_to`` (docs/compatibility.md, "Memberships")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import JSONResponse, Response

from frontdesk.errors import Conflict
from frontdesk.records import MembershipRecord
from frontdesk.services import accounts
from frontdesk.services import spaces as space_service
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.admin_auth import AdminCaller, require_admin
from frontdesk.web.deps import Work
from frontdesk.web.routes.api.admin.common import ERRORS, body_doc, domain_errors, found, read_body
from frontdesk.web.routes.api.admin.models import (
    AdminCancelIn,
    AdminConfirmIn,
    AdminMembershipIn,
    AdminMembershipList,
    AdminMembershipOut,
    AdminMembershipPatch,
)
from frontdesk.web.routes.api.admin.spaces import existing_space

router = routing.router(tags=["admin: memberships"])
Reader = Annotated[AdminCaller, Depends(require_admin("admin:memberships:read"))]
Writer = Annotated[AdminCaller, Depends(require_admin("admin:memberships:write"))]
BASE = "/api/admin/spaces/{space_id}/memberships"


def membership_json(m: MembershipRecord) -> dict[str, object]:
    return AdminMembershipOut(
        id=m.id,
        space_id=m.space.id,
        user_id=m.user.id,
        email=m.user.email,
        name=m.user.name,
        role=m.role,
        admin_name=m.admin_name,
        created_at=m.created_at,
        confirmed_at=m.confirmed_at,
        canceled_to=m.canceled_to,
    ).model_dump(mode="json")


async def _membership(uow: UnitOfWork, space_id: str, membership_id: str) -> MembershipRecord:
    space = await existing_space(uow, space_id)
    membership = await space_service.get_membership(uow.session, space.id, membership_id)
    return found(membership, "no such membership in this space")


async def _record(caller: AdminCaller, action: str, m: MembershipRecord) -> None:
    await caller.record(action, space_id=m.space.id, user_id=m.user.id, membership_id=m.id)


@router.get(BASE, response_model=AdminMembershipList, responses=ERRORS, summary="A space's memberships")
async def list_memberships(space_id: str, caller: Reader, uow: Work) -> JSONResponse:
    space = await existing_space(uow, space_id)
    members = await space_service.list_members(uow.session, space.id)
    return JSONResponse({"memberships": [membership_json(m) for m in members]})


@router.post(
    BASE,
    status_code=201,
    response_model=AdminMembershipOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminMembershipIn),
    summary="Add an account to a space",
)
async def add_membership(space_id: str, request: Request, caller: Writer, uow: Work) -> JSONResponse:
    body = await read_body(request, AdminMembershipIn)
    space = await existing_space(uow, space_id)
    with domain_errors():
        person = found(await accounts.get_person(uow.session, body.user_id), "no user with that user_id")
        if await space_service.membership_of(uow.session, space.id, person.id) is not None:
            raise Conflict("that account is in this space already; change its role instead")
        made = await space_service.add_member(
            uow.session,
            space,
            email=person.email,
            role=body.role,
            admin_name=body.admin_name,
            confirmed=body.confirmed,
        )
    await _record(caller, "memberships.create", made)
    return JSONResponse(membership_json(made), status_code=201)


@router.get(
    BASE + "/{membership_id}", response_model=AdminMembershipOut, responses=ERRORS, summary="One membership"
)
async def get_membership(space_id: str, membership_id: str, caller: Reader, uow: Work) -> JSONResponse:
    return JSONResponse(membership_json(await _membership(uow, space_id, membership_id)))


@router.patch(
    BASE + "/{membership_id}",
    response_model=AdminMembershipOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminMembershipPatch),
    summary="Change a member's role",
)
async def change_role(
    space_id: str, membership_id: str, request: Request, caller: Writer, uow: Work
) -> JSONResponse:
    body = await read_body(request, AdminMembershipPatch)
    m = await _membership(uow, space_id, membership_id)
    with domain_errors():
        changed = await space_service.change_role(uow.session, m.space, membership_id, body.role)
    await _record(caller, "memberships.change_role", m)
    return JSONResponse(membership_json(changed))


async def _dated_change(
    uow: UnitOfWork,
    caller: AdminCaller,
    space_id: str,
    membership_id: str,
    action: str,
    change: Callable[..., Awaitable[MembershipRecord]],
    when: Any,
) -> JSONResponse:
    """Confirm or cancel (``change``, a services/spaces function) as of ``when``, recorded as
    ``memberships.<action>``."""
    m = await _membership(uow, space_id, membership_id)
    with domain_errors():
        changed = await change(uow.session, membership_id, when, space_id=m.space.id)
    await _record(caller, f"memberships.{action}", m)
    return JSONResponse(membership_json(changed))


@router.post(
    BASE + "/{membership_id}/confirm",
    response_model=AdminMembershipOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminConfirmIn),
    summary="Confirm a membership (it took effect)",
)
async def confirm(
    space_id: str, membership_id: str, request: Request, caller: Writer, uow: Work
) -> JSONResponse:
    body = await read_body(request, AdminConfirmIn)
    return await _dated_change(
        uow, caller, space_id, membership_id, "confirm", space_service.confirm_membership, body.confirmed_at
    )


@router.post(
    BASE + "/{membership_id}/cancel",
    response_model=AdminMembershipOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminCancelIn),
    summary="Cancel a membership as of its last day (null withdraws it)",
)
async def cancel(
    space_id: str, membership_id: str, request: Request, caller: Writer, uow: Work
) -> JSONResponse:
    body = await read_body(request, AdminCancelIn)
    return await _dated_change(
        uow, caller, space_id, membership_id, "cancel", space_service.cancel_membership, body.canceled_to
    )


@router.delete(BASE + "/{membership_id}", status_code=204, responses=ERRORS, summary="Remove a membership")
async def remove(space_id: str, membership_id: str, caller: Writer, uow: Work) -> Response:
    m = await _membership(uow, space_id, membership_id)
    with domain_errors():
        await space_service.remove_member(uow.session, m.space, membership_id)
    await _record(caller, "memberships.remove", m)
    return Response(status_code=204)
