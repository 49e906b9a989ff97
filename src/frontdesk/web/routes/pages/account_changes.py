"""Changing a person's email address and deleting their account (main host; docs/guide.md,
"Accounts"). The rules live in :mod:`frontdesk.services.email_links` (the change's links) and
:mod:`frontdesk.services.account_deletion`.

``/account/email/confirm`` shows a form for the link's token and only its POST uses the link
(a mail scanner that opens links changes nothing), on whichever host it is opened.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from frontdesk.errors import Conflict, FieldError
from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.security.passwords import HashingBusy
from frontdesk.services import account_deletion, accounts, email_links
from frontdesk.services.email_links import EXPIRED, USED, ChangeState
from frontdesk.web import routing
from frontdesk.web.deps import CurrentUser, MainSite, OptionalUser, State, Work, checked_form, form_str
from frontdesk.web.state import AppState
from frontdesk.web.templating import flash, gettext, render

router = routing.router()

# The account page's change-email form names its fields apart from the change-password form's.
EMAIL_FIELDS = {"current_password": "email_password", "email": "new_email"}


def _busy_or_wait(wait: int | None) -> tuple[str, int, dict[str, str]] | None:
    if wait is None:
        return None
    return (
        Text(N_("Too many wrong passwords. Try again in {wait}."), wait=wait_in_words(wait)),
        429,
        {"Retry-After": str(wait)},
    )


async def _login_wait(st: AppState, keys: dict[str, str]) -> int | None:
    return await st.rules.login.attempt(keys)


# ---- change email -----------------------------------------------------------------------------


@router.post("/account/email", include_in_schema=False)
async def request_change(
    request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    """Send a confirmation link to the new address and a notice to the current one; wrong
    passwords count like wrong logins, requests are limited per account."""
    form = await checked_form(request)
    values = {"new_email": form_str(form, "new_email").strip()}
    keys = {"account": accounts.email_key(user.email), "address": request.state.client_ip}

    def again(field: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
        context = {"errors": {field: message}, "values": values}
        return render(request, "account.html", context, status_code=status, headers=headers)

    refused = _busy_or_wait(await _login_wait(st, keys))
    if refused is not None:
        return again("email_form", *refused)
    wait = await st.throttle.consume(st.rules.email_change, user.id)
    if wait is not None:
        message = Text(
            N_("You asked for several changes already. Try again in {wait}."), wait=wait_in_words(wait)
        )
        return again("email_form", message, 429, {"Retry-After": str(wait)})
    try:
        new_email = await email_links.request_email_change(
            uow.session,
            st.passwords,
            st.server_secret,
            user.id,
            current=form_str(form, "email_password"),
            new_email=values["new_email"],
            origin=site.origin,
            hours=st.settings.email_change_link_hours,
            ip=request.state.client_ip,
        )
    except FieldError as exc:
        if exc.field == "current_password":
            await st.rules.login.failed(keys)
        else:
            await st.rules.login.succeeded(keys)
        return again(EMAIL_FIELDS.get(exc.field, "email_form"), exc.message, 422)
    except HashingBusy:
        return again(
            "email_form", N_("The server is busy; try again in a moment."), 503, {"Retry-After": "1"}
        )
    await st.rules.login.succeeded(keys)
    response = RedirectResponse("/account", status_code=303)
    flash(
        request,
        response,
        gettext(
            request,
            N_(
                "We sent a link to {new_email}: your address changes when you open it. "
                "We also told {email} about it."
            ),
        ).format(new_email=new_email, email=user.email),
    )
    return response


def _change_problem(request: Request, state: ChangeState) -> Response:
    gone = 410 if state.problem in (EXPIRED, USED) else 404
    status = 409 if state.problem == email_links.TAKEN else gone
    return render(request, "email_change.html", {"problem": state.problem}, status_code=status)


@router.get("/account/email/confirm", include_in_schema=False)
async def confirm_form(
    request: Request, st: State, uow: Work, user: OptionalUser, token: str = ""
) -> Response:
    state = await email_links.check_email_change(uow.session, st.server_secret, token)
    if state.person is None:
        return _change_problem(request, state)
    context = {"person": state.person, "new_email": state.new_email, "token": token}
    return render(request, "email_change.html", context)


@router.post("/account/email/confirm", include_in_schema=False)
async def confirm(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    state = await email_links.confirm_email_change(
        uow.session, st.server_secret, form_str(form, "token"), ip=request.state.client_ip
    )
    if state.person is None:
        return _change_problem(request, state)
    if user is not None and user.id == state.person.id:
        request.state.user = state.person  # the page's header shows the new address
    return render(request, "email_change.html", {"person": state.person, "changed": True})


# ---- delete the account -------------------------------------------------------------------------


async def _delete_page(
    request: Request,
    uow: Work,
    user_id: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    preview = await account_deletion.preview(uow.session, user_id)
    context = {"preview": preview, "errors": errors or {}, "confirm_word": account_deletion.CONFIRM_WORD}
    return render(request, "account_delete.html", context, status_code=status_code, headers=headers)


@router.get("/account/delete", include_in_schema=False)
async def delete_form(request: Request, site: MainSite, uow: Work, user: CurrentUser) -> Response:
    return await _delete_page(request, uow, user.id)


@router.post("/account/delete", include_in_schema=False)
async def delete_account(
    request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    """Delete the account (through services/accounts.delete_user) once the password and the
    typed confirmation are right, end its sessions everywhere and log this browser out."""
    form = await checked_form(request)
    keys = {"account": accounts.email_key(user.email), "address": request.state.client_ip}
    refused = _busy_or_wait(await _login_wait(st, keys))
    if refused is not None:
        message, status, headers = refused
        return await _delete_page(request, uow, user.id, {"form": message}, status, headers)
    try:
        await account_deletion.confirm(
            uow.session,
            st.passwords,
            user.id,
            password=form_str(form, "password"),
            confirmation=form_str(form, "confirmation"),
        )
    except FieldError as exc:
        if exc.field == "password":
            await st.rules.login.failed(keys)
        return await _delete_page(request, uow, user.id, {exc.field: exc.message}, 422)
    except Conflict as exc:
        await st.rules.login.succeeded(keys)
        return await _delete_page(request, uow, user.id, {"form": exc.message}, 409)
    except HashingBusy:
        return await _delete_page(
            request,
            uow,
            user.id,
            {"form": N_("The server is busy; try again in a moment.")},
            503,
            {"Retry-After": "1"},
        )
    await st.rules.login.succeeded(keys)
    await uow.storage.end_sessions_of(user.id)
    await account_deletion.delete(uow.session, user.id)
    response = RedirectResponse("/", status_code=303)
    await st.sessions.end(uow.storage, request, response)
    st.csrf.rotate(request)
    st.csrf.persist(request, response)
    flash(request, response, N_("Your account was deleted. Thank you for having used it."))
    return response
