"""Server-side browser sessions stored in the database (revocable).

The cookie holds a random secret; the database holds only its digest. Cookies are host-only
(no ``Domain``), ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` with the ``__Host-`` prefix
when the public URL is https, so one space's host never sees another's session.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from starlette.requests import Request
from starlette.responses import Response

from frontdesk.security.keyring import Keyring
from frontdesk.security.randoms import SESSION_PREFIX, new_secret
from frontdesk.settings import Settings
from frontdesk.store.cache import SESSIONS, cache_for, read_through
from frontdesk.store.models import LoginSession, User
from frontdesk.store.types import utcnow
from frontdesk.web.hosts import Site

TOUCH_EVERY = timedelta(minutes=10)
# Built once: every page and authorization request runs one of them.
LOAD_SESSION = (
    select(LoginSession)
    .options(joinedload(LoginSession.user))
    .where(LoginSession.id == bindparam("session_id"))
)
LOAD_SESSION_REF = select(
    LoginSession.user_id,
    LoginSession.host,
    LoginSession.created_at,
    LoginSession.expires_at,
    LoginSession.revoked_at,
    LoginSession.last_seen_at,
).where(LoginSession.id == bindparam("session_id"))


@dataclass(frozen=True, slots=True)
class SessionRef:
    """Who a session belongs to, without the user's row (see :meth:`SessionStore.current`)."""

    id: str
    user_id: str
    host: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime


def _usable(session: LoginSession | SessionRef, host: str, now: datetime) -> bool:
    return session.revoked_at is None and session.expires_at > now and session.host == host


def cookie_name(settings: Settings, base: str) -> str:
    return f"__Host-{base}" if settings.https else base


def set_cookie(settings: Settings, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=settings.https, httponly=True, samesite="lax"
    )


def clear_cookie(settings: Settings, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=settings.https, httponly=True, samesite="lax")


class SessionStore:
    def __init__(self, settings: Settings, keyring: Keyring) -> None:
        self.settings = settings
        self.keyring = keyring
        self.cookie = cookie_name(settings, "frontdesk_session")
        self.lifetime = timedelta(days=settings.session_days)

    def raw_cookie(self, request: Request) -> str | None:
        value = request.cookies.get(self.cookie)
        return value if value and value.startswith(SESSION_PREFIX) else None

    def session_key(self, request: Request) -> str:
        """A stable, non-secret handle of the current session (empty when logged out)."""
        raw = self.raw_cookie(request)
        return self.keyring.digest(raw) if raw else ""

    async def start(self, db: AsyncSession, user: User, request: Request, response: Response) -> LoginSession:
        site: Site = request.state.site
        raw = new_secret(SESSION_PREFIX)
        now = utcnow()
        row = LoginSession(
            id=self.keyring.digest(raw),
            user_id=user.id,
            host=site.host,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.lifetime,
            user_agent=(request.headers.get("user-agent") or "")[:300],
            ip=(request.state.client_ip or "")[:45],
        )
        db.add(row)
        await db.commit()
        set_cookie(self.settings, response, self.cookie, raw, int(self.lifetime.total_seconds()))
        request.state.session_key = row.id
        return row

    async def load(self, db: AsyncSession, request: Request) -> tuple[LoginSession, User] | None:
        raw = self.raw_cookie(request)
        if raw is None:
            return None
        site: Site = request.state.site
        params = {"session_id": self.keyring.digest(raw)}
        row = (await db.execute(LOAD_SESSION, params)).scalar_one_or_none()
        now = utcnow()
        if row is None or not _usable(row, site.host, now):
            return None
        if now - row.last_seen_at > TOUCH_EVERY:
            row.last_seen_at = now
            await db.commit()
        return row, row.user

    async def current(self, db: AsyncSession, request: Request) -> SessionRef | None:
        """The valid session of this request, without loading the user: for the authorization
        endpoint, which needs only the user's id. Cached per worker; a revoked session stops
        working on every worker within the cache's poll interval, as a revoked token does."""
        raw = self.raw_cookie(request)
        if raw is None:
            return None
        session_id = self.keyring.digest(raw)

        async def fetch() -> SessionRef | None:
            row = (await db.execute(LOAD_SESSION_REF, {"session_id": session_id})).first()
            return SessionRef(session_id, *row) if row else None

        ref: SessionRef | None = await read_through(db, SESSIONS, session_id, fetch, keep_none=False)
        now = utcnow()
        site: Site = request.state.site
        if ref is None or not _usable(ref, site.host, now):
            return None
        if now - ref.last_seen_at > TOUCH_EVERY:
            # Re-read and touch the row (last_seen_at does not invalidate caches by itself);
            # a revocation committed meanwhile must win over the refreshed entry.
            cache = cache_for(db, SESSIONS)
            generation = cache.generation if cache is not None else 0
            if await self.load(db, request) is None:
                return None
            ref = replace(ref, last_seen_at=now)
            if cache is not None:
                cache.put(session_id, ref, generation)
        request.state.session_key = session_id
        return ref

    async def end(
        self, db: AsyncSession, request: Request, response: Response, *, clear: bool = True
    ) -> None:
        raw = self.raw_cookie(request)
        if raw is not None:
            await db.execute(
                update(LoginSession)
                .where(LoginSession.id == self.keyring.digest(raw), LoginSession.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            await db.commit()
        if clear:
            clear_cookie(self.settings, response, self.cookie)
        request.state.session_key = ""

    async def revoke_all(self, db: AsyncSession, user_id: str) -> int:
        result = await db.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await db.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
