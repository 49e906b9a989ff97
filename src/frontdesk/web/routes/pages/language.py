"""The language chooser (the form in every page's footer): remembered in a cookie on this host
and, for a logged-in person, on the account (their emails are written in it). Logging in on
another host brings the account's language there (:func:`follow_account`)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from frontdesk import i18n
from frontdesk.services import accounts
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.deps import OptionalUser, State, Work, checked_form, form_str, safe_next
from frontdesk.web.sessions import cookie_name, set_cookie
from frontdesk.web.state import AppState
from frontdesk.web.templating import browser_locale, chosen_locale, languages

router = routing.router()

YEAR = 365 * 24 * 3600


def remember(request: Request, st: AppState, response: Response, locale: str) -> None:
    """This host's pages in ``locale`` for this browser from now on (if it is offered)."""
    if locale in languages(request):
        set_cookie(st.settings, response, cookie_name(st.settings, i18n.COOKIE), locale, max_age=YEAR)


async def follow_account(
    request: Request, st: AppState, uow: UnitOfWork, response: Response, user_id: str
) -> None:
    """At login (web/routes/pages/auth.py ``log_in``): when this browser has not chosen a
    language on this host and its own (``Accept-Language``) is another than the account's (the
    language it signed up in or last chose on any host), this host's pages follow the account.
    A browser whose own language is the account's gets nothing set, so it keeps following its
    Accept-Language and the apps' ``ui_locales``."""
    if chosen_locale(request) is not None:
        return
    # The person as the next page will read it (through the caching layer).
    person = await uow.storage.person(user_id)
    if person is not None and person.locale and person.locale != browser_locale(request):
        remember(request, st, response, person.locale)


@router.post("/language", include_in_schema=False)
async def choose(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    locale = form_str(form, "locale")
    response = RedirectResponse(safe_next(form_str(form, "next")), status_code=303)
    if locale not in languages(request):
        return response
    remember(request, st, response, locale)
    if user is not None:
        await accounts.set_locale(uow.session, user.id, locale)
    return response
