"""The language chooser (the form in every page's footer): remembered in a cookie on this host
and, for a logged-in person, on the account (their emails are written in it)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from frontdesk import i18n
from frontdesk.services import accounts
from frontdesk.web import routing
from frontdesk.web.deps import OptionalUser, State, Work, checked_form, form_str, safe_next
from frontdesk.web.sessions import cookie_name, set_cookie
from frontdesk.web.templating import languages

router = routing.router()

YEAR = 365 * 24 * 3600


@router.post("/language", include_in_schema=False)
async def choose(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    locale = form_str(form, "locale")
    response = RedirectResponse(safe_next(form_str(form, "next")), status_code=303)
    if locale not in languages(request):
        return response
    set_cookie(st.settings, response, cookie_name(st.settings, i18n.COOKIE), locale, max_age=YEAR)
    if user is not None:
        await accounts.set_locale(uow.session, user.id, locale)
    return response
