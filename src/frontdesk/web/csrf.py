"""Anti-forgery for every form, login and sign-up included (RFC 6749 §10.12).

A random *seed* lives in a host-only cookie. A form token is a MAC over the seed, the current
session and a *purpose*; the consent form's purpose names the exact authorization request, so a
token for one request cannot approve another. Requests whose ``Origin`` is another origin, or
that a browser marks ``Sec-Fetch-Site: cross-site``, are refused as well.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from frontdesk.security.server_secret import ServerSecret
from frontdesk.settings import Settings
from frontdesk.web.sessions import BrowserSessions, cookie_name, set_cookie

FIELD = "csrf_token"


class CsrfError(Exception):
    pass


class Csrf:
    def __init__(self, settings: Settings, server_secret: ServerSecret, sessions: BrowserSessions) -> None:
        self.settings = settings
        self.server_secret = server_secret
        self.sessions = sessions
        self.cookie = cookie_name(settings, "frontdesk_csrf")

    def _seed(self, request: Request) -> str:
        seed = getattr(request.state, "csrf_seed", None)
        if seed is None:
            seed = request.cookies.get(self.cookie) or ""
            if len(seed) < 32:
                seed = secrets.token_urlsafe(32)
                request.state.new_csrf_seed = seed
            request.state.csrf_seed = seed
        return str(seed)

    def rotate(self, request: Request) -> None:
        """A fresh seed (after login/logout): tokens of the old identity stop working."""
        request.state.csrf_seed = secrets.token_urlsafe(32)
        request.state.new_csrf_seed = request.state.csrf_seed

    def token(self, request: Request, purpose: str = "form") -> str:
        session_key = getattr(request.state, "session_key", None)
        if session_key is None:
            session_key = request.state.session_key = self.sessions.session_key(request)
        return self.server_secret.mac(f"csrf|{self._seed(request)}|{session_key}|{purpose}")

    def persist(self, request: Request, response: Response) -> None:
        """Set the seed cookie if this request created or rotated it."""
        seed = getattr(request.state, "new_csrf_seed", None)
        if seed:
            set_cookie(self.settings, response, self.cookie, seed, max_age=None)

    def check_origin(self, request: Request) -> None:
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site == "cross-site":
            raise CsrfError("cross-site request")
        origin = request.headers.get("origin")
        if origin is None:
            return
        if origin == "null":
            # Pages are served with Referrer-Policy: same-origin (web/middleware.py), so a
            # browser names our origin on their form posts; "null" comes from an opaque
            # origin (a sandboxed frame, or a page served with "no-referrer"). Trust it only
            # when the browser's fetch metadata says same-origin; the token is checked either way.
            if fetch_site != "same-origin":
                raise CsrfError("opaque origin")
            return
        expected = f"{request.state.scheme}://{request.state.raw_host}"
        if origin.lower() != expected:
            raise CsrfError("foreign origin")

    def verify(self, request: Request, submitted: str | None, purpose: str = "form") -> None:
        self.check_origin(request)
        if not request.cookies.get(self.cookie) or not submitted:
            raise CsrfError("missing token")
        if not hmac.compare_digest(submitted, self.token(request, purpose)):
            raise CsrfError("bad token")
