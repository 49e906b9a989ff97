"""Response headers every answer carries (RFC 9700 §4.16 clickjacking, §4.2.4 referrers)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.settings import Settings

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)


class SecurityHeadersMiddleware:
    """Adds ``nosniff``, a ``same-origin`` referrer policy and, on HTML, a CSP without inline
    script that allows framing by the page's own origin only (docs/decisions.md §3). A handler
    may set its own CSP (e.g. a space page that frames an app); it is kept."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hsts = settings.https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                # RFC 9700 §4.2.4: URLs here carry authorization parameters (and, on the
                # way back to an app, codes), so nothing of them may reach another origin in a
                # Referer: "same-origin" sends none to any other origin, like "no-referrer".
                # It still lets the browser name this origin on the pages' own requests;
                # with "no-referrer", Chromium sends "Origin: null" and no Sec-Fetch-Site from
                # plain-http hosts other than localhost, and web/csrf.py refused every form.
                headers.setdefault("Referrer-Policy", "same-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", PAGE_CSP)
                    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
                if scope["path"].startswith(("/api/", "/oauth/")):
                    # Responses to token-bearing requests must not be cached (RFC 6750 §5.3).
                    headers.setdefault("Cache-Control", "no-store")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)
