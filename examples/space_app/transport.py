"""``*.localhost`` without DNS, for development.

Spaces of a Frontdesk on ``http://localhost:8000`` live at ``http://<space>.localhost:8000``.
Browsers send every ``*.localhost`` name to the loopback address (RFC 6761 §6.3), but an
operating system's resolver may not, so this transport does it for the app's own requests to
Frontdesk: it connects to 127.0.0.1 and keeps the ``Host`` header. Other hosts are untouched.
"""

from __future__ import annotations

import httpx


def is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


class LocalhostTransport(httpx.AsyncHTTPTransport):
    """An ``httpx`` transport that resolves ``localhost`` and ``*.localhost`` to 127.0.0.1."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if is_localhost(request.url.host):
            request = httpx.Request(
                request.method,
                request.url.copy_with(host="127.0.0.1"),
                headers=request.headers,  # still names the real host
                stream=request.stream,
                extensions=request.extensions,
            )
        return await super().handle_async_request(request)
