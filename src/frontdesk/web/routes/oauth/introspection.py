"""Token introspection, RFC 7662: POST /oauth/introspect."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.request import OAuthRequest
from frontdesk.oauth.tokens import NO_STORE
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, protocol_response

router = routing.router()
PATH = "/oauth/introspect"


async def introspect(request: Request) -> Response:
    """Describe a token to its own app, or to a resource server allowed to introspect."""
    endpoint = get_state(request).oauth.introspection

    async def handle(oreq: OAuthRequest, uow: UnitOfWork) -> Response:
        return JSONResponse(await endpoint.handle(oreq, uow.storage), headers=dict(NO_STORE))

    return await protocol_response(request, handle)


routing.post_only(router, PATH, introspect, summary="Token introspection (RFC 7662)")
