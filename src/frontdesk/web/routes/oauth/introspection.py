"""Token introspection, RFC 7662: POST /oauth/introspect."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.request import OAuthRequest
from frontdesk.oauth.tokens import NO_STORE
from frontdesk.store.unit_of_work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, method_not_allowed, protocol_response
from frontdesk.web.routing import RawRoute

router = routing.router()
PATH = "/oauth/introspect"


async def introspect(request: Request) -> Response:
    """Describe a token to its own app, or to a resource server allowed to introspect."""
    endpoint = get_state(request).oauth.introspection

    async def handle(oreq: OAuthRequest, uow: UnitOfWork) -> Response:
        return JSONResponse(await endpoint.handle(oreq, uow.storage), headers=dict(NO_STORE))

    return await protocol_response(request, handle)


async def introspect_other_methods(request: Request) -> Response:
    """RFC 7662 §2.1: the protected resource uses POST."""
    return method_not_allowed("use POST for the introspection endpoint")


router.add_api_route(
    PATH,
    introspect,
    methods=["POST"],
    summary="Token introspection (RFC 7662)",
    tags=["oauth"],
    route_class_override=RawRoute,
)
router.add_api_route(
    PATH, introspect_other_methods, methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
