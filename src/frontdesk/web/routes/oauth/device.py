"""``POST /oauth/device_authorization`` on every host: RFC 8628 §3.1–§3.2 (oauth/device.py).

On a space's host (subdomain or custom domain) the authorization is that space's: its user
code is entered on that host's ``/device`` page and its tokens are that host's, like a code
from the authorization endpoint there. The person's side is web/routes/pages/device.py.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.metadata import DEVICE_AUTHORIZATION_PATH
from frontdesk.oauth.request import OAuthRequest
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, protocol_response
from frontdesk.web.api_auth import RateLimited

router = routing.router()


async def device_authorization(request: Request) -> Response:
    st = get_state(request)
    endpoint = st.oauth.device

    async def handle(oreq: OAuthRequest, uow: UnitOfWork) -> Response:
        # Each authorization stores a device code and a user code until it expires: started
        # per address at the rate FRONTDESK_DEVICE_AUTHORIZATION_RATE_PER_ADDRESS allows.
        wait = await st.throttle.consume_for_address(st.rules.device_authorization, oreq.client_ip)
        if wait is not None:
            raise RateLimited(f"too many device authorizations; retry in {wait} seconds", retry_after=wait)
        result = await endpoint.handle(oreq, uow.storage)
        return JSONResponse(result.body, status_code=result.status_code, headers=result.headers)

    return await protocol_response(request, handle)


# Its body and answers are in web/openapi_protocol.py.
routing.post_only(
    router, DEVICE_AUTHORIZATION_PATH, device_authorization, summary="Device authorization (RFC 8628 §3.1)"
)
