"""CORS for the machine endpoints browser apps call, and for nothing else.

Browser-based apps (SPAs, public PKCE clients) call the token, revocation, introspection and
registration endpoints, the metadata documents, the key set and the API from their own
origin. None of these endpoints reads cookies, so ``Access-Control-Allow-Origin: *`` is safe
and credentials are never allowed.

The authorization endpoint and every HTML page get no CORS headers at all (RFC 9700 §2.6):
they are for people, in a browser tab, on this host. Any ``Access-Control-*`` header a
handler might add there is removed.

Runs inside the host middleware, so an unknown host is still a plain 404, and preflights are
answered here on every known host (main site, space subdomains, custom domains) before
routing, which knows nothing of ``OPTIONS``.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXACT_PATHS = frozenset(
    {
        "/oauth/access_token",
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/oauth/register",
        # RFC 9126: browser apps (public clients) push their requests too.
        "/oauth/par",
        # RFC 8628 §3.1: a device app running in a browser engine (a kiosk's web view).
        "/oauth/device_authorization",
        "/jwks.json",
    }
)
PREFIXES = ("/api/", "/.well-known/")
# DPoP (RFC 9449 §4.1) from browser apps, and its nonce back to them (§8, §9).
ALLOW_HEADERS = "Authorization, Content-Type, DPoP"
EXPOSE_HEADERS = "WWW-Authenticate, Retry-After, DPoP-Nonce"
MAX_AGE = "7200"  # Chromium caps preflight caching at two hours


def cors_path(path: str) -> bool:
    return path in EXACT_PATHS or path.startswith(PREFIXES)


def allowed_methods(path: str) -> str:
    if path.startswith("/api/"):
        return "GET, HEAD, POST, PUT, PATCH, DELETE"
    if path.startswith("/.well-known/") or path == "/jwks.json":
        return "GET, HEAD"
    return "POST"


class CorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not cors_path(path):
            await self.app(scope, receive, _strip_cors(send))
            return
        headers = Headers(scope=scope)
        if (
            scope["method"] == "OPTIONS"
            and "origin" in headers
            and "access-control-request-method" in headers
        ):
            await _preflight(path, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                _drop_cors(response_headers)
                response_headers["Access-Control-Allow-Origin"] = "*"
                response_headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(path: str, send: Send) -> None:
    """A CORS preflight (Fetch standard, "CORS-preflight fetch"): 204, nothing cached by
    shared caches beyond the browser's preflight cache."""
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-allow-methods", allowed_methods(path).encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", MAX_AGE.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _drop_cors(headers: MutableHeaders) -> None:
    for name in {key for key in headers if key.lower().startswith("access-control-")}:
        del headers[name]


def _strip_cors(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            _drop_cors(MutableHeaders(scope=message))
        await send(message)

    return wrapped
