"""Dynamic client registration, RFC 7591: POST /oauth/register.

Registers public PKCE clients (see :mod:`frontdesk.oauth.registration`) on any host; the
app is platform-wide like every other app. Switched off with ``FRONTDESK_DYNAMIC_REGISTRATION=false``
(the endpoint then answers 404 and the metadata stops listing it). Successful registrations
are limited per client address (``FRONTDESK_DYNAMIC_REGISTRATION_RATE_LIMIT``).
"""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

from fastapi import HTTPException, Request
from starlette.responses import JSONResponse, Response

from frontdesk.errors import FieldError
from frontdesk.inputs import BadInput
from frontdesk.oauth.errors import (
    InvalidClientMetadata,
    InvalidRedirectUriMetadata,
    OAuthError,
)
from frontdesk.oauth.metadata import REGISTRATION_PATH
from frontdesk.oauth.models import Client
from frontdesk.oauth.registration import GRANT_TYPES, validate_client_metadata
from frontdesk.oauth.tokens import NO_STORE
from frontdesk.services import apps
from frontdesk.web import routing
from frontdesk.web.adapter import method_not_allowed
from frontdesk.web.api_auth import RateLimited
from frontdesk.web.bodies import JSON_TYPE, media_type, read_json
from frontdesk.web.deps import State, Work
from frontdesk.web.errors import oauth_error_response

router = routing.router()
# Access tokens of a client that registered for refresh tokens expire after this many seconds
# (docs/decisions.md §5: expiring tokens with rotating refresh tokens are an opt-in).
REFRESHING_TOKEN_TTL = 3600


async def _json_body(request: Request) -> Any:
    """The client metadata: a JSON body (its size capped by web/limits.py, read by
    web/bodies.py); anything unreadable is ``invalid_client_metadata`` (RFC 7591 §3.2.2)."""
    if media_type(request) != JSON_TYPE:
        raise InvalidClientMetadata("send the client metadata as application/json (RFC 7591 §3.1)")
    try:
        return await read_json(request)
    except BadInput as exc:
        raise InvalidClientMetadata(str(exc)) from exc


def _issued_at(app: Client) -> int:
    created = app.created_at
    if created is None:
        return int(time.time())
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return int(created.timestamp())


def _field_error(exc: FieldError) -> OAuthError:
    if exc.field == "redirect_uris":
        return InvalidRedirectUriMetadata(str(exc))
    return InvalidClientMetadata(str(exc))


@router.post(REGISTRATION_PATH, summary="Dynamic client registration (RFC 7591)", tags=["oauth"])
async def register(request: Request, st: State, uow: Work) -> Response:
    if not st.settings.dynamic_registration:
        raise HTTPException(404)
    try:
        body = await _json_body(request)
        grants = tuple(g for g in GRANT_TYPES if g in st.oauth.token.grant_types)
        meta = validate_client_metadata(body, grant_types=grants)
        wait = await st.throttle.consume_for_address(st.rules.dynamic_registration, request.state.client_ip)
        if wait is not None:
            raise RateLimited(f"too many registrations; retry in {wait} seconds", retry_after=wait)
        try:
            app = await apps.register_dynamic_client(
                uow.session,
                name=meta.client_name,
                redirect_uris=list(meta.redirect_uris),
                scopes=list(meta.scope),
                client_uri=meta.client_uri,
                metadata=meta.as_dict(),
                access_token_ttl=REFRESHING_TOKEN_TTL if meta.wants_refresh_tokens else None,
                post_logout_redirect_uris=list(meta.post_logout_redirect_uris),
                backchannel_logout_uri=meta.backchannel_logout_uri,
                dpop_required=meta.dpop_bound_access_tokens,
                par_required=meta.require_pushed_authorization_requests,
                token_endpoint_auth_method=meta.token_endpoint_auth_method,
                jwks=meta.jwks,
                jwks_uri=meta.jwks_uri,
            )
        except FieldError as exc:
            raise _field_error(exc) from exc
    except OAuthError as exc:
        await uow.rollback()
        return oauth_error_response(exc)
    # RFC 7591 §3.2.1: the client id and every registered metadata value; no secret.
    response = {"client_id": app.client_id, "client_id_issued_at": _issued_at(app), **meta.as_dict()}
    return JSONResponse(response, status_code=201, headers=dict(NO_STORE))


async def _other_methods(request: Request, st: State) -> Response:
    if not st.settings.dynamic_registration:
        raise HTTPException(404)
    return method_not_allowed("register a client with POST")


router.add_api_route(
    REGISTRATION_PATH, _other_methods, methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
