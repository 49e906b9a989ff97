"""``/api/admin/users``: accounts (scopes ``admin:users:read`` and ``admin:users:write``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.responses import JSONResponse, Response

from frontdesk.services import accounts, admin
from frontdesk.web import routing
from frontdesk.web.admin_auth import AdminCaller, require_admin
from frontdesk.web.deps import State, Work
from frontdesk.web.routes.api.admin.common import (
    ERRORS,
    PageCursor,
    PageLimit,
    body_doc,
    domain_errors,
    read_body,
)
from frontdesk.web.routes.api.admin.models import AdminUserIn, AdminUserList, AdminUserOut, AdminUserPatch

router = routing.router(tags=["admin: users"])
Reader = Annotated[AdminCaller, Depends(require_admin("admin:users:read"))]
Writer = Annotated[AdminCaller, Depends(require_admin("admin:users:write"))]


def user_json(account: admin.Account) -> dict[str, object]:
    p = account.person
    return AdminUserOut(
        id=p.id,
        email=p.email,
        name=p.name,
        created_at=p.created_at,
        disabled=account.disabled_at is not None,
        email_verified=p.email_verified,
    ).model_dump(mode="json")


@router.get("/api/admin/users", response_model=AdminUserList, summary="List accounts")
async def list_users(
    caller: Reader,
    uow: Work,
    search: Annotated[str | None, Query(max_length=254, description="Part of the email or name.")] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> JSONResponse:
    with domain_errors():
        page, next_cursor = await admin.users_page(uow.session, search=search, cursor=cursor, limit=limit)
    return JSONResponse({"users": [user_json(a) for a in page], "next_cursor": next_cursor})


@router.post(
    "/api/admin/users",
    status_code=201,
    response_model=AdminUserOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminUserIn),
    summary="Create an account (with a password, an imported hash, or none)",
)
async def create_user(request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    body = await read_body(request, AdminUserIn)
    with domain_errors():
        person = await accounts.create_user(
            uow.session,
            st.passwords,
            email=body.email,
            name=body.name,
            password=body.password,
            password_hash=body.password_hash,
            email_verified=body.email_verified,
        )
    await caller.record("users.create", user_id=person.id)
    return JSONResponse(user_json(admin.Account(person, None)), status_code=201)


@router.get(
    "/api/admin/users/{user_id}", response_model=AdminUserOut, responses=ERRORS, summary="One account"
)
async def get_user(user_id: str, caller: Reader, uow: Work) -> JSONResponse:
    with domain_errors():
        account = await admin.get_account(uow.session, user_id)
    return JSONResponse(user_json(account))


@router.patch(
    "/api/admin/users/{user_id}",
    response_model=AdminUserOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminUserPatch),
    summary="Change, disable or enable an account",
)
async def update_user(user_id: str, request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    body = await read_body(request, AdminUserPatch)
    with domain_errors():
        account = await admin.update_user(uow.session, user_id, name=body.name, email=body.email)
        if body.password is not None:
            await accounts.set_password(uow.session, st.passwords, user_id, body.password)
        if body.disabled is not None:
            account = await admin.set_disabled(uow.session, uow.storage, user_id, body.disabled)
    changed = sorted(k for k, v in body.model_dump().items() if v is not None)
    await caller.record("users.update", user_id=user_id, fields=changed)
    return JSONResponse(user_json(account))


@router.delete("/api/admin/users/{user_id}", status_code=204, responses=ERRORS, summary="Delete an account")
async def delete_user(user_id: str, caller: Writer, uow: Work) -> Response:
    with domain_errors():
        await accounts.delete_user(uow.session, user_id)
    await caller.record("users.delete", deleted_user_id=user_id)
    return Response(status_code=204)
