"""Token revocation, RFC 7009: POST /oauth/revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from frontdesk.oauth.errors import InvalidRequest, OAuthError
from frontdesk.oauth.revocation import RevocationEndpoint
from frontdesk.oauth.tokens import NO_STORE
from frontdesk.web.deps import DB, State
from frontdesk.web.oauth_glue import form_pairs, oauth_request, storage_for, token_error_response

router = APIRouter()
PATH = "/oauth/revoke"


@router.post(PATH, summary="Token revocation (RFC 7009)", tags=["oauth"])
async def revoke(request: Request, st: State, db: DB) -> Response:
    """Revoke an access or refresh token of the authenticated client; always 200 (§2.2)."""
    # The token endpoint's settings (strict mode, clock) and its limit on failed client logins.
    endpoint = RevocationEndpoint(st.oauth.token.config, client_limiter=st.oauth.token.client_limiter)
    try:
        oreq = oauth_request(request, form=await form_pairs(request))
        await endpoint.handle(oreq, storage_for(db, st.keyring))
    except OAuthError as exc:
        await db.rollback()
        return token_error_response(exc)
    return Response(status_code=200, headers=dict(NO_STORE))


@router.api_route(PATH, methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
async def revoke_other_methods() -> Response:
    """RFC 7009 §2.1: the client uses POST."""
    response = token_error_response(InvalidRequest("use POST for the revocation endpoint"))
    response.status_code = 405
    response.headers["Allow"] = "POST"
    return response
