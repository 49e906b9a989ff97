"""Sign-up, login and logout, on the main host and on every space host (separate sessions)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from frontdesk import events
from frontdesk.errors import FieldError
from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.oauth import amr as methods
from frontdesk.security.passwords import HashingBusy
from frontdesk.services import accounts, audit, email_links
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.deps import OptionalUser, State, Work, checked_form, form_str, safe_next
from frontdesk.web.routes.pages import language
from frontdesk.web.state import AppState
from frontdesk.web.templating import locale_of, render

router = routing.router()


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def log_in(
    request: Request,
    st: AppState,
    uow: UnitOfWork,
    user_id: str,
    next_url: str,
    *,
    amr: tuple[str, ...] = (methods.PASSWORD,),
) -> Response:
    """End any previous session on this host, start a new one (new id: no fixation). A way
    back to the authorization endpoint gets its login stamp bound to the new session.
    ``amr``: how the person logged in (RFC 8176, oauth/amr.py)."""
    response = _see_other(next_url)
    await st.sessions.end(uow.storage, request, response, clear=False)
    st.csrf.rotate(request)
    await st.sessions.start(uow.storage, user_id, request, response, amr=amr)
    st.csrf.persist(request, response)
    bound = st.oauth.authorization.bind_login_stamp(next_url, request.state.session_key)
    if bound != next_url:  # query-encoded by the core: safe as a header as it is
        response.headers["location"] = bound
    await language.follow_account(request, st, uow, response, user_id)
    return response


async def await_second_factor(
    request: Request, st: AppState, uow: UnitOfWork, user_id: str, next_url: str
) -> Response:
    """The password was right and the account has a second factor: a short session that is
    no login yet (``pending_factor``) and the factor page. :func:`log_in` completes it there
    (web/routes/pages/second_factor.py)."""
    response = _see_other("/login/factor?next=" + quote(next_url, safe=""))
    await st.sessions.end(uow.storage, request, response, clear=False)
    st.csrf.rotate(request)
    await st.sessions.start(
        uow.storage, user_id, request, response, amr=(methods.PASSWORD,), pending_factor=True
    )
    st.csrf.persist(request, response)
    return response


@router.get("/signup", include_in_schema=False)
async def signup_form(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return _see_other(safe_next(next))
    return render(request, "signup.html", {"next": safe_next(next, "")})


@router.post("/signup", include_in_schema=False)
async def signup(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    values = {"name": form_str(form, "name"), "email": form_str(form, "email")}
    next_url = safe_next(form_str(form, "next"))
    # Per address, before any hashing: account creation is no free Argon2 for a flood.
    wait = await st.throttle.consume_for_address(st.rules.signup, request.state.client_ip)
    if wait is not None:
        return render(
            request,
            "signup.html",
            {
                "values": values,
                "next": next_url,
                "errors": {
                    "form": Text(
                        N_("Too many sign-ups from your address. Try again in {wait}."),
                        wait=wait_in_words(wait),
                    )
                },
            },
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    try:
        new_user = await accounts.create_user(
            uow.session,
            st.passwords,
            email=values["email"],
            password=form_str(form, "password"),
            name=values["name"],
            locale=locale_of(request, next_url),
        )
    except FieldError as exc:
        return render(
            request,
            "signup.html",
            {"errors": {exc.field: exc.message}, "values": values, "next": next_url},
            status_code=422,
        )
    except HashingBusy:
        return render(
            request,
            "signup.html",
            {
                "values": values,
                "next": next_url,
                "errors": {"form": N_("The server is busy; try again in a moment.")},
            },
            status_code=503,
        )
    # The verification link goes out with the account (the email outbox, in this transaction).
    await email_links.send_verification(
        uow.session,
        st.server_secret,
        new_user.id,
        origin=request.state.site.origin,
        hours=st.settings.verification_link_hours,
        ip=request.state.client_ip,
    )
    return await log_in(request, st, uow, new_user.id, next_url)


@router.get("/login", include_in_schema=False)
async def login_form(
    request: Request, user: OptionalUser, next: str | None = None, again: str | None = None
) -> Response:
    # ``again``: an app asked for a fresh login (prompt=login, max_age); show the form even
    # to someone logged in. Logging in starts a new session.
    if user is not None and not again:
        return _see_other(safe_next(next))
    return render(request, "login.html", {"next": safe_next(next, ""), "again": bool(again)})


@router.post("/login", include_in_schema=False)
async def login(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    email = form_str(form, "email").strip()
    next_url = safe_next(form_str(form, "next"))
    values = {"email": email}
    keys = {"account": accounts.email_key(email), "address": request.state.client_ip}

    def again(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
        return render(
            request,
            "login.html",
            {"values": values, "next": next_url, "errors": {"form": message}},
            status_code=status,
            headers=headers,
        )

    # Throttle before any hashing, so a flood costs the attacker and not our CPU.
    wait = await st.rules.login.attempt(keys)
    if wait is not None:
        return again(
            Text(N_("Too many failed attempts. Try again in {wait}."), wait=wait_in_words(wait)),
            429,
            {"Retry-After": str(wait)},
        )
    try:
        found = await accounts.check_credentials(
            uow.session, st.passwords, email=email, password=form_str(form, "password")
        )
    except HashingBusy:
        return again(N_("The server is busy; try again in a moment."), 503, {"Retry-After": "1"})
    space_id, ip = getattr(request.state.site.space, "id", None), request.state.client_ip
    if found is None:
        await st.rules.login.failed(keys)
        locked = await st.rules.login.exhausted(keys)
        await audit.record_login_failure(uow.session, email, ip=ip, space_id=space_id, locked=locked)
        return again(N_("Wrong email or password."), 401)
    await st.rules.login.succeeded(keys)
    if found.second_factor:
        # The password was right; the login completes with the second factor
        # (web/routes/pages/second_factor.py), in a session that is no login until then.
        return await await_second_factor(request, st, uow, found.id, next_url)
    await uow.storage.record_event(events.LOGIN_SUCCEEDED, user_id=found.id, space_id=space_id, ip=ip)
    return await log_in(request, st, uow, found.id, next_url)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    # ``next`` (the consent page's "Not you? Use another account"): log in again, then go there
    # (the same authorization request).
    next_url = safe_next(form_str(form, "next"), "")
    response = _see_other("/login?next=" + quote(next_url, safe="") if next_url else "/")
    await st.sessions.end(uow.storage, request, response)
    st.csrf.rotate(request)
    st.csrf.persist(request, response)
    return response
