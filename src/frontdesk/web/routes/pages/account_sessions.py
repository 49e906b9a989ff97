"""``/account/sessions``: where the person is signed in (services/sessions.py), with "Sign
out" for each session, "Sign out everywhere else" and "Sign out everywhere" (optionally
revoking every app's tokens too). Sessions are named by their public id only."""

from __future__ import annotations

from dataclasses import replace

from fastapi import HTTPException, Request
from starlette.responses import RedirectResponse, Response

from frontdesk.i18n import N_, Text
from frontdesk.services import sessions
from frontdesk.web import routing
from frontdesk.web.deps import CurrentUser, MainSite, State, Work, checked_form, form_str
from frontdesk.web.templating import flash, gettext, render

router = routing.router()


def _current_id(request: Request) -> str:
    record = getattr(request.state, "login_session", None)
    return record.id if record is not None else ""


def _signed_out(request: Request, st: State, message: str) -> Response:
    """This browser's own session ended: its cookie goes, the next page is the login page."""
    response = RedirectResponse("/login", status_code=303)
    st.sessions.forget(request, response)
    st.csrf.rotate(request)
    st.csrf.persist(request, response)
    flash(request, response, message)
    return response


@router.get("/account/sessions", include_in_schema=False)
async def sessions_page(
    request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    found = await sessions.list_sessions(
        uow.session, user.id, current_id=_current_id(request), geoip_db=st.settings.geoip_db
    )
    # The device's and the place's words ("Chrome on Android", "unknown") in the page's language.
    shown = [replace(s, device=gettext(request, s.device), place=gettext(request, s.place)) for s in found]
    return render(request, "account_sessions.html", {"sessions": shown})


@router.post("/account/sessions/end-others", include_in_schema=False)
async def end_others(request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser) -> Response:
    await checked_form(request)
    ended = await sessions.end_others(uow.session, st.server_secret, user.id, _current_id(request))
    response = RedirectResponse("/account/sessions", status_code=303)
    flash(
        request,
        response,
        gettext(
            request,
            N_("Signed out of {n} other session.") if ended == 1 else N_("Signed out of {n} other sessions."),
        ).format(n=ended),
    )
    return response


@router.post("/account/sessions/end-all", include_in_schema=False)
async def end_all(request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser) -> Response:
    form = await checked_form(request)
    revoke = bool(form_str(form, "revoke_tokens"))
    _ended, revoked = await sessions.end_all(uow.session, st.server_secret, user.id, revoke_tokens=revoke)
    message = (
        Text(
            N_("You were signed out everywhere. Every app's access was revoked ({n} access tokens)."),
            n=revoked,
        )
        if revoke
        else N_("You were signed out everywhere.")
    )
    return _signed_out(request, st, message)


@router.post("/account/sessions/{public_id}/end", include_in_schema=False)
async def end_one(
    request: Request, public_id: str, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    await checked_form(request)
    current = getattr(request.state, "login_session", None)
    if not await sessions.end_one(uow.session, st.server_secret, user.id, public_id):
        raise HTTPException(404, N_("This session has ended already."))
    if current is not None and current.public_id == public_id:
        return _signed_out(request, st, "You were signed out.")
    response = RedirectResponse("/account/sessions", status_code=303)
    flash(request, response, N_("The session was signed out."))
    return response
