"""``POST /oauth/access_token`` (Cobot's path) and ``/oauth/token``: RFC 6749 §3.2."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.errors import InvalidRequest, OAuthError
from frontdesk.web.deps import get_state
from frontdesk.web.oauth_glue import (
    DbPasswordAuth,
    form_pairs,
    oauth_request,
    storage_for,
    token_error_response,
)
from frontdesk.web.routing import RawRoute

router = APIRouter()
PATHS = ("/oauth/access_token", "/oauth/token")


async def token(request: Request) -> Response:
    # The hottest write path: no FastAPI request handling (RawRoute); it opens its session.
    st = get_state(request)
    async with st.db.session() as db:
        try:
            oreq = oauth_request(request, form=await form_pairs(request))
            result = await st.oauth.token.handle(
                oreq, storage_for(db, st.keyring), password_auth=DbPasswordAuth(db, st.passwords)
            )
        except OAuthError as exc:
            await db.rollback()
            return token_error_response(exc)
    return JSONResponse(result.body, status_code=result.status_code, headers=result.headers)


async def token_get(request: Request) -> Response:
    """RFC 6749 §3.2: the client MUST use POST."""
    response = token_error_response(InvalidRequest("use POST for the token endpoint"))
    response.status_code = 405
    response.headers["Allow"] = "POST"
    return response


for _path in PATHS:
    router.add_api_route(
        _path,
        token,
        methods=["POST"],
        include_in_schema=_path == PATHS[0],
        summary="Token endpoint (RFC 6749 §3.2)",
        tags=["oauth"],
        route_class_override=RawRoute,
    )
    router.add_api_route(_path, token_get, methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
