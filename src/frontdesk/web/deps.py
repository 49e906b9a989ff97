"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from frontdesk.store.models import Membership, Space, User
from frontdesk.web.csrf import FIELD, CsrfError
from frontdesk.web.hosts import Site
from frontdesk.web.state import AppState


class LoginRequired(Exception):
    """Raised by page dependencies; answered with a redirect to this host's login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def get_state(request: Request) -> AppState:
    return request.app.state.frontdesk  # type: ignore[no-any-return]


async def _state(request: Request) -> AppState:
    # Dependencies are async on purpose: FastAPI runs plain ``def`` ones in a thread pool.
    return get_state(request)


State = Annotated[AppState, Depends(_state)]


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_state(request).db.session() as session:
        yield session


DB = Annotated[AsyncSession, Depends(get_db)]


async def get_site(request: Request) -> Site:
    return request.state.site  # type: ignore[no-any-return]


CurrentSite = Annotated[Site, Depends(get_site)]


async def optional_user(request: Request, db: DB) -> User | None:
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    st = get_state(request)
    loaded = await st.sessions.load(db, request)
    request.state.user = loaded[1] if loaded else None
    request.state.login_session = loaded[0] if loaded else None
    request.state.session_key = loaded[0].id if loaded else ""
    return request.state.user  # type: ignore[no-any-return]


OptionalUser = Annotated[User | None, Depends(optional_user)]


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")


async def require_user(request: Request, user: OptionalUser) -> User:
    if user is None:
        raise LoginRequired(login_url(request))
    return user


CurrentUser = Annotated[User, Depends(require_user)]


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-host paths: never an absolute or scheme-relative URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 0x20 for ch in target):
        return default
    return target


async def main_site(site: CurrentSite) -> Site:
    if not site.is_main:
        raise HTTPException(404)
    return site


async def space_site(site: CurrentSite) -> Site:
    if site.is_main:
        raise HTTPException(404)
    return site


MainSite = Annotated[Site, Depends(main_site)]
SpaceSite = Annotated[Site, Depends(space_site)]


async def current_space(site: SpaceSite, db: DB) -> Space:
    assert site.space is not None
    space = await db.get(Space, site.space.id)
    if space is None:
        raise HTTPException(404)
    return space


CurrentSpace = Annotated[Space, Depends(current_space)]


async def space_admin(space: CurrentSpace, user: CurrentUser, db: DB) -> Membership:
    from frontdesk.services.spaces import membership_of

    membership = await membership_of(db, space.id, user.id)
    if membership is None or membership.role != "admin":
        raise HTTPException(403, "Only admins of this space can do that.")
    return membership


SpaceAdmin = Annotated[Membership, Depends(space_admin)]


async def checked_form(request: Request, purpose: str = "form") -> FormData:
    """The submitted form after the anti-forgery check (403 if it fails)."""
    form = await request.form()
    try:
        get_state(request).csrf.verify(request, _str(form.get(FIELD)), purpose)
    except CsrfError as exc:
        raise HTTPException(
            403, "This form expired or was sent from another site. Go back, reload and try again."
        ) from exc
    return form


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def form_str(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
