"""``/oauth/logout``: OpenID Connect RP-Initiated Logout 1.0 (the ``end_session_endpoint`` of
every host's metadata).

The core reads the request (oauth/logout.py). Then:

* nobody is signed in on this host: nothing to end; the browser goes to the app's registered
  ``post_logout_redirect_uri`` (with ``state``) or sees "You are signed out";
* the ``id_token_hint`` names the person signed in here (and this session, when it carries
  ``sid``): the session ends at once (§2: the hint ties the request to it) and the browser
  goes on;
* otherwise (no hint, or a hint about someone else): a confirmation page (§2, §6: an app
  cannot log people out of someone else's session); its form posts back here with the
  anti-forgery check, and only then does the session end.

Ending the session goes through ``BrowserSessions.end``, so every app the session signed in
to gets its back-channel logout notice (store/session_apps.py). A POST from the app itself
(§2 allows form posts) is answered with a 303 to the same request as a GET: a cross-site
POST carries no SameSite=Lax session cookie, a top-level GET does.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from frontdesk.i18n import N_
from frontdesk.oauth.logout import PARAMS, LogoutRequest, LogoutRequestError, read_request
from frontdesk.oauth.metadata import LOGOUT_PATH
from frontdesk.services import signing_keys
from frontdesk.web import routing
from frontdesk.web.csrf import CsrfError
from frontdesk.web.deps import State, Work, form_str, optional_user
from frontdesk.web.templating import gettext, render

router = routing.router()
CSRF_PURPOSE = "oauth-logout"


async def _read(request: Request, st: State, uow: Work, params: dict[str, str]) -> LogoutRequest:
    jwks = await signing_keys.published_jwks(uow.storage, signing_keys.retention_for(st.settings))
    return await read_request(params, issuer=request.state.site.origin, jwks=jwks, clients=uow.storage)


def _refused(request: Request, exc: LogoutRequestError) -> Response:
    """Never redirected: the app that sent the request is misconfigured (§3.1)."""
    context = {"title": gettext(request, N_("This logout request cannot be completed")), "message": str(exc)}
    return render(request, "error.html", context, status_code=400)


def _finish(request: Request, st: State, found: LogoutRequest, response: Response | None = None) -> Response:
    target: Response
    if found.destination is not None:
        target = RedirectResponse(found.destination, status_code=303)
    else:
        target = render(request, "oauth_logged_out.html", {"client": found.client})
    if response is not None:  # the cookies of the ended session
        for name, value in response.headers.items():
            if name == "set-cookie":
                target.headers.append("set-cookie", value)
    return target


async def _end(request: Request, st: State, uow: Work, found: LogoutRequest) -> Response:
    cookies = Response()
    await st.sessions.end(uow.storage, request, cookies)
    st.csrf.rotate(request)
    st.csrf.persist(request, cookies)
    return _finish(request, st, found, cookies)


@router.get(LOGOUT_PATH, include_in_schema=False)
async def logout(request: Request, st: State, uow: Work) -> Response:
    params = {k: v for k in PARAMS if (v := request.query_params.get(k))}
    try:
        found = await _read(request, st, uow, params)
    except LogoutRequestError as exc:
        return _refused(request, exc)
    session = await st.sessions.current(uow.storage, request)
    if session is None:
        return _finish(request, st, found)
    if found.ties_to(session.user_id, session.public_id):
        return await _end(request, st, uow, found)
    await optional_user(request, uow)
    return render(
        request,
        "oauth_logout.html",
        {"params": found.params, "client": found.client, "csrf_purpose": CSRF_PURPOSE},
    )


@router.post(LOGOUT_PATH, include_in_schema=False)
async def logout_post(request: Request, st: State, uow: Work) -> Response:
    form = await request.form()
    params = {k: v for k in PARAMS if (v := form_str(form, k))}
    if not form_str(form, "decision"):
        # The app's own form post (§2): go on as a GET, which carries this host's cookies.
        return RedirectResponse(f"{LOGOUT_PATH}?{urlencode(params)}", status_code=303)
    try:
        st.csrf.verify(request, form_str(form, "csrf_token"), CSRF_PURPOSE)
    except CsrfError:
        message = "This form expired or was sent from another site. Go back, reload and try again."
        return render(request, "error.html", {"title": "Not allowed", "message": message}, status_code=403)
    try:
        found = await _read(request, st, uow, params)
    except LogoutRequestError as exc:
        return _refused(request, exc)
    if form_str(form, "decision") != "logout":
        return RedirectResponse("/", status_code=303)
    return await _end(request, st, uow, found)
