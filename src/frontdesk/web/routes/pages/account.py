"""A person's own account pages (main host): the account itself (its email address and
whether it is verified, "resend verification email", change password), authorized apps and
their security activity.

``/account/apps`` lists every app that can act for the person (see
:mod:`frontdesk.services.grants`); "Revoke access" takes back everything the person gave it.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.responses import RedirectResponse, Response

from frontdesk.errors import FieldError
from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.oauth.scopes import catalogue
from frontdesk.security.passwords import HashingBusy
from frontdesk.services import accounts, audit, email_links, grants
from frontdesk.web import routing
from frontdesk.web.deps import CurrentUser, MainSite, State, Work, checked_form, form_str
from frontdesk.web.routes.pages.auth import log_in
from frontdesk.web.templating import flash, gettext, render

router = routing.router()

PER_PAGE = 50


@router.get("/account", include_in_schema=False)
async def account_page(request: Request, site: MainSite, user: CurrentUser) -> Response:
    return render(request, "account.html")


@router.post("/account/verification", include_in_schema=False)
async def resend_verification(
    request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    """Send a new verification link (limited per account)."""
    await checked_form(request)
    if user.email_verified:
        response = RedirectResponse("/account", status_code=303)
        flash(request, response, N_("Your email address is verified already."))
        return response
    wait = await st.throttle.consume(st.rules.verification_email, user.id)
    if wait is not None:
        message = Text(N_("We sent several links already. Try again in {wait}."), wait=wait_in_words(wait))
        return render(
            request,
            "account.html",
            {"errors": {"form": message}},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    await email_links.send_verification(
        uow.session,
        st.server_secret,
        user.id,
        origin=site.origin,
        hours=st.settings.verification_link_hours,
        ip=request.state.client_ip,
    )
    response = RedirectResponse("/account", status_code=303)
    flash(
        request,
        response,
        gettext(request, N_("We sent a new verification link to {email}.")).format(email=user.email),
    )
    return response


@router.post("/account/password", include_in_schema=False)
async def change_password(
    request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    """A new password, with the current one (wrong ones count like wrong logins); every other
    session of the account ends and this browser gets a new one."""
    form = await checked_form(request)
    keys = {"account": accounts.email_key(user.email), "address": request.state.client_ip}

    def again(field: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
        return render(
            request, "account.html", {"errors": {field: message}}, status_code=status, headers=headers
        )

    wait = await st.rules.login.attempt(keys)
    if wait is not None:
        return again(
            "form",
            Text(N_("Too many wrong passwords. Try again in {wait}."), wait=wait_in_words(wait)),
            429,
            {"Retry-After": str(wait)},
        )
    try:
        await email_links.change_password(
            uow.session,
            st.passwords,
            user.id,
            current=form_str(form, "current_password"),
            new=form_str(form, "password"),
            ip=request.state.client_ip,
        )
    except FieldError as exc:
        if exc.field == "current_password":
            await st.rules.login.failed(keys)
        else:
            await st.rules.login.succeeded(keys)
        return again(exc.field, exc.message, 422)
    except HashingBusy:
        return again("form", N_("The server is busy; try again in a moment."), 503, {"Retry-After": "1"})
    await st.rules.login.succeeded(keys)
    await uow.storage.end_sessions_of(user.id)
    response = await log_in(request, st, uow, user.id, "/account")
    flash(request, response, N_("Your password was changed and every other session signed out."))
    return response


@router.get("/account/apps", include_in_schema=False)
async def apps_page(request: Request, site: MainSite, uow: Work, user: CurrentUser) -> Response:
    cat = catalogue()
    found = await grants.authorized_apps(uow.session, user.id)
    described = {name: gettext(request, cat.describe(name)) for g in found for name in g.scopes}
    return render(request, "account_apps.html", {"grants": found, "describe": described})


@router.post("/account/apps/{client_id}/revoke", include_in_schema=False)
async def revoke(request: Request, client_id: str, site: MainSite, uow: Work, user: CurrentUser) -> Response:
    await checked_form(request)
    app = await uow.storage.get_client(client_id)
    revoked = await grants.revoke_app(uow.session, user.id, client_id, ip=request.state.client_ip)
    if app is None or revoked is None:
        # The same answer whether the app does not exist or has no access: reveals nothing.
        raise HTTPException(404, N_("This app holds no access to your account."))
    response = RedirectResponse("/account/apps", status_code=303)
    flash(
        request,
        response,
        gettext(request, N_("{app} no longer has access to your account.")).format(app=app.name),
    )
    return response


@router.get("/account/activity", include_in_schema=False)
async def activity_page(
    request: Request, site: MainSite, uow: Work, user: CurrentUser, page: int = 1
) -> Response:
    found = await audit.events_of_user(
        uow.session, user.id, page=max(1, min(page, 10_000)), per_page=PER_PAGE
    )
    return render(request, "account_activity.html", {"page": found})
