"""Token revocation, RFC 7009: POST /oauth/revoke."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from frontdesk.oauth.request import OAuthRequest
from frontdesk.oauth.tokens import NO_STORE
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, protocol_response

router = routing.router()
PATH = "/oauth/revoke"


async def revoke(request: Request) -> Response:
    """Revoke an access or refresh token of the authenticated client; always 200 (§2.2)."""
    endpoint = get_state(request).oauth.revocation

    async def handle(oreq: OAuthRequest, uow: UnitOfWork) -> Response:
        await endpoint.handle(oreq, uow.storage)
        return Response(status_code=200, headers=dict(NO_STORE))

    return await protocol_response(request, handle)


routing.post_only(router, PATH, revoke, summary="Token revocation (RFC 7009)")
