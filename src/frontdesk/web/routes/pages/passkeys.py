"""Passkeys (services/passkeys.py): the account's list (main host), the second factor on
``/login/factor``, and "Sign in with a passkey" on the login page.

Each ceremony is two requests made by ``/static/passkeys.js``: a POST of the page's
anti-forgery token for the options (JSON, the challenge kept server-side for this browser),
then the browser's answer as JSON in a form field, posted like any form (the server answers
with the usual redirect or page). The challenge's binding is this browser's anti-forgery value
for the purpose ``webauthn`` (web/csrf.py: the seed cookie and the session), so a challenge
fetched by one browser cannot be answered from another.

Pages offer passkeys only on hosts of the RP id (``passkeys.usable_on``): the main host and the
spaces' subdomain hosts, never a custom domain.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from frontdesk import events
from frontdesk.errors import FieldError, NotFound
from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.oauth import amr as methods
from frontdesk.oauth.models import Person
from frontdesk.services import passkeys, second_factor
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.deps import (
    CurrentUser,
    MainSite,
    OptionalUser,
    State,
    Work,
    checked_form,
    form_str,
    safe_next,
)
from frontdesk.web.errors import json_error
from frontdesk.web.routes.pages.auth import log_in
from frontdesk.web.routes.pages.second_factor import _factor_page, _password_ok, _subject, finish
from frontdesk.web.state import AppState
from frontdesk.web.templating import flash, gettext, render

router = routing.router()

ACCOUNT_PAGE = "/account/passkeys"
# A passwordless login with user verification: possession of the passkey and the PIN or
# biometrics that unlocked it, two factors (RFC 8176 §2 "mfa"; docs/guide.md "Passkeys").
PASSWORDLESS = (methods.HARDWARE_KEY, methods.USER_PRESENCE, methods.MULTI_FACTOR)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _rp_id(st: AppState) -> str:
    return passkeys.rp_id_for(st.settings.base_domain)


def offered(request: Request) -> bool:
    """Whether this site's host can use the passkeys (the RP id or a subdomain of it). The
    templates ask the same of ``site.host`` and ``settings.base_domain``."""
    st: AppState = request.app.state.frontdesk
    return passkeys.usable_on(request.state.site.host, _rp_id(st))


def _origin(request: Request) -> str:
    return f"{request.state.scheme}://{request.state.raw_host}"


def _binding(request: Request, st: AppState) -> str:
    return st.csrf.token(request, "webauthn")


def _options(text: str) -> Response:
    return Response(text, media_type="application/json", headers={"Cache-Control": "no-store"})


async def _challenges_throttled(request: Request, st: AppState) -> Response | None:
    """Each passkey check stores a challenge (services/passkeys.py): started per address at
    the rate ``FRONTDESK_PASSKEY_CHALLENGE_RATE_PER_ADDRESS`` allows, so a flood of fresh
    browsers cannot fill the table. The refusal's message is for /static/passkeys.js to show."""
    wait = await st.throttle.consume_for_address(st.rules.passkey_challenge, request.state.client_ip)
    if wait is None:
        return None
    text = Text(
        N_("Too many passkey checks from your address. Try again in {wait}."), wait=wait_in_words(wait)
    )
    return json_error(429, "too_many_requests", gettext(request, text), {"Retry-After": str(wait)})


# ---- the account's passkeys (main host) --------------------------------------------------------


async def _account_page(
    request: Request,
    uow: UnitOfWork,
    user: Person,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "passkeys": await passkeys.list_passkeys(uow.session, user.id),
        "errors": errors or {},
        "values": values or {},
        "offered": offered(request),
    }
    return render(request, "account_passkeys.html", context, status_code=status_code)


@router.get(ACCOUNT_PAGE, include_in_schema=False)
async def account_passkeys(request: Request, site: MainSite, uow: Work, user: CurrentUser) -> Response:
    return await _account_page(request, uow, user)


@router.post(ACCOUNT_PAGE + "/options", include_in_schema=False)
async def registration_options(
    request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    await checked_form(request)
    if not offered(request):
        return Response(status_code=404)
    if (refused := await _challenges_throttled(request, st)) is not None:
        return refused
    text = await passkeys.registration_options(
        uow.session,
        st.server_secret,
        _binding(request, st),
        user_id=user.id,
        rp_id=_rp_id(st),
        rp_name=st.settings.totp_issuer,
    )
    return _options(text)


@router.post(ACCOUNT_PAGE, include_in_schema=False)
async def add_passkey(request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser) -> Response:
    form = await checked_form(request)
    name = form_str(form, "name")
    try:
        await passkeys.register(
            uow.session,
            st.server_secret,
            _binding(request, st),
            user_id=user.id,
            credential_json=form_str(form, "credential"),
            name=name,
            rp_id=_rp_id(st),
            origin=_origin(request),
        )
    except FieldError as exc:
        field = "name" if exc.field == "name" else "passkey"
        return await _account_page(
            request, uow, user, errors={field: exc.message}, values={"name": name}, status_code=422
        )
    response = _see_other(ACCOUNT_PAGE)
    flash(request, response, N_("Passkey added."))
    return response


@router.post(ACCOUNT_PAGE + "/{passkey_id}/rename", include_in_schema=False)
async def rename_passkey(
    request: Request, passkey_id: str, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    form = await checked_form(request)
    try:
        await passkeys.rename(uow.session, user.id, passkey_id, form_str(form, "name"))
    except NotFound:
        return Response("No such passkey.", status_code=404)
    except FieldError as exc:
        return await _account_page(
            request, uow, user, errors={"rename-" + passkey_id: exc.message}, status_code=422
        )
    response = _see_other(ACCOUNT_PAGE)
    flash(request, response, N_("Passkey renamed."))
    return response


@router.post(ACCOUNT_PAGE + "/{passkey_id}/remove", include_in_schema=False)
async def remove_passkey(
    request: Request, passkey_id: str, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    """Removing one takes the password (a borrowed session cannot drop the second factor)."""
    form = await checked_form(request)
    problem = await _password_ok(request, st, uow, user, form_str(form, "password"))
    if problem is not None:
        return await _account_page(
            request, uow, user, errors={"remove-" + passkey_id: problem}, status_code=401
        )
    try:
        await passkeys.remove(uow.session, user.id, passkey_id)
    except NotFound:
        return Response("No such passkey.", status_code=404)
    response = _see_other(ACCOUNT_PAGE)
    flash(request, response, N_("Passkey removed."))
    return response


# ---- signing in --------------------------------------------------------------------------------


@router.post("/login/passkey/options", include_in_schema=False)
async def authentication_options(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    """Options for ``navigator.credentials.get``: ``purpose=factor`` for the login that waits
    for its second factor (or a step up), else a passwordless login."""
    form = await checked_form(request)
    if not offered(request):
        return Response(status_code=404)
    purpose = passkeys.FACTOR if form_str(form, "purpose") == "factor" else passkeys.LOGIN
    user_id = None
    if purpose == passkeys.FACTOR:
        subject = await _subject(request, st, uow, user)
        if subject is None:
            return Response(status_code=401)
        user_id = subject[0]
    if (refused := await _challenges_throttled(request, st)) is not None:
        return refused
    text = await passkeys.authentication_options(
        uow.session,
        st.server_secret,
        _binding(request, st),
        purpose=purpose,
        rp_id=_rp_id(st),
        user_id=user_id,
    )
    return _options(text)


async def _refused(
    request: Request, st: AppState, uow: UnitOfWork, exc: passkeys.PasskeyRefused, keys: dict[str, str]
) -> None:
    await st.rules.second_factor.failed({**keys, "account": exc.user_id or keys["account"]})
    await uow.storage.record_event(
        events.PASSKEY_FAILED,
        user_id=exc.user_id,
        ip=request.state.client_ip,
        detail={"kind": passkeys.PASSKEY},
    )


@router.post("/login/factor/passkey", include_in_schema=False)
async def passkey_factor(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    """A passkey as the second factor of the login that waits for it (or a step up)."""
    form = await checked_form(request)
    next_url = safe_next(form_str(form, "next"))
    subject = await _subject(request, st, uow, user)
    if subject is None:
        return _see_other("/login?next=" + quote(next_url, safe=""))
    user_id, session = subject

    async def again(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
        factors = await second_factor.factors_of(uow.session, user_id)
        return _factor_page(
            request,
            factors,
            next_url,
            step_up=session is not None,
            errors={passkeys.PASSKEY: message},
            status_code=status,
            headers=headers,
        )

    if not offered(request):
        return await again(N_("Passkeys cannot be used on this address."), 400)
    keys = {"account": user_id, "address": request.state.client_ip}
    wait = await st.rules.second_factor.attempt(keys)
    if wait is not None:
        return await again(
            Text(N_("Too many failed attempts. Try again in {wait}."), wait=wait_in_words(wait)),
            429,
            {"Retry-After": str(wait)},
        )
    try:
        verified = await passkeys.authenticate(
            uow.session,
            st.server_secret,
            _binding(request, st),
            purpose=passkeys.FACTOR,
            credential_json=form_str(form, "credential"),
            rp_id=_rp_id(st),
            origin=_origin(request),
            user_id=user_id,
        )
    except passkeys.PasskeyRefused as exc:
        await _refused(request, st, uow, exc, keys)
        return await again(exc.message, 401)
    await st.rules.second_factor.succeeded(keys)
    used = (
        (methods.HARDWARE_KEY, methods.USER_PRESENCE) if verified.user_verified else (methods.HARDWARE_KEY,)
    )
    return await finish(request, st, uow, user_id, session, used, next_url)


@router.post("/login/passkey", include_in_schema=False)
async def passkey_login(request: Request, st: State, uow: Work, user: OptionalUser) -> Response:
    """Passwordless: a discoverable passkey with user verification is the whole login."""
    form = await checked_form(request)
    next_url = safe_next(form_str(form, "next"))

    def again(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
        return render(
            request,
            "login.html",
            {"next": safe_next(form_str(form, "next"), ""), "errors": {"passkey": message}},
            status_code=status,
            headers=headers,
        )

    if not offered(request):
        return again(N_("Passkeys cannot be used on this address."), 400)
    keys = {"account": "", "address": request.state.client_ip}
    wait = await st.rules.second_factor.attempt(keys)
    if wait is not None:
        return again(
            Text(N_("Too many failed attempts. Try again in {wait}."), wait=wait_in_words(wait)),
            429,
            {"Retry-After": str(wait)},
        )
    try:
        verified = await passkeys.authenticate(
            uow.session,
            st.server_secret,
            _binding(request, st),
            purpose=passkeys.LOGIN,
            credential_json=form_str(form, "credential"),
            rp_id=_rp_id(st),
            origin=_origin(request),
        )
    except passkeys.PasskeyRefused as exc:
        await _refused(request, st, uow, exc, keys)
        return again(exc.message, 401)
    await st.rules.second_factor.succeeded({**keys, "account": verified.user_id})
    space_id = getattr(request.state.site.space, "id", None)
    await uow.storage.record_event(
        events.LOGIN_SUCCEEDED,
        user_id=verified.user_id,
        space_id=space_id,
        ip=request.state.client_ip,
        detail={"amr": methods.encode(PASSWORDLESS)},
    )
    return await log_in(request, st, uow, verified.user_id, next_url, amr=PASSWORDLESS)
