"""Token revocation, RFC 7009: POST /oauth/revoke."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from frontdesk.oauth.request import OAuthRequest
from frontdesk.oauth.tokens import NO_STORE
from frontdesk.store.unit_of_work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, method_not_allowed, protocol_response
from frontdesk.web.routing import RawRoute

router = routing.router()
PATH = "/oauth/revoke"


async def revoke(request: Request) -> Response:
    """Revoke an access or refresh token of the authenticated client; always 200 (§2.2)."""
    endpoint = get_state(request).oauth.revocation

    async def handle(oreq: OAuthRequest, uow: UnitOfWork) -> Response:
        await endpoint.handle(oreq, uow.storage)
        return Response(status_code=200, headers=dict(NO_STORE))

    return await protocol_response(request, handle)


async def revoke_other_methods(request: Request) -> Response:
    """RFC 7009 §2.1: the client uses POST."""
    return method_not_allowed("use POST for the revocation endpoint")


router.add_api_route(
    PATH,
    revoke,
    methods=["POST"],
    summary="Token revocation (RFC 7009)",
    tags=["oauth"],
    route_class_override=RawRoute,
)
router.add_api_route(
    PATH, revoke_other_methods, methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
