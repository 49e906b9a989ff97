"""HTTPS enforcement when the public URL is https (RFC 6749 §1.6, §3.1, §3.2; RFC 6750 §5.3;
RFC 9700 §4.13).

The scheme is the one :class:`frontdesk.web.hosts.HostMiddleware` resolved: the connection's,
or ``X-Forwarded-Proto`` from a configured trusted proxy only. So this middleware runs inside
the host middleware.

Over plain http:

* anything that carries or collects credentials is **refused** with 400
  ``{"error": "invalid_request", "error_description": "use https"}`` and never redirected (the
  secret has already crossed the network; a redirect would only teach the client to keep
  sending it): every method other than GET, HEAD and OPTIONS; any request with an
  ``Authorization`` header or a credential in the query string; the login, sign-up and
  consent pages; and every ``/oauth/`` and ``/api/`` endpoint, so API clients learn to fix
  their base URL instead of following redirects;
* other GET and HEAD requests (ordinary pages, metadata, the key set) are redirected with 308
  to the same path on the host's canonical https origin (from configuration, not from
  ``Host``);
* ``/healthz`` and ``/readyz`` are left alone, so load balancers can probe over plain http.

When the public URL is http (development), nothing changes.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from frontdesk.settings import Settings
from frontdesk.web.hosts import Site

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CREDENTIAL_PARAMS = frozenset({"access_token", "client_secret", "password", "refresh_token"})
REFUSED_PATHS = frozenset({"/login", "/signup", "/oauth/authorize"})
REFUSED_PREFIXES = ("/oauth/", "/api/")
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
BODY = json.dumps({"error": "invalid_request", "error_description": "use https"}).encode()


def _credential_in_query(query_string: bytes) -> bool:
    if not query_string:
        return False
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return any(name in CREDENTIAL_PARAMS for name, _ in pairs)


def must_refuse(method: str, path: str, query_string: bytes, has_authorization: bool) -> bool:
    return (
        method not in SAFE_METHODS
        or has_authorization
        or path in REFUSED_PATHS
        or path.startswith(REFUSED_PREFIXES)
        or _credential_in_query(query_string)
    )


class HttpsMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.enabled = settings.https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.get("state") or {}
        path: str = scope["path"]
        if state.get("scheme", scope.get("scheme")) == "https" or path in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        has_authorization = any(key == b"authorization" for key, _ in scope["headers"])
        if must_refuse(method, path, scope.get("query_string", b""), has_authorization):
            await _send(send, 400, [(b"content-type", b"application/json")], BODY)
            return
        if method == "OPTIONS":
            await self.app(scope, receive, send)
            return
        site: Site | None = state.get("site")
        origin = site.origin if site is not None else ""
        target = _raw_path(scope)
        if (
            not origin.startswith("https://")
            or not target.startswith("/")
            or any(ord(c) < 0x21 or ord(c) > 0x7E for c in target)
        ):
            await _send(send, 400, [(b"content-type", b"application/json")], BODY)
            return
        await _send(send, 308, [(b"location", (origin + target).encode("ascii"))], b"")


def _raw_path(scope: Scope) -> str:
    raw: bytes | None = scope.get("raw_path")
    path: str = raw.decode("latin-1") if raw else scope["path"]
    query: bytes = scope.get("query_string", b"")
    return path + ("?" + query.decode("latin-1") if query else "")


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
