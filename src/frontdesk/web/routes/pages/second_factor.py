"""Two-step login: the login's second factor, the account's set-up page (main host), and a
space's "admins must have a second factor" setting.

The login (web/routes/pages/auth.py) checks the password; an account with a second factor
then gets a short session that is no login yet (``pending_factor``, web/sessions.py) and is
sent to ``/login/factor``. That page lists the person's factors (``second_factor.factors_of``),
one form each; a right code ends the waiting session and starts the real one
(:func:`finish`), whose methods (RFC 8176 ``amr``) and completion time (OIDC ``auth_time``)
reach ID tokens. Another kind of factor (passkeys) adds its form to the page and calls
:func:`finish` the same way.

The same page serves a *step up*: someone logged in with a password only, whom an app asks
for a second factor (``acr_values``, oauth/authorize.py); a right code then records the
second factor on the current session (same session: the apps it signed in to keep it).

Wrong codes share one failure throttle (``Rules.second_factor``), per account and address.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from frontdesk import events
from frontdesk.errors import Conflict, FieldError
from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.oauth import amr as methods
from frontdesk.oauth.config import utcnow
from frontdesk.oauth.models import Person
from frontdesk.records import SessionRecord
from frontdesk.security.passwords import HashingBusy
from frontdesk.services import accounts, second_factor
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.deps import (
    CurrentSpace,
    CurrentUser,
    MainSite,
    OptionalUser,
    SpaceAdmin,
    State,
    Work,
    checked_form,
    form_str,
    safe_next,
)
from frontdesk.web.routes.pages.auth import log_in
from frontdesk.web.state import AppState
from frontdesk.web.templating import flash, render

router = routing.router()

# The methods a login with a second factor reached (RFC 8176 §2).
WITH_CODE = (methods.PASSWORD, methods.ONE_TIME_CODE, methods.MULTI_FACTOR)
ACCOUNT_PAGE = "/account/two-factor"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _login_session(request: Request) -> SessionRecord | None:
    return getattr(request.state, "login_session", None)


async def _subject(
    request: Request, st: AppState, uow: UnitOfWork, user: Person | None
) -> tuple[str, SessionRecord | None] | None:
    """Whose second factor this page asks for: the login waiting for it (the session is
    None), or the person logged in here (a step up, with their session)."""
    waiting = await st.sessions.awaiting_factor(uow.storage, request)
    if waiting is not None:
        return waiting.user_id, None
    if user is not None:
        return user.id, _login_session(request)
    return None


async def finish(
    request: Request,
    st: AppState,
    uow: UnitOfWork,
    user_id: str,
    session: SessionRecord | None,
    used: tuple[str, ...],
    next_url: str,
) -> Response:
    """A second factor was confirmed (``used``: its RFC 8176 methods, with ``mfa``). A
    waiting login becomes a session of its own (new id); a step up records the factor and
    its time on the current session."""
    login_methods = tuple(dict.fromkeys((methods.PASSWORD, *used, methods.MULTI_FACTOR)))
    space_id, ip = getattr(request.state.site.space, "id", None), request.state.client_ip
    if session is None:
        await uow.storage.record_event(
            events.LOGIN_SUCCEEDED,
            user_id=user_id,
            space_id=space_id,
            ip=ip,
            detail={"amr": methods.encode(login_methods)},
        )
        return await log_in(request, st, uow, user_id, next_url, amr=login_methods)
    merged = tuple(dict.fromkeys((*session.amr, *login_methods)))
    await uow.storage.update_session(session.id, login_methods=merged, authenticated_at=utcnow())
    return _see_other(next_url)


def _factor_page(
    request: Request,
    factors: list[str],
    next_url: str,
    *,
    step_up: bool,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    st: AppState = request.app.state.frontdesk
    context = {
        "factors": factors,
        "next": next_url,
        "step_up": step_up,
        "errors": errors or {},
        "set_up_url": st.settings.public_url + ACCOUNT_PAGE,
    }
    return render(request, "login_factor.html", context, status_code=status_code, headers=headers)


@router.get("/login/factor", include_in_schema=False)
async def factor_form(
    request: Request, st: State, uow: Work, user: OptionalUser, next: str | None = None
) -> Response:
    next_url = safe_next(next)
    subject = await _subject(request, st, uow, user)
    if subject is None:
        return _see_other("/login?next=" + quote(next_url, safe=""))
    factors = await second_factor.factors_of(uow.session, subject[0])
    return _factor_page(request, factors, next_url, step_up=subject[1] is not None)


@router.post("/login/factor", include_in_schema=False)
async def check_factor(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    next_url = safe_next(form_str(form, "next"))
    subject = await _subject(request, st, uow, user)
    if subject is None:
        return _see_other("/login?next=" + quote(next_url, safe=""))
    user_id, session = subject
    factors = await second_factor.factors_of(uow.session, user_id)
    kind = form_str(form, "kind")

    def again(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
        return _factor_page(
            request,
            factors,
            next_url,
            step_up=session is not None,
            errors={kind or "form": message},
            status_code=status,
            headers=headers,
        )

    if kind not in factors or kind not in (second_factor.TOTP, second_factor.RECOVERY):
        return again(N_("Choose a way to confirm it is you."), 400)
    keys = {"account": user_id, "address": request.state.client_ip}
    wait = await st.rules.second_factor.attempt(keys)
    if wait is not None:
        return again(
            Text(N_("Too many wrong codes. Try again in {wait}."), wait=wait_in_words(wait)),
            429,
            {"Retry-After": str(wait)},
        )
    code = form_str(form, "code") or form_str(form, "recovery_code")
    if not await second_factor.verify(uow.session, st.server_secret, user_id, kind, code):
        await st.rules.second_factor.failed(keys)
        await uow.storage.record_event(
            events.SECOND_FACTOR_FAILED, user_id=user_id, ip=request.state.client_ip, detail={"kind": kind}
        )
        return again(N_("That code is wrong, or it was used already."), 401)
    await st.rules.second_factor.succeeded(keys)
    return await finish(request, st, uow, user_id, session, (methods.ONE_TIME_CODE,), next_url)


# ---- the account's set-up page (main host) ---------------------------------------------------


async def _account_page(
    request: Request,
    st: AppState,
    uow: UnitOfWork,
    user: Person,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    state = await second_factor.status(uow.session, user.id)
    context: dict[str, object] = {"status": state, "errors": errors or {}, "next": _next_of(request)}
    if state.totp_pending:
        raw = await second_factor.pending_totp_secret(uow.session, st.server_secret, user.id)
        assert raw is not None
        uri = second_factor.provisioning_uri(raw, user.email, st.settings.totp_issuer)
        context.update(secret=raw, qr_svg=second_factor.qr_svg(uri))
    return render(request, "account_two_factor.html", context, status_code=status_code, headers=headers)


def _next_of(request: Request) -> str:
    return safe_next(request.query_params.get("next"), "")


@router.get(ACCOUNT_PAGE, include_in_schema=False)
async def account_two_factor(
    request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    return await _account_page(request, st, uow, user)


@router.post(ACCOUNT_PAGE + "/start", include_in_schema=False)
async def start_totp(request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser) -> Response:
    form = await checked_form(request)
    try:
        await second_factor.begin_totp(uow.session, st.server_secret, user.id)
    except Conflict as exc:
        return await _account_page(request, st, uow, user, errors={"form": exc.message}, status_code=409)
    next_url = safe_next(form_str(form, "next"), "")
    return _see_other(ACCOUNT_PAGE + ("?next=" + quote(next_url, safe="") if next_url else ""))


def _codes_page(request: Request, codes: list[str], next_url: str, *, first: bool) -> Response:
    return render(request, "account_recovery_codes.html", {"codes": codes, "first": first, "next": next_url})


@router.post(ACCOUNT_PAGE + "/confirm", include_in_schema=False)
async def confirm_totp(request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser) -> Response:
    """The first code from the app turns two-step login on; the recovery codes are shown
    once, in this answer. The code also counts as this session's second factor."""
    form = await checked_form(request)
    keys = {"account": user.id, "address": request.state.client_ip}
    wait = await st.rules.second_factor.attempt(keys)
    if wait is not None:
        message = Text(N_("Too many wrong codes. Try again in {wait}."), wait=wait_in_words(wait))
        return await _account_page(
            request,
            st,
            uow,
            user,
            errors={"code": message},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    try:
        codes = await second_factor.confirm_totp(
            uow.session, st.server_secret, user.id, form_str(form, "code")
        )
    except FieldError as exc:
        await st.rules.second_factor.failed(keys)
        return await _account_page(request, st, uow, user, errors={exc.field: exc.message}, status_code=422)
    await st.rules.second_factor.succeeded(keys)
    session = _login_session(request)
    if session is not None:
        merged = tuple(dict.fromkeys((*session.amr, *WITH_CODE)))
        await uow.storage.update_session(session.id, login_methods=merged, authenticated_at=utcnow())
    return _codes_page(request, codes, safe_next(form_str(form, "next"), ""), first=True)


async def _password_ok(
    request: Request, st: AppState, uow: UnitOfWork, user: Person, password: str
) -> str | None:
    """None when ``password`` is the person's, else what to say. The login form's failure
    counters: this form is no cheaper password oracle."""
    keys = {"account": accounts.email_key(user.email), "address": request.state.client_ip}
    wait = await st.rules.login.attempt(keys)
    if wait is not None:
        return Text(N_("Too many failed attempts. Try again in {wait}."), wait=wait_in_words(wait))
    try:
        found = await accounts.check_credentials(
            uow.session, st.passwords, email=user.email, password=password
        )
    except HashingBusy:
        return "The server is busy; try again in a moment."
    if found is None or found.id != user.id:
        await st.rules.login.failed(keys)
        return "Wrong password."
    await st.rules.login.succeeded(keys)
    return None


@router.post(ACCOUNT_PAGE + "/recovery-codes", include_in_schema=False)
async def regenerate_codes(
    request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    form = await checked_form(request)
    state = await second_factor.status(uow.session, user.id)
    if not state.totp:
        return await _account_page(
            request, st, uow, user, errors={"form": N_("Two-step login is off.")}, status_code=409
        )
    problem = await _password_ok(request, st, uow, user, form_str(form, "password"))
    if problem is not None:
        return await _account_page(request, st, uow, user, errors={"password": problem}, status_code=401)
    codes = await second_factor.new_recovery_codes(uow.session, st.server_secret, user.id)
    return _codes_page(request, codes, "", first=False)


@router.post(ACCOUNT_PAGE + "/disable", include_in_schema=False)
async def disable(request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser) -> Response:
    """Turning it off takes the password and a code (from the app, or a recovery code)."""
    form = await checked_form(request)
    problem = await _password_ok(request, st, uow, user, form_str(form, "disable_password"))
    if problem is not None:
        return await _account_page(
            request, st, uow, user, errors={"disable_password": problem}, status_code=401
        )
    keys = {"account": user.id, "address": request.state.client_ip}
    wait = await st.rules.second_factor.attempt(keys)
    if wait is not None:
        message = Text(N_("Too many wrong codes. Try again in {wait}."), wait=wait_in_words(wait))
        return await _account_page(
            request,
            st,
            uow,
            user,
            errors={"disable_code": message},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    code = form_str(form, "disable_code")
    ok = await second_factor.verify_totp(uow.session, st.server_secret, user.id, code)
    if not ok:
        ok = await second_factor.use_recovery_code(uow.session, st.server_secret, user.id, code)
    if not ok:
        await st.rules.second_factor.failed(keys)
        return await _account_page(
            request,
            st,
            uow,
            user,
            errors={"disable_code": N_("That code is wrong, or it was used already.")},
            status_code=401,
        )
    await st.rules.second_factor.succeeded(keys)
    await second_factor.disable(uow.session, user.id)
    response = _see_other(ACCOUNT_PAGE)
    flash(request, response, N_("Two-step login is off."))
    return response


# ---- a space's requirement (its settings page) ----------------------------------------------


@router.post("/admin/settings/second-factor", include_in_schema=False)
async def space_requirement(
    request: Request, space: CurrentSpace, admin: SpaceAdmin, st: State, uow: Work, user: CurrentUser
) -> Response:
    form = await checked_form(request)
    required = form_str(form, "require_admin_second_factor") == "1"
    try:
        await second_factor.set_space_requirement(uow.session, space.id, required, by=user.id)
    except FieldError as exc:
        response = _see_other("/admin/settings")
        flash(request, response, exc.message)
        return response
    response = _see_other("/admin/settings")
    flash(
        request,
        response,
        N_("Admins of this space now need two-step login.")
        if required
        else N_("Admins no longer need two-step login."),
    )
    return response
