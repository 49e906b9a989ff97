"""What the app remembers: browser sessions, OAuth flows in progress, installations.

Sessions and flows live in memory (one process; they end when the app stops). Installations —
the space tokens — are written to a small JSON file, because they must outlive restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from frontdesk.client import PendingAuthorization, SpaceToken, Token

SESSION_COOKIE = "space_app_session"
FLOW_SECONDS = 600  # an authorization not finished within 10 minutes is forgotten

# ---- sessions: who is logged in to the app's own pages ------------------------------------------


@dataclass
class Session:
    """A browser's session on the app's top-level pages (never used inside the iframe)."""

    id: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    user_id: str | None = None
    token: Token | None = None


class Sessions:
    """Server-side sessions; the cookie holds a random id signed with ``SPACE_APP_SECRET``.

    The cookie is ``HttpOnly; SameSite=Lax`` (plus ``Secure`` on https): it is only needed on
    the app's own top-level pages, where it is a first-party cookie. Pages shown inside the
    space's iframe never depend on it (see README, "Cookies and frames").
    """

    def __init__(self, secret: str, *, secure: bool) -> None:
        self._key = secret.encode()
        self._secure = secure
        self._sessions: dict[str, Session] = {}

    def _sign(self, sid: str) -> str:
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()

    def get(self, request: Request) -> Session | None:
        """The request's session, if its cookie is genuine and the session still exists."""
        sid, _, signature = request.cookies.get(SESSION_COOKIE, "").partition(".")
        if not sid or not hmac.compare_digest(signature, self._sign(sid)):
            return None
        return self._sessions.get(sid)

    def start(self, response: Response) -> Session:
        """A new session, its cookie set on ``response``."""
        session = Session(id=secrets.token_urlsafe(32))
        self._sessions[session.id] = session
        response.set_cookie(
            SESSION_COOKIE,
            f"{session.id}.{self._sign(session.id)}",
            httponly=True,
            samesite="lax",
            secure=self._secure,
        )
        return session

    def end(self, session: Session, response: Response) -> None:
        self._sessions.pop(session.id, None)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=self._secure)


# ---- OAuth flows in progress ----------------------------------------------------------------------

# login and install: on the app's own pages. frame: the app's sign-in inside the space's iframe;
# page: the same sign-in, run on the whole page (the frame's fallback, see README).
FlowKind = Literal["login", "install", "frame", "page"]


@dataclass(frozen=True)
class Flow:
    """An authorization the app started and waits for at ``/auth/callback``.

    ``session_id`` binds a login or install flow to the browser that started it. A sign-in
    started in the frame has no cookie to bind to; it is bound to ``user_id``, the person the
    signed iframe context named, and the ID token that comes back must be theirs. ``back`` is
    where the person goes afterwards.
    """

    kind: FlowKind
    pending: PendingAuthorization
    session_id: str | None = None
    user_id: str | None = None
    subdomain: str | None = None
    frame_ancestors: tuple[str, ...] = ()
    back: str = "/"
    expires: float = field(default_factory=lambda: time.monotonic() + FLOW_SECONDS)


class Flows:
    """Flows by their ``state`` (random, single use). The PKCE verifier never leaves the server."""

    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}

    def add(self, flow: Flow) -> None:
        now = time.monotonic()
        self._flows = {state: f for state, f in self._flows.items() if f.expires > now}
        self._flows[flow.pending.state] = flow

    def get(self, state: str) -> Flow | None:
        flow = self._flows.get(state)
        return flow if flow is not None and flow.expires > time.monotonic() else None

    def take(self, state: str) -> None:
        self._flows.pop(state, None)


# ---- installations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installation:
    """The app installed in a space: the space token and the navigation link it made."""

    subdomain: str
    space_id: str
    space_name: str
    space_url: str
    token: dict[str, Any]  # SpaceToken.to_dict()
    link_id: str
    link_url: str  # the page in the space that shows the app (user_url)
    installed_by: str
    installed_at: float

    @property
    def space_token(self) -> SpaceToken:
        return SpaceToken.from_dict(self.token)


class Installations:
    """Installations by subdomain, in ``<data dir>/installations.json`` (mode 0600: tokens)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "installations.json"

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, subdomain: str) -> Installation | None:
        entry = self._load().get(subdomain)
        return Installation(**entry) if entry else None

    def save(self, installation: Installation) -> None:
        data = self._load()
        data[installation.subdomain] = asdict(installation)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
        os.replace(tmp, self.path)
