"""Pushed authorization requests, RFC 9126: POST /oauth/par on every host.

The protocol core decides (:class:`frontdesk.oauth.par.PushedAuthorizationEndpoint`); this
answers 201 with the ``request_uri`` (§2.2), or the JSON error of §2.3 (405 with ``Allow:
POST`` for other methods, 413 for an oversized body: web/limits.py).
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.metadata import PAR_PATH
from frontdesk.oauth.request import OAuthRequest
from frontdesk.oauth.tokens import NO_STORE
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, protocol_response

router = routing.router()


async def pushed_authorization_request(request: Request) -> Response:
    """Store an authorization request pushed by an authenticated client (RFC 9126 §2)."""
    endpoint = get_state(request).oauth.pushed

    async def handle(oreq: OAuthRequest, uow: UnitOfWork) -> Response:
        pushed = await endpoint.handle(oreq, uow.storage)
        return JSONResponse(pushed.body, status_code=201, headers={**NO_STORE, **pushed.headers})

    return await protocol_response(request, handle)


routing.post_only(
    router, PAR_PATH, pushed_authorization_request, summary="Pushed authorization request (RFC 9126)"
)
