"""Cobot's token endpoints under ``/api/access_tokens/<token>``.

* ``GET`` → ``{"scope": [...]}``; ``DELETE`` → 204 (revokes it).
* ``POST …/space`` with ``space_id`` (the id or the subdomain) → a *space token* for the same
  app and scope, bound to that space; only an admin of the space may create one.

Holding the token in the path is what authorizes these calls. A bearer token sent as well must
be valid and be that token or one of the same user and app. A DPoP-bound token (RFC 9449) in
the path counts only when the request also presents it as ``Authorization: DPoP <token>`` with
its proof; its space token is bound to the same key.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from frontdesk import events, metrics
from frontdesk.errors import FieldError, Forbidden, NotFound
from frontdesk.oauth.models import TokenInfo
from frontdesk.oauth.storage import TokenGrant
from frontdesk.services.space_tokens import issue_space_token
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import read_form
from frontdesk.web.api_auth import ApiError, caller_for, presented_token
from frontdesk.web.api_models import ErrorOut, SpaceTokenOut, TokenScopeOut
from frontdesk.web.bodies import JSON_TYPE, api_json, media_type
from frontdesk.web.deps import State, Work

router = routing.router(tags=["access tokens"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
}


async def _path_token(request: Request, uow: UnitOfWork, token: str) -> TokenInfo:
    """The token named in the path, valid, and (if a bearer came too) one the caller may see."""
    target = await caller_for(request, uow, token)
    presented = await presented_token(request)
    if presented is not None and presented != token:
        other = await caller_for(request, uow, presented)
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
async def token_info(token: str, request: Request, uow: Work) -> JSONResponse:
    info = await _path_token(request, uow, token)
    return JSONResponse({"scope": list(info.scopes)})


@router.delete("/api/access_tokens/{token}", status_code=204, responses=ERRORS, summary="Revoke a token")
async def revoke(token: str, request: Request, uow: Work) -> Response:
    info = await _path_token(request, uow, token)
    # Its refresh token and the family's other tokens go with it.
    await uow.storage.revoke_grant(TokenGrant(info.id))
    await uow.storage.record_event(
        events.TOKEN_REVOKED,
        user_id=info.user_id,
        app_id=info.client_id,
        space_id=info.space_id,
        ip=request.state.client_ip,
        detail={"token_id": info.id, "via": "api"},
    )
    return Response(status_code=204)


async def _space_ref(request: Request) -> str:
    if media_type(request) == JSON_TYPE:
        body = await api_json(request, empty={})
        value = body.get("space_id") if isinstance(body, dict) else None
    else:
        value = dict(await read_form(request)).get("space_id") or request.query_params.get("space_id")
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
async def space_token(token: str, request: Request, st: State, uow: Work) -> JSONResponse:
    info = await _path_token(request, uow, token)
    try:
        made = await issue_space_token(
            uow.session,
            uow.storage,
            # RFC 9449: a bound token's space token is bound to the same key (the request
            # proved it: a bound token in the path needs its DPoP proof, web/api_auth.py).
            st.oauth.issuer.bound_to(info.dpop_jkt) if info.dpop_jkt else st.oauth.issuer,
            info,
            await _space_ref(request),
            ip=request.state.client_ip,
        )
    except FieldError as exc:
        raise ApiError(400, "invalid_request", exc.message) from exc
    except NotFound as exc:
        raise ApiError(404, "not_found", exc.message) from exc
    except Forbidden as exc:
        raise ApiError(403, "forbidden", exc.message) from exc
    metrics.token_issued("space_token", main_host=request.state.site.is_main)
    return JSONResponse(
        {
            "scope": list(info.scopes),
            "token": made.raw,
            "client_id": info.client_id,
            "space_id": made.space.id,
            "space_subdomain": made.space.subdomain,
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )
