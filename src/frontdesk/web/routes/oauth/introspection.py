"""Token introspection, RFC 7662: POST /oauth/introspect."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.errors import InvalidRequest, OAuthError
from frontdesk.oauth.introspection import IntrospectionEndpoint
from frontdesk.oauth.tokens import NO_STORE
from frontdesk.web.deps import DB, State
from frontdesk.web.oauth_glue import form_pairs, oauth_request, storage_for, token_error_response

router = APIRouter()
PATH = "/oauth/introspect"


@router.post(PATH, summary="Token introspection (RFC 7662)", tags=["oauth"])
async def introspect(request: Request, st: State, db: DB) -> Response:
    """Describe a token to its own app, or to a resource server allowed to introspect."""
    # The token endpoint's settings (strict mode, clock) and its limit on failed client logins.
    endpoint = IntrospectionEndpoint(st.oauth.token.config, client_limiter=st.oauth.token.client_limiter)
    try:
        oreq = oauth_request(request, form=await form_pairs(request))
        body = await endpoint.handle(oreq, storage_for(db, st.keyring))
    except OAuthError as exc:
        await db.rollback()
        return token_error_response(exc)
    return JSONResponse(body, headers=dict(NO_STORE))


@router.api_route(PATH, methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
async def introspect_other_methods() -> Response:
    """RFC 7662 §2.1: the protected resource uses POST."""
    response = token_error_response(InvalidRequest("use POST for the introspection endpoint"))
    response.status_code = 405
    response.headers["Allow"] = "POST"
    return response
