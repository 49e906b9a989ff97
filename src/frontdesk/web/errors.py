"""The one error renderer: every error answer of every route is made here.

* Protocol endpoints (``/oauth/…``): RFC 6749 §5.2 JSON with the token endpoint's no-store
  headers, ``WWW-Authenticate: Basic`` after failed Basic authentication (§5.2).
* The JSON API (``/api/…``): the same JSON shape; token errors carry the RFC 6750 §3 Bearer
  challenge.
* Pages: ``error.html`` with a readable title and message.

:func:`install` registers the exception handlers that route every error here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.errors import Conflict, FieldError, Forbidden, FrontdeskError, NotFound
from frontdesk.i18n import N_
from frontdesk.oauth.bearer import MissingToken, challenge
from frontdesk.oauth.dpop import SCHEME as DPOP_SCHEME
from frontdesk.oauth.dpop import SIGNING_ALGS, UseDpopNonce
from frontdesk.oauth.errors import InvalidClient, InvalidRequest, OAuthError, TemporarilyUnavailable
from frontdesk.oauth.resource import metadata_url
from frontdesk.oauth.tokens import NO_STORE

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("frontdesk.web")
# Seconds a client is asked to wait while the database is unreachable (docs/operations.md).
UNAVAILABLE_RETRY_AFTER = 2
UNAVAILABLE_MESSAGE = N_("The service is briefly unavailable. Please try again in a moment.")
SERVER_ERROR_MESSAGE = N_(
    "Something went wrong on our side. If it keeps happening, tell us the reference below."
)

# JSON error codes for HTTP errors that are not about OAuth.
HTTP_CODES = {
    400: "invalid_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "invalid_request",
    422: "invalid_request",
    429: "too_many_requests",
    431: "invalid_request",
}
PAGE_TITLES = {
    400: N_("Bad request"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    413: N_("Too large"),
    431: N_("Request headers too large"),
}


class ApiError(Exception):
    """A JSON API error that is not about the token: ``{"error": code, "error_description": …}``."""

    def __init__(self, status_code: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.error = error
        self.description = description


class SecondFactorRequired(Exception):
    """A space's admin pages need a second factor and the person has none: a page that says
    so, with the way to set one up (web/deps.py space_admin)."""

    def __init__(self, space_name: str) -> None:
        self.space_name = space_name


class LoginRedirect(Exception):
    """A page needs a logged-in person: answered with a redirect to this host's login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def json_error(
    status_code: int, error: str, description: str | None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    merged = {"Cache-Control": "no-store", **(headers or {})}
    return JSONResponse(body, status_code=status_code, headers=merged)


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2: JSON error, the token endpoint's no-store headers, Basic challenge."""
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidClient) and exc.used_basic:
        headers["WWW-Authenticate"] = 'Basic realm="frontdesk", charset="UTF-8"'
    if isinstance(exc, UseDpopNonce):
        # RFC 9449 §8: the nonce the client's next proof must carry.
        headers["DPoP-Nonce"] = exc.nonce
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


def bearer_error_response(exc: OAuthError, realm: str, *, dpop: bool = False) -> JSONResponse:
    """RFC 6750 §3: a challenge matching the error (malformed credentials too: §3.1
    ``invalid_request``), naming the host's resource metadata (RFC 9728 §5.1; ``realm`` is the
    host's issuer), and the error as JSON too. The challenge is RFC 9449 §7.1's ``DPoP`` one
    (with ``algs``) for a request that used the DPoP scheme (``dpop``) and for DPoP's errors;
    ``use_dpop_nonce`` comes with the nonce in ``DPoP-Nonce`` (§9)."""
    headers: dict[str, str] = {}
    dpop = dpop or getattr(exc, "challenge_scheme", None) == DPOP_SCHEME
    if exc.status_code in (401, 403) or isinstance(exc, MissingToken | InvalidRequest):
        algs = SIGNING_ALGS if dpop else None
        headers["WWW-Authenticate"] = challenge(realm, exc, metadata_url(realm), dpop_algs=algs)
    if isinstance(exc, UseDpopNonce):
        headers["DPoP-Nonce"] = exc.nonce
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    body = exc.body()
    return json_error(exc.status_code, body["error"], body.get("error_description"), headers)


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path == "/oauth/authorize":  # a page for people
        return False
    return path.startswith(("/api/", "/oauth/", "/.well-known/")) or "application/json" in (
        request.headers.get("accept") or ""
    )


def page(
    request: Request,
    status_code: int,
    message: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    from frontdesk.web.templating import gettext, render

    # Titles and messages are English msgids (i18n.N_), shown in the page's language.
    title = gettext(request, title or PAGE_TITLES.get(status_code, N_("Error")))
    return render(
        request,
        "error.html",
        {"title": title, "message": gettext(request, message)},
        status_code=status_code,
        headers=headers,
    )


def http_error(
    request: Request, status_code: int, detail: str, headers: Mapping[str, str] | None
) -> Response:
    if wants_json(request):
        return json_error(status_code, HTTP_CODES.get(status_code, "invalid_request"), detail, headers)
    message = detail
    if status_code == 404 and message == "Not Found":
        message = N_("There is no page at this address.")
    return page(request, status_code, message, headers=headers)


def domain_status(exc: FrontdeskError) -> int:
    """The HTTP status of a domain error that no handler turned into a page of its own."""
    for cls, status in ((FieldError, 422), (NotFound, 404), (Forbidden, 403), (Conflict, 409)):
        if isinstance(exc, cls):
            return status
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRedirect)
    async def _login(request: Request, exc: LoginRedirect) -> Response:
        return RedirectResponse(exc.next_url, status_code=303)

    @app.exception_handler(SecondFactorRequired)
    async def _second_factor(request: Request, exc: SecondFactorRequired) -> Response:
        from frontdesk.web.templating import render

        settings = request.app.state.frontdesk.settings
        context = {"space_name": exc.space_name, "set_up_url": settings.public_url + "/account/two-factor"}
        return render(request, "second_factor_required.html", context, status_code=403)

    @app.exception_handler(StarletteHTTPException)  # also the router's own 404 and 405
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else ""
        return http_error(request, exc.status_code, detail, exc.headers)

    @app.exception_handler(OAuthError)
    async def _oauth(request: Request, exc: OAuthError) -> Response:
        if request.url.path.startswith("/oauth/"):
            return oauth_error_response(exc)
        scheme = (request.headers.get("authorization") or "")[:5].lower()
        return bearer_error_response(exc, realm=request.state.site.origin, dpop=scheme == "dpop ")

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return json_error(exc.status_code, exc.error, exc.description)

    @app.exception_handler(FrontdeskError)
    async def _domain(request: Request, exc: FrontdeskError) -> Response:
        return http_error(request, domain_status(exc), exc.message, None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if wants_json(request):
            return json_error(400, "invalid_request", str(exc.errors()[:1]))
        return page(request, 400, "The request was malformed.")

    # Starlette's last resort (it logs the exception after this answers): a page that names
    # the request id (web/request_id.py), so a person's report finds the traceback in the log.
    # Registered by status, not as a handler of Exception: web/routing.FastLane looks handlers
    # up by exception class, and must let every other exception through (UnavailableMiddleware).
    @app.exception_handler(500)
    async def _server_error(request: Request, exc: Exception) -> Response:
        if wants_json(request):
            return json_error(500, "server_error", None)
        try:
            return page(request, 500, SERVER_ERROR_MESSAGE, title=N_("Something went wrong"))
        except Exception:  # the page needs what may be missing (the site of the host)
            return HTMLResponse("<!doctype html><title>500</title><p>Internal Server Error", 500)


def unavailable_response(request: Request) -> Response:
    """503 with ``Retry-After`` while the database cannot be reached: RFC 6749's
    ``temporarily_unavailable`` (§4.1.2.1; as JSON on the token endpoint, §5.2's shape) on the
    protocol endpoints, the same code on the JSON API, a page for people."""
    retry = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}
    if request.url.path.startswith("/oauth/") and request.url.path != "/oauth/authorize":
        exc = TemporarilyUnavailable(UNAVAILABLE_MESSAGE, retry_after=UNAVAILABLE_RETRY_AFTER)
        return oauth_error_response(exc)
    if wants_json(request):
        return json_error(503, TemporarilyUnavailable.error, UNAVAILABLE_MESSAGE, retry)
    try:
        return page(request, 503, UNAVAILABLE_MESSAGE, title=N_("Unavailable"), headers=retry)
    except Exception:  # the page needs what may be missing now (the site of the host)
        return HTMLResponse(f"<!doctype html><title>503</title><p>{UNAVAILABLE_MESSAGE}", 503, retry)


class UnavailableMiddleware:
    """Turns a database outage anywhere in a request (a route, a dependency, a middleware
    inside this one) into :func:`unavailable_response` instead of a 500, as long as the answer
    has not begun. ``unavailable`` is the store's test for such an error
    (``frontdesk.store.db.is_unavailable``, passed in: the web layer imports no SQL)."""

    def __init__(self, app: ASGIApp, unavailable: Callable[[BaseException], bool]) -> None:
        self.app = app
        self.unavailable = unavailable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not self.unavailable(exc):
                raise
            log.warning(
                "database unavailable: %s %s answered 503 (%s)", scope.get("method"), scope.get("path"), exc
            )
            response = unavailable_response(Request(scope, receive))
            await response(scope, receive, send)
