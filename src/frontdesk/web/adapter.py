"""Between HTTP and the rest: reading protocol requests, and one unit of work per request.

* :func:`read_form` and :func:`oauth_request` turn a Starlette request into the protocol
  core's framework-free :class:`frontdesk.oauth.request.OAuthRequest`.
* :func:`run_in_unit_of_work` (used by :class:`frontdesk.web.routing.UnitOfWorkRoute`, the
  route class of every router) runs each request in a
  unit of work (:class:`frontdesk.services.work.UnitOfWork`): committed when the handler returns,
  rolled back when it raises. Handlers reach it through :func:`unit_of_work`.
* :func:`protocol_response` runs a protocol endpoint (token, revocation, introspection) in its
  own unit of work, with the one exception to the rule: an OAuth error raised with
  ``persist=True`` commits what was staged before it is answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from frontdesk.oauth.errors import InvalidRequest, OAuthError
from frontdesk.oauth.request import OAuthRequest
from frontdesk.services.work import UnitOfWork
from frontdesk.web import errors
from frontdesk.web.hosts import Site
from frontdesk.web.state import AppState

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_FIELDS = 1000  # as Starlette's form parser
UOW = "unit_of_work"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def get_state(request: Request) -> AppState:
    return cast(AppState, request.app.state.frontdesk)


def unit_of_work(request: Request) -> UnitOfWork:
    """This request's unit of work (opened by :class:`UnitOfWorkRoute`, or here on first use
    by handlers outside it; the route class commits it)."""
    uow: UnitOfWork | None = getattr(request.state, UOW, None)
    if uow is None:
        uow = get_state(request).unit_of_work()
        setattr(request.state, UOW, uow)
    return uow


async def run_in_unit_of_work(request: Request, handler: Handler) -> Response:
    """Run ``handler``; the unit of work it used (if it used one: it is made on first use)
    is committed when it returns and closed either way."""
    try:
        response = await handler(request)
        uow: UnitOfWork | None = getattr(request.state, UOW, None)
        if uow is not None:
            await uow.commit()
        return response
    finally:
        uow = getattr(request.state, UOW, None)
        if uow is not None:
            await uow.close()


async def read_form(request: Request) -> tuple[tuple[str, str], ...]:
    """The form parameters of a protocol request (RFC 6749 appendix B encoding)."""
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if request.method in ("GET", "HEAD") or content_type not in FORM_TYPES:
        return ()
    if content_type == FORM_TYPES[0]:
        # The standard library's parser: several times cheaper than the streaming multipart
        # parser behind ``request.form()`` for the few short fields of a token request.
        try:
            text = (await request.body()).decode("utf-8")
            return tuple(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRequest("the request body is not a valid form") from exc
    try:
        form = await request.form()
    except (StarletteHTTPException, ValueError) as exc:  # a malformed multipart body
        raise InvalidRequest("the request body is not a valid form") from exc
    return tuple((k, v) for k, v in form.multi_items() if isinstance(v, str))


def request_urls(request: Request) -> tuple[str, ...]:
    """The URLs (without query) a request may have been sent to, for DPoP's ``htu`` (RFC 9449
    §4.3): the path under the host's public URL, as every absolute link of this host is built
    (``Site.origin``), and the path under the scheme and host as received, through trusted
    proxies only (web/hosts.py)."""
    site: Site = request.state.site
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.split(b"?", 1)[0].decode("latin-1")
    received = f"{request.state.scheme}://{request.state.raw_host}{path}"
    return (site.origin + path, received)


def dpop_header(request: Request) -> str | None:
    """The ``DPoP`` header (RFC 9449 §4.1); several fields are joined by commas, which no
    proof contains, so that more than one is refused (§4.3 item 1)."""
    values = request.headers.getlist("dpop")
    return ",".join(values) if values else None


def oauth_request(
    request: Request,
    *,
    form: tuple[tuple[str, str], ...] = (),
    query: tuple[tuple[str, str], ...] | None = None,
) -> OAuthRequest:
    site: Site = request.state.site
    headers = dict(request.headers.items())  # Starlette's names are lower-case already
    if "dpop" in headers:
        headers["dpop"] = dpop_header(request) or ""
    return OAuthRequest(
        method=request.method,
        query=tuple(request.query_params.multi_items()) if query is None else query,
        form=form,
        headers=headers,
        issuer=site.origin,
        space_id=site.space.id if site.space else None,
        client_ip=request.state.client_ip,
        resources=get_state(request).resolver,
        urls=request_urls(request),
    )


async def protocol_response(
    request: Request, handle: Callable[[OAuthRequest, UnitOfWork], Awaitable[Response]]
) -> Response:
    """Run a form-posting protocol endpoint in its own unit of work; OAuth errors become
    RFC 6749 §5.2 answers (committed first when the error says ``persist``)."""
    async with get_state(request).unit_of_work() as uow:
        try:
            response = await handle(oauth_request(request, form=await read_form(request)), uow)
        except OAuthError as exc:
            if exc.persist:
                await uow.commit()
            return errors.oauth_error_response(exc)
        await uow.commit()
        return response


def method_not_allowed(description: str) -> Response:
    """405 for a protocol endpoint asked with anything but POST (RFC 6749 §3.2)."""
    response = errors.oauth_error_response(InvalidRequest(description))
    response.status_code = 405
    response.headers["Allow"] = "POST"
    return response
