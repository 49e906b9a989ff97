"""``/scim/v2``: SCIM 2.0 (RFC 7643, RFC 7644) for identity providers (docs/integrating.md,
"SCIM 2.0"), on the main host only.

HTTP only: the request is authenticated as the admin API's (web/admin_auth.py, scope
``scim``), turned into scim2-server's framework-free ``ScimRequest`` and served by its
``AsyncScimHandler`` over ``services/scim.FrontdeskScimStorage``, in the request's unit of
work (committed by the route class; rolled back first when the answer is a SCIM error).

* a space's host: 404;
* no token: 401, a bad token: 401 ``invalid_token``, a person's token or one without ``scim``:
  403 ``insufficient_scope`` — with the RFC 6750 §3 challenge, and a SCIM error body
  (RFC 7644 §3.12);
* ``/ServiceProviderConfig`` needs no token (RFC 7644 §4: it tells how to authenticate).
"""

from __future__ import annotations

import json
from functools import cache
from http import HTTPStatus
from typing import Any

from scim2_models import Error, SCIMException
from scim2_server.handler import AsyncScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import SCIM_MEDIA_TYPE, ScimResponse
from scim2_server.routing import Operation
from scim2_server.service import ScimService
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from frontdesk.oauth.errors import OAuthError
from frontdesk.services import scim
from frontdesk.web import errors
from frontdesk.web.adapter import get_state, run_in_unit_of_work, unit_of_work
from frontdesk.web.admin_auth import AdminCaller, authenticate_admin
from frontdesk.web.errors import ApiError

PREFIX = "/scim/v2"
SCOPE = "scim"


@cache
def service() -> ScimService:
    """The SCIM protocol (scim2-server), built once per process from Frontdesk's description."""
    return ScimService(scim.provider())


def _scim_response(response: ScimResponse) -> Response:
    body = b"" if response.body is None else json.dumps(response.body).encode()
    headers = {**response.headers, "Cache-Control": "no-store"}
    headers.pop("Content-Type", None)
    media_type = SCIM_MEDIA_TYPE if response.body is not None else None
    return Response(body, status_code=int(response.status), headers=headers, media_type=media_type)


def _refusal(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """An authentication refusal as a SCIM error (RFC 7644 §3.12) with the HTTP headers the
    JSON API would send (the RFC 6750 challenge, ``Retry-After``)."""
    body = Error(status=status, detail=detail).model_dump()
    return _scim_response(ScimResponse(HTTPStatus(status), body, dict(headers or {})))


async def _authenticate(request: Request) -> AdminCaller | Response:
    try:
        return await authenticate_admin(request, unit_of_work(request), SCOPE)
    except OAuthError as exc:
        answer = errors.bearer_error_response(exc, realm=request.state.site.origin)
        kept = {k: v for k, v in answer.headers.items() if k.lower() in ("www-authenticate", "retry-after")}
        return _refusal(exc.status_code, exc.description or exc.error, kept)
    except ApiError as exc:
        return _refusal(exc.status_code, exc.description)


def _relative(path: str) -> str:
    """The path under the SCIM root (RFC 7644 §3.8: a ``.scim`` suffix is the media type)."""
    return (path.removeprefix(PREFIX) if path.startswith(PREFIX) else path).removesuffix(".scim") or "/"


def _scim_request(request: Request, body: bytes) -> ScimRequest:
    site_origin: str = request.state.site.origin
    return ScimRequest(
        method=request.method,
        base_url=site_origin + PREFIX,
        path=_relative(request.scope["path"]),
        query=dict(request.query_params),
        headers=list(request.headers.items()),
        body=body,
    )


async def scim_endpoint(request: Request) -> Response:
    """Every SCIM operation (RFC 7644 §3): scim2-server routes it."""
    if request.state.site.space is not None:
        return _refusal(404, "SCIM lives on the main host")
    scim_request = _scim_request(request, await request.body())
    handler_service = service()
    try:
        open_endpoint = handler_service.match(scim_request).operation is Operation.service_provider_config
    except SCIMException:
        open_endpoint = False
    caller = None if open_endpoint else await _authenticate(request)
    if isinstance(caller, Response):
        return caller
    uow = unit_of_work(request)
    st = get_state(request)

    async def record(action: str, **detail: Any) -> None:
        if caller is not None:
            await caller.record(action, **detail)

    storage = scim.FrontdeskScimStorage(
        uow.session,
        uow.storage,
        passwords=st.passwords,
        settings=st.settings,
        scim=handler_service.provider,
        client_id=caller.client_id if caller is not None else "",
        record=record,
    )
    try:
        answer = await AsyncScimHandler(handler_service, storage).handle(scim_request)
    except SCIMException as exc:
        # Nothing of a refused operation is kept (RFC 7644 §3.12).
        await uow.rollback()
        answer = handler_service.error_response(exc)
    return _scim_response(answer)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI application mounted at ``/scim/v2`` (web/app.py): each request one unit of work
    (web/adapter.run_in_unit_of_work, as a ``UnitOfWorkRoute``'s). A mount rather than routes:
    scim2-server routes SCIM's paths itself (RFC 7644 §3.2), and the OpenAPI document describes
    the endpoint in its introduction and points to ``/scim/v2/Schemas`` (web/openapi.py)."""
    if scope["type"] != "http":
        return
    request = Request(scope, receive, send)
    response = await run_in_unit_of_work(request, scim_endpoint)
    await response(scope, receive, send)


__all__ = ["PREFIX", "application", "service"]
