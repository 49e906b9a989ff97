"""Email verification and password recovery pages, on the main host and on every space host
(docs/guide.md, "Accounts"; the links and their rules: :mod:`frontdesk.services.email_links`).

``/password/forgot`` answers the same, after the same work, whether or not the address has an
account: one message is queued either way (a reset link, or a note that there is no account).
It is limited per client address and per entered address. ``/password/reset`` and
``/account/verify`` show a form for the link's token; only the form's POST uses the link, so
a mail scanner that opens links uses none.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from frontdesk.errors import FieldError
from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.security.passwords import HashingBusy
from frontdesk.services import accounts, email_links, second_factor
from frontdesk.services.email_links import EXPIRED, USED, LinkState
from frontdesk.services.throttle import address_key
from frontdesk.web import routing
from frontdesk.web.deps import OptionalUser, State, Work, checked_form, form_str
from frontdesk.web.routes.pages.auth import await_second_factor, log_in
from frontdesk.web.templating import flash, locale_of, render

router = routing.router()


def _problem_status(state: LinkState) -> int:
    """410 for a link that was good once (used, expired), 404 for one that never was."""
    return 410 if state.problem in (EXPIRED, USED) else 404


# ---- forgot password ---------------------------------------------------------------------------


@router.get("/password/forgot", include_in_schema=False)
async def forgot_form(request: Request, user: OptionalUser) -> Response:
    return render(request, "password_forgot.html", {"values": {"email": user.email if user else ""}})


@router.post("/password/forgot", include_in_schema=False)
async def forgot(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    email = form_str(form, "email").strip()
    values = {"email": email}
    try:
        display, key = accounts.normalize_email(email)
    except FieldError as exc:
        return render(
            request,
            "password_forgot.html",
            {"values": values, "errors": {exc.field: exc.message}},
            status_code=422,
        )
    # Per client address, then per entered address (known or not: the answer must not tell).
    for rule, subject in (
        (st.rules.password_reset_address, address_key(request.state.client_ip)),
        (st.rules.password_reset_account, key),
    ):
        wait = await st.throttle.consume(rule, subject)
        if wait is not None:
            message = Text(N_("Too many reset requests. Try again in {wait}."), wait=wait_in_words(wait))
            return render(
                request,
                "password_forgot.html",
                {"values": values, "errors": {"form": message}},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
    await email_links.request_reset(
        uow.session,
        st.server_secret,
        display,
        origin=request.state.site.origin,
        minutes=st.settings.password_reset_link_minutes,
        ip=request.state.client_ip,
        locale=locale_of(request),
    )
    return render(
        request,
        "password_forgot.html",
        {"sent": display, "minutes": f"{st.settings.password_reset_link_minutes:g}"},
    )


# ---- reset password ----------------------------------------------------------------------------


@router.get("/password/reset", include_in_schema=False)
async def reset_form(request: Request, st: State, uow: Work, user: OptionalUser, token: str = "") -> Response:
    state = await email_links.check_link(uow.session, st.server_secret, token, email_links.RESET)
    if state.person is None:
        return render(
            request, "password_reset.html", {"problem": state.problem}, status_code=_problem_status(state)
        )
    return render(request, "password_reset.html", {"person": state.person, "token": token})


@router.post("/password/reset", include_in_schema=False)
async def reset(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    token = form_str(form, "token")
    sign_out_apps = form_str(form, "sign_out_apps") == "1"
    try:
        state = await email_links.reset_password(
            uow.session,
            st.passwords,
            st.server_secret,
            token,
            form_str(form, "password"),
            sign_out_apps=sign_out_apps,
            ip=request.state.client_ip,
        )
    except FieldError as exc:
        current = await email_links.check_link(uow.session, st.server_secret, token, email_links.RESET)
        context = {"person": current.person, "token": token, "errors": {exc.field: exc.message}}
        return render(request, "password_reset.html", context, status_code=422)
    except HashingBusy:
        current = await email_links.check_link(uow.session, st.server_secret, token, email_links.RESET)
        context = {
            "person": current.person,
            "token": token,
            "errors": {"form": N_("The server is busy; try again in a moment.")},
        }
        return render(request, "password_reset.html", context, status_code=503)
    if state.person is None:
        return render(
            request, "password_reset.html", {"problem": state.problem}, status_code=_problem_status(state)
        )
    # Every session of the account ends (on every host); this browser gets a new one.
    await uow.storage.end_sessions_of(state.person.id)
    if await second_factor.has_second_factor(uow.session, state.person.id):
        # The emailed link stands in for the password only: the second factor is still asked.
        response = await await_second_factor(request, st, uow, state.person.id, "/")
    else:
        response = await log_in(request, st, uow, state.person.id, "/")
    flash(
        request,
        response,
        N_("Your password was changed and every other session and app signed out.")
        if sign_out_apps
        else N_("Your password was changed and every other session signed out."),
    )
    return response


# ---- verify email ------------------------------------------------------------------------------


@router.get("/account/verify", include_in_schema=False)
async def verify_form(
    request: Request, st: State, uow: Work, user: OptionalUser, token: str = ""
) -> Response:
    state = await email_links.check_link(uow.session, st.server_secret, token, email_links.VERIFY)
    if state.person is None:
        return render(
            request, "verify_email.html", {"problem": state.problem}, status_code=_problem_status(state)
        )
    return render(request, "verify_email.html", {"person": state.person, "token": token})


@router.post("/account/verify", include_in_schema=False)
async def verify(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    state = await email_links.verify(
        uow.session, st.server_secret, form_str(form, "token"), ip=request.state.client_ip
    )
    if state.person is None:
        return render(
            request, "verify_email.html", {"problem": state.problem}, status_code=_problem_status(state)
        )
    if user is not None and user.id == state.person.id:
        request.state.user = state.person  # the page's header and notices see the new state
    return render(request, "verify_email.html", {"person": state.person, "verified": True})
