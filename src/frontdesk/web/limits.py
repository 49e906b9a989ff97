"""What a request may bring, checked before any handler reads it (pure ASGI middleware).

* **Headers**: the request line plus every header over ``FRONTDESK_MAX_HEADER_BYTES`` is
  answered ``431`` (RFC 6585 §5). ``frontdesk serve`` also caps them in the HTTP server
  (:mod:`frontdesk.web.server`), which otherwise reads a header of any size before the
  application sees it.
* **Bodies**: protocol and API endpoints (``/oauth/…``, ``/api/…``, everything that is no page)
  take at most ``FRONTDESK_MAX_BODY_BYTES``, HTML page forms (and the consent form at
  ``/oauth/authorize``) ``FRONTDESK_MAX_PAGE_BODY_BYTES``. A ``Content-Length`` over the cap is
  answered ``413`` (RFC 9110 §15.5.14) before anything is read; a body without one (chunked) is
  counted as it arrives and refused as soon as it passes the cap. Either way the connection is
  closed, so the rest of the upload is never read. A body within the cap is handed on whole.
* **NUL characters** (PostgreSQL text cannot hold them; SQLite stored them): in the path, the
  query string, a header value, or a form body, the request is answered ``400`` before it
  reaches a handler. JSON bodies are checked string by string where they are parsed
  (:func:`frontdesk.inputs.load_json`, through :mod:`frontdesk.web.bodies`).

Every refusal is rendered by the one error renderer (:mod:`frontdesk.web.errors`): RFC 6749
§5.2 JSON (``invalid_request``) on protocol and API endpoints, a readable page elsewhere,
including the authorization endpoint (its client and redirect URI cannot be trusted yet).
Runs inside host resolution, so pages can be rendered for the host.

A request without a body (no ``Content-Length``, no ``Transfer-Encoding``) costs one pass over
its headers here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.i18n import N_, message
from frontdesk.settings import Settings
from frontdesk.web import errors

# Paths that are not pages: their bodies take max_body_bytes, their errors are JSON.
MACHINE_PREFIXES = ("/oauth/", "/api/", "/scim", "/.well-known/")
MACHINE_PATHS = frozenset(
    {"/jwks.json", "/openapi.json", "/healthz", "/healthz/domain", "/readyz", "/metrics"}
)
# The pages under /oauth/: the consent form posts back to the authorization endpoint, and the
# logout confirmation (OpenID Connect RP-Initiated Logout) to the end-session endpoint.
PAGE_PATHS = frozenset({"/oauth/authorize", "/oauth/logout"})
FORM_URLENCODED = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data"
CLOSE = {"Connection": "close"}  # the unread rest of a refused body is never read


def is_page(path: str) -> bool:
    return path in PAGE_PATHS or not (path.startswith(MACHINE_PREFIXES) or path in MACHINE_PATHS)


def body_has_nul(content_type: bytes, body: bytes) -> bool:
    """A NUL character in a form body, raw or percent-encoded (RFC 3986 §2.1: ``%00``)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    if media == FORM_URLENCODED:
        return b"\x00" in body or b"%00" in body
    if media == MULTIPART:
        return b"\x00" in body
    return False


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.max_page_body = settings.max_page_body_bytes
        self.max_header = settings.max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        raw_path: bytes = scope.get("raw_path") or path.encode()
        # "METHOD SP target SP HTTP/1.1 CRLF", then "name: value CRLF" per header.
        size = len(scope["method"]) + len(raw_path) + len(query) + 12
        length: bytes | None = None
        chunked = nul = False
        content_type = b""
        for name, value in scope["headers"]:
            size += len(name) + len(value) + 4
            if b"\x00" in value:
                nul = True
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                content_type = value
        if size > self.max_header:
            await self._refuse(scope, receive, send, 431, self.max_header, headers=CLOSE)
            return
        if nul or "\x00" in path or (query and (b"%00" in query or b"\x00" in query)):
            await self._refuse(scope, receive, send, 400)
            return
        if not chunked and (length is None or length == b"0"):
            await self.app(scope, receive, send)
            return

        cap = self.max_page_body if is_page(path) else self.max_body
        if length is not None and not chunked:
            if not length.isdigit():  # bytes.isdigit: ASCII digits only
                await self._refuse(scope, receive, send, 400, headers=CLOSE)
                return
            if len(length) > 18 or int(length) > cap:
                await self._refuse(scope, receive, send, 413, cap, headers=CLOSE)
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk: bytes = message.get("body", b"")
            total += len(chunk)
            if total > cap:
                await self._refuse(scope, receive, send, 413, cap, headers=CLOSE)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body_has_nul(content_type, body):
            await self._refuse(scope, receive, send, 400)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        limit: int = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        request = Request(scope, receive)
        page = not errors.wants_json(request)
        response = errors.http_error(request, status, _message(status, limit, page), headers)
        await response(scope, receive, send)


def _message(status: int, limit: int, page: bool) -> str:
    if status == 413:
        if page:
            return message(
                N_("What you sent is too large (limit {limit} bytes). Go back, shorten it and try again."),
                limit=limit,
            )
        return f"request body too large (limit {limit} bytes)"
    if status == 431:
        if page:
            return message(
                N_(
                    "The request's headers are too large (limit {limit} bytes). "
                    "Deleting this site's cookies in your browser may help."
                ),
                limit=limit,
            )
        return f"request header fields too large (limit {limit} bytes)"
    if page:
        return N_("The request contains a NUL character, which is not allowed. Check what you entered.")
    return "the request contains a NUL character"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over the body read here, then listens on the connection."""
    queue: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if queue:
            return queue.pop()
        return await receive()

    return replay
