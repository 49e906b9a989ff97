"""Request ids: every request gets one, every response carries it, every log line shows it.

The id is taken from an incoming ``X-Request-ID`` only when the peer is a trusted proxy
(``FRONTDESK_TRUSTED_PROXIES``, as for ``X-Forwarded-*`` in web/hosts.py) and the value is a
sane token (:data:`SANE`: at most 128 characters of letters, digits and ``-._:@+=/``);
otherwise it is generated here. It is

* returned as ``X-Request-ID`` on every response the application answers, errors included
  (this middleware wraps the whole stack, Starlette's 500 answer too);
* held in :data:`frontdesk.logs.REQUEST_ID` while the request runs, so every log line written
  for it carries it (logs.py);
* shown on HTML error pages as "Reference: …" (web/templating.py), so a person's report can be
  found in the logs.

With ``FRONTDESK_LOG_FORMAT=json`` it also writes the access line (logger
``frontdesk.access``): method, route template, path (redacted by logs.py), status, duration and
client address.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.logs import REQUEST_ID
from frontdesk.settings import Settings

HEADER = "X-Request-ID"
SANE = re.compile(r"[A-Za-z0-9\-._:@+=/]{1,128}")
access_log = logging.getLogger("frontdesk.access")


def new_request_id() -> str:
    return secrets.token_hex(16)


def route_of(scope: Scope) -> str | None:
    """The route template the router matched (``/api/access_tokens/{token}``), or ``None``
    (no route matched, or web/routing.FastLane served it: those paths are their own template)."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.networks = settings.trusted_proxy_networks
        self.access = settings.log_format == "json"

    def _trusted(self, peer: str | None) -> bool:
        if not peer or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def _incoming(self, scope: Scope) -> str | None:
        client = scope.get("client")
        if not self._trusted(client[0] if client else None):
            return None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                text = value.decode("latin-1").strip()
                return text if SANE.fullmatch(text) else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._incoming(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access:
                self._log(scope, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _log(self, scope: Scope, status: int, seconds: float) -> None:
        path = scope.get("path", "")
        query = scope.get("query_string", b"")
        if query:
            path += "?" + query.decode("latin-1")
        client = scope.get("state", {}).get("client_ip") or (scope.get("client") or ("",))[0]
        route = route_of(scope)
        method = scope.get("method", "")
        access_log.info(
            "%s %s %d",
            method,
            route or path,
            status,
            extra={
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "client": client,
            },
        )
