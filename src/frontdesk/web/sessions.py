"""Browser sessions, the cookie side (the rows are the storage's: ``find_session`` …).

The cookie holds a random secret; the database holds only its digest, which is the session's
id. Cookies are host-only (no ``Domain``), ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` with
the ``__Host-`` prefix when the public URL is https, so one space's host never sees another's
session.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from frontdesk.oauth.config import utcnow
from frontdesk.records import NewSession, SessionRecord
from frontdesk.security.randoms import SESSION_PREFIX, new_secret
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services.work import AppStorage
from frontdesk.settings import Settings
from frontdesk.web.hosts import Site

# How often a used session's last_seen_at is written (not on every request).
TOUCH_EVERY = timedelta(minutes=10)
# How long a login that passed its password may take to give its second factor.
PENDING_FACTOR_LIFETIME = timedelta(minutes=10)


def cookie_name(settings: Settings, base: str) -> str:
    return f"__Host-{base}" if settings.https else base


def set_cookie(settings: Settings, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=settings.https, httponly=True, samesite="lax"
    )


def clear_cookie(settings: Settings, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=settings.https, httponly=True, samesite="lax")


class BrowserSessions:
    def __init__(self, settings: Settings, server_secret: ServerSecret) -> None:
        self.settings = settings
        self.server_secret = server_secret
        self.cookie = cookie_name(settings, "frontdesk_session")
        self.lifetime = timedelta(days=settings.session_days)

    def raw_cookie(self, request: Request) -> str | None:
        value = request.cookies.get(self.cookie)
        return value if value and value.startswith(SESSION_PREFIX) else None

    def session_key(self, request: Request) -> str:
        """A stable, non-secret handle of the current session (empty when logged out)."""
        raw = self.raw_cookie(request)
        return self.server_secret.digest(raw) if raw else ""

    async def start(
        self,
        storage: AppStorage,
        user_id: str,
        request: Request,
        response: Response,
        *,
        amr: tuple[str, ...] = ("pwd",),
        pending_factor: bool = False,
    ) -> None:
        """Start a session: a login made with the methods ``amr`` (RFC 8176), or with
        ``pending_factor`` a short one that only waits for the second factor (no login:
        :meth:`current` ignores it, :meth:`awaiting_factor` finds it)."""
        site: Site = request.state.site
        raw = new_secret(SESSION_PREFIX)
        now = utcnow()
        lifetime = PENDING_FACTOR_LIFETIME if pending_factor else self.lifetime
        new = NewSession(
            id=self.server_secret.digest(raw),
            user_id=user_id,
            host=site.host,
            created_at=now,
            expires_at=now + lifetime,
            user_agent=request.headers.get("user-agent") or "",
            ip=request.state.client_ip or "",
            amr=amr,
            pending_factor=pending_factor,
        )
        await storage.start_session(new)
        set_cookie(self.settings, response, self.cookie, raw, int(lifetime.total_seconds()))
        request.state.session_key = new.id

    async def current(self, storage: AppStorage, request: Request) -> SessionRecord | None:
        """The valid session of this request on this host (from the caches when they hold
        it); its last_seen_at is written at most every :data:`TOUCH_EVERY`."""
        raw = self.raw_cookie(request)
        if raw is None:
            return None
        session_id = self.server_secret.digest(raw)
        record = await storage.find_session(session_id)
        now = utcnow()
        site: Site = request.state.site
        if record is None or not record.usable(site.host, now):
            return None
        if now - record.last_seen_at > TOUCH_EVERY:
            await storage.touch_session(session_id, now)
        request.state.session_key = session_id
        return record

    async def awaiting_factor(self, storage: AppStorage, request: Request) -> SessionRecord | None:
        """This browser's login on this host that passed its password and waits for its
        second factor (None when there is none, or it expired)."""
        raw = self.raw_cookie(request)
        if raw is None:
            return None
        record = await storage.find_session(self.server_secret.digest(raw))
        site: Site = request.state.site
        if record is None or not record.awaiting_factor(site.host, utcnow()):
            return None
        return record

    def forget(self, request: Request, response: Response) -> None:
        """Clear this browser's cookie (its session was ended some other way)."""
        clear_cookie(self.settings, response, self.cookie)
        request.state.session_key = ""

    async def end(
        self, storage: AppStorage, request: Request, response: Response, *, clear: bool = True
    ) -> None:
        raw = self.raw_cookie(request)
        if raw is not None:
            await storage.end_session(self.server_secret.digest(raw))
        if clear:
            clear_cookie(self.settings, response, self.cookie)
        request.state.session_key = ""
