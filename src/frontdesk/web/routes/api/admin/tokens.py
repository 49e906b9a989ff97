"""``/api/admin/tokens``: live tokens, and revoking grants by user, app or space (scopes
``admin:tokens:read`` and ``admin:tokens:write``). Revocation goes through
``services/grants.py`` to ``store/revocation.revoke_grant``, like every other."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from starlette.responses import JSONResponse

from frontdesk.oauth.storage import RevokedGrant
from frontdesk.services import admin, grants
from frontdesk.web import routing
from frontdesk.web.admin_auth import AdminCaller, require_admin
from frontdesk.web.deps import Work
from frontdesk.web.errors import ApiError
from frontdesk.web.routes.api.admin.common import (
    ERRORS,
    PageCursor,
    PageLimit,
    body_doc,
    domain_errors,
    read_body,
)
from frontdesk.web.routes.api.admin.models import AdminTokenList, AdminTokenOut, RevokedOut, RevokeIn

router = routing.router(tags=["admin: tokens"])
Reader = Annotated[AdminCaller, Depends(require_admin("admin:tokens:read"))]
Writer = Annotated[AdminCaller, Depends(require_admin("admin:tokens:write"))]


def tokens_json(rows: list[admin.TokenRow], next_cursor: str | None) -> dict[str, Any]:
    tokens = [AdminTokenOut.model_validate(t, from_attributes=True).model_dump(mode="json") for t in rows]
    return {"tokens": tokens, "next_cursor": next_cursor}


def revoked_json(revoked: RevokedGrant) -> dict[str, int]:
    return RevokedOut(
        access_tokens=len(revoked.access_token_ids),
        refresh_tokens=revoked.refresh_tokens,
        codes=revoked.codes,
        consents=revoked.consents,
    ).model_dump()


@router.get(
    "/api/admin/tokens", response_model=AdminTokenList, summary="Live access tokens (never their values)"
)
async def list_tokens(
    caller: Reader,
    uow: Work,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
    client_id: Annotated[str | None, Query(max_length=64)] = None,
    space_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> JSONResponse:
    with domain_errors():
        rows, next_cursor = await admin.live_tokens(
            uow.session, user_id=user_id, client_id=client_id, space_id=space_id, cursor=cursor, limit=limit
        )
    return JSONResponse(tokens_json(rows, next_cursor))


@router.post(
    "/api/admin/tokens/revoke",
    response_model=RevokedOut,
    responses=ERRORS,
    openapi_extra=body_doc(RevokeIn),
    summary="Revoke a token, or the grants of a user, an app or a space",
)
async def revoke(request: Request, caller: Writer, uow: Work) -> JSONResponse:
    body = await read_body(request, RevokeIn)
    with domain_errors():
        if body.token_id is not None:
            if body.user_id or body.client_id or body.space_id:
                raise ApiError(400, "invalid_request", "token_id: name a token alone")
            revoked = await admin.revoke_token_id(uow.session, body.token_id)
        else:
            revoked = await grants.revoke_tokens(
                uow.session, user_id=body.user_id, client_id=body.client_id, space_id=body.space_id
            )
    await caller.record(
        "tokens.revoke",
        token_id=body.token_id,
        target_user_id=body.user_id,
        target_client_id=body.client_id,
        target_space_id=body.space_id,
        tokens=len(revoked.access_token_ids),
    )
    return JSONResponse(revoked_json(revoked))
