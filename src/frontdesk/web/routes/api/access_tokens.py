"""Cobot's token endpoints under ``/api/access_tokens/<token>``.

* ``GET`` → ``{"scope": [...]}``; ``DELETE`` → 204 (revokes it).
* ``POST …/space`` with ``space_id`` (the id or the subdomain) → a *space token* for the same
  app and scope, bound to that space; only an admin of the space may create one.

Holding the token in the path is what authorizes these calls. A bearer token sent as well must
be valid and be that token or one of the same user and app.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.models import TokenInfo
from frontdesk.oauth.tokens import IssueRequest, issue_access_token
from frontdesk.services import audit
from frontdesk.services.spaces import get_by_id_or_subdomain, membership_of
from frontdesk.store.models import App
from frontdesk.store.oauth_storage import client_from_row
from frontdesk.web.api_auth import ApiError, caller_for, presented_token
from frontdesk.web.api_models import ErrorOut, SpaceTokenOut, TokenScopeOut
from frontdesk.web.deps import DB, State
from frontdesk.web.oauth_glue import form_pairs, storage_for

router = APIRouter(tags=["access tokens"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
}


async def _path_token(request: Request, st: State, db: DB, token: str) -> TokenInfo:
    """The token named in the path, valid, and (if a bearer came too) one the caller may see."""
    target = await caller_for(request, db, token)
    presented = await presented_token(request)
    if presented is not None and presented != token:
        other = await caller_for(request, db, presented)
        same = other.token.user_id == target.token.user_id and other.token.client_id == target.token.client_id
        if not same:
            raise ApiError(403, "forbidden", "that token belongs to another user or app")
    return target.token


@router.get(
    "/api/access_tokens/{token}",
    response_model=TokenScopeOut,
    responses=ERRORS,
    summary="The scope of a token",
)
async def token_info(token: str, request: Request, st: State, db: DB) -> JSONResponse:
    info = await _path_token(request, st, db, token)
    return JSONResponse({"scope": list(info.scopes)})


@router.delete("/api/access_tokens/{token}", status_code=204, responses=ERRORS, summary="Revoke a token")
async def revoke(token: str, request: Request, st: State, db: DB) -> Response:
    info = await _path_token(request, st, db, token)
    storage = storage_for(db, st.keyring)
    await storage.revoke_token(info.id)
    if info.family_id is not None:  # its refresh token and siblings go with it
        await storage.revoke_refresh_family(info.family_id)
    await audit.record(
        db,
        audit.TOKEN_REVOKED,
        user_id=info.user_id,
        app_id=info.client_id,
        space_id=info.space_id,
        ip=request.state.client_ip,
        detail={"token_id": info.id, "via": "api"},
    )
    await storage.commit()
    return Response(status_code=204)


async def _space_ref(request: Request) -> str:
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type == "application/json":
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise ApiError(400, "invalid_request", "the body is not valid JSON") from exc
        value = body.get("space_id") if isinstance(body, dict) else None
    else:
        value = dict(await form_pairs(request)).get("space_id") or request.query_params.get("space_id")
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_request", "send space_id (the space's id or subdomain)")
    return value.strip()


@router.post(
    "/api/access_tokens/{token}/space",
    status_code=201,
    response_model=SpaceTokenOut,
    responses={**ERRORS, 400: {"model": ErrorOut}},
    summary="Create a space token",
)
async def space_token(token: str, request: Request, st: State, db: DB) -> JSONResponse:
    info = await _path_token(request, st, db, token)
    if info.space_id is not None:
        raise ApiError(400, "invalid_request", "this is already a space token; use a user token")
    space = await get_by_id_or_subdomain(db, await _space_ref(request))
    if space is None:
        raise ApiError(404, "not_found", "no such space")
    membership = await membership_of(db, space.id, info.user_id)
    if membership is None or membership.role != "admin":
        raise ApiError(403, "forbidden", "only an admin of the space can create a space token")
    app = await db.get(App, info.client_id)
    assert app is not None
    storage = storage_for(db, st.keyring)
    issued = await issue_access_token(
        storage,
        st.oauth.config,
        IssueRequest(
            # Space tokens are installation credentials: they never expire, even for apps
            # whose user tokens do (they cannot be refreshed, only exchanged again).
            client=dataclasses.replace(client_from_row(app), access_token_ttl=None),
            user_id=info.user_id,
            scopes=info.scopes,
            grant_type="space",
            space_id=space.id,
            parent_id=info.id,
            issuer=info.issuer or "",
        ),
    )
    await audit.record(
        db,
        audit.TOKEN_ISSUED,
        user_id=info.user_id,
        app_id=app.client_id,
        space_id=space.id,
        ip=request.state.client_ip,
        detail={"token_id": issued.token_id, "grant_type": "space"},
    )
    await storage.commit()
    return JSONResponse(
        {
            "scope": list(info.scopes),
            "token": issued.raw,
            "client_id": info.client_id,
            "space_id": space.id,
            "space_subdomain": space.subdomain,
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )
