"""``POST /oauth/access_token`` (Cobot's path) and ``/oauth/token``: RFC 6749 §3.2."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse, Response

from frontdesk import metrics
from frontdesk.oauth.request import OAuthRequest
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, protocol_response

router = routing.router()
PATHS = ("/oauth/access_token", "/oauth/token")


async def token(request: Request) -> Response:
    st = get_state(request)

    async def handle(oreq: OAuthRequest, uow: UnitOfWork) -> Response:
        result = await st.oauth.token.handle(oreq, uow.storage, password_auth=st.password_check(uow))
        if result.status_code == 200:
            # frontdesk_tokens_issued_total (docs/metrics.md): counted before the commit, like
            # any answer that reached this point.
            metrics.token_issued(_grant_type(oreq), main_host=oreq.space_id is None)
        return JSONResponse(result.body, status_code=result.status_code, headers=result.headers)

    return await protocol_response(request, handle)


def _grant_type(oreq: OAuthRequest) -> str:
    for name, value in (*oreq.form, *oreq.query):  # the query too unless strict (token_params)
        if name == "grant_type":
            return value
    return ""


for _path in PATHS:
    # Both documented; their bodies and answers are in web/openapi_protocol.py.
    routing.post_only(router, _path, token, summary="Token endpoint (RFC 6749 §3.2)")
