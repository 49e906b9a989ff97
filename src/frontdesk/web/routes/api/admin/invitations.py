"""``/api/admin/spaces/<space>/invitations``: invitations to a space by email (scopes
``admin:memberships:read`` and ``admin:memberships:write``; services/invitations.py, the same
rules as the members page, the platform named as who invites)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import JSONResponse, Response

from frontdesk.services import invitations
from frontdesk.services import spaces as space_service
from frontdesk.services.invitations import InvitationRecord
from frontdesk.web import routing
from frontdesk.web.admin_auth import AdminCaller, require_admin
from frontdesk.web.deps import State, Work
from frontdesk.web.routes.api.admin.common import ERRORS, body_doc, domain_errors, read_body
from frontdesk.web.routes.api.admin.models import AdminInvitationIn, AdminInvitationList, AdminInvitationOut
from frontdesk.web.routes.api.admin.spaces import existing_space

router = routing.router(tags=["admin: memberships"])
Reader = Annotated[AdminCaller, Depends(require_admin("admin:memberships:read"))]
Writer = Annotated[AdminCaller, Depends(require_admin("admin:memberships:write"))]
BASE = "/api/admin/spaces/{space_id}/invitations"


def invitation_json(space_id: str, i: InvitationRecord) -> dict[str, object]:
    return AdminInvitationOut(
        id=i.id,
        space_id=space_id,
        email=i.email,
        role=i.role,
        invited_by=i.invited_by,
        created_at=i.created_at,
        expires_at=i.expires_at,
    ).model_dump(mode="json")


@router.get(
    BASE, response_model=AdminInvitationList, responses=ERRORS, summary="A space's pending invitations"
)
async def list_invitations(space_id: str, caller: Reader, uow: Work) -> JSONResponse:
    space = await existing_space(uow, space_id)
    pending = await invitations.pending(uow.session, space.id)
    return JSONResponse({"invitations": [invitation_json(space.id, i) for i in pending]})


@router.post(
    BASE,
    status_code=201,
    response_model=AdminInvitationOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminInvitationIn),
    summary="Invite an address to a space by email",
)
async def invite(space_id: str, request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    body = await read_body(request, AdminInvitationIn)
    space = await existing_space(uow, space_id)
    with domain_errors():
        made = await invitations.invite(
            uow.session,
            st.server_secret,
            space,
            email=body.email,
            role=body.role,
            inviter=None,
            origin=space_service.space_url(st.settings, space),
            days=st.settings.invitation_days,
            ip=caller.ip,
        )
    await caller.record("invitations.create", space_id=space.id, invitation_id=made.id)
    return JSONResponse(invitation_json(space.id, made), status_code=201)


@router.delete(BASE + "/{invitation_id}", status_code=204, responses=ERRORS, summary="Withdraw an invitation")
async def withdraw(space_id: str, invitation_id: str, caller: Writer, uow: Work) -> Response:
    space = await existing_space(uow, space_id)
    with domain_errors():
        await invitations.revoke(uow.session, space, invitation_id, by=None, ip=caller.ip)
    await caller.record("invitations.revoke", space_id=space.id, invitation_id=invitation_id)
    return Response(status_code=204)
