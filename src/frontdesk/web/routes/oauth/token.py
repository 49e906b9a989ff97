"""``POST /oauth/access_token`` (Cobot's path) and ``/oauth/token``: RFC 6749 §3.2."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.request import OAuthRequest
from frontdesk.store.unit_of_work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, method_not_allowed, protocol_response
from frontdesk.web.routing import RawRoute

router = routing.router()
PATHS = ("/oauth/access_token", "/oauth/token")


async def token(request: Request) -> Response:
    # The hottest write path: no FastAPI request handling (RawRoute).
    st = get_state(request)

    async def handle(oreq: OAuthRequest, uow: UnitOfWork) -> Response:
        result = await st.oauth.token.handle(oreq, uow.storage, password_auth=st.password_check(uow))
        return JSONResponse(result.body, status_code=result.status_code, headers=result.headers)

    return await protocol_response(request, handle)


async def token_get(request: Request) -> Response:
    """RFC 6749 §3.2: the client MUST use POST."""
    return method_not_allowed("use POST for the token endpoint")


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
