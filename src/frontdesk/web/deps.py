"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData

from frontdesk.i18n import N_
from frontdesk.oauth.models import Person
from frontdesk.records import MembershipRecord, SessionRecord, SpaceRef
from frontdesk.services import second_factor, spaces
from frontdesk.services.work import UnitOfWork
from frontdesk.web.adapter import get_state, unit_of_work
from frontdesk.web.csrf import FIELD, CsrfError
from frontdesk.web.errors import LoginRedirect, SecondFactorRequired
from frontdesk.web.hosts import Site
from frontdesk.web.state import AppState


async def _state(request: Request) -> AppState:
    # Dependencies are async on purpose: FastAPI runs plain ``def`` ones in a thread pool.
    return get_state(request)


State = Annotated[AppState, Depends(_state)]


async def _unit_of_work(request: Request) -> UnitOfWork:
    return unit_of_work(request)


# The request's unit of work (committed by the route, see frontdesk.web.adapter).
Work = Annotated[UnitOfWork, Depends(_unit_of_work)]


async def get_site(request: Request) -> Site:
    return request.state.site  # type: ignore[no-any-return]


CurrentSite = Annotated[Site, Depends(get_site)]


async def optional_user(request: Request, uow: Work) -> Person | None:
    """The person logged in on this host (and their session in ``request.state.login_session``)."""
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    record: SessionRecord | None = await get_state(request).sessions.current(uow.storage, request)
    person = await uow.storage.person(record.user_id) if record is not None else None
    request.state.user = person
    request.state.login_session = record if person is not None else None
    if person is None:
        request.state.session_key = ""
    return person


OptionalUser = Annotated[Person | None, Depends(optional_user)]


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")


async def require_user(request: Request, user: OptionalUser) -> Person:
    if user is None:
        raise LoginRedirect(login_url(request))
    return user


CurrentUser = Annotated[Person, Depends(require_user)]


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


async def current_space(site: SpaceSite, uow: Work) -> SpaceRef:
    assert site.space is not None
    space = await spaces.get_space(uow.session, site.space.id)
    if space is None:
        raise HTTPException(404)
    return space


CurrentSpace = Annotated[SpaceRef, Depends(current_space)]


async def space_admin(space: CurrentSpace, user: CurrentUser, uow: Work) -> MembershipRecord:
    membership = await spaces.membership_of(uow.session, space.id, user.id)
    if membership is None or not membership.is_admin:
        raise HTTPException(403, N_("Only admins of this space can do that."))
    # The space asks its admins for a second factor (its settings page).
    if space.require_admin_second_factor and not await second_factor.has_second_factor(uow.session, user.id):
        raise SecondFactorRequired(space.name)
    return membership


SpaceAdmin = Annotated[MembershipRecord, Depends(space_admin)]


async def checked_form(request: Request, purpose: str = "form") -> FormData:
    """The submitted form after the anti-forgery check (403 if it fails)."""
    form = await request.form()
    try:
        get_state(request).csrf.verify(request, _str(form.get(FIELD)), purpose)
    except CsrfError as exc:
        raise HTTPException(
            403, N_("This form expired or was sent from another site. Go back, reload and try again.")
        ) from exc
    return form


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def form_str(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
