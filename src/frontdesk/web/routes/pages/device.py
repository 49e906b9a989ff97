"""The verification URI of the device authorization grant (RFC 8628 §3.3), on every host.

* ``GET /device`` (``?user_code=`` prefills it, §3.3.1): after logging in on this host, the
  person enters the code the device shows.
* ``POST /device``: the code is looked up on this host (oauth/device.DeviceVerification;
  wrong codes are throttled per browser session and address), then the consent page shows
  the app, which device asks (its address, place and User-Agent, and when), the scopes and
  the space, with the warning of §5.4.
* ``POST /device/decide``: approve or deny, with the form's anti-forgery token bound to this
  session and this authorization.
* ``GET /device/qr?user_code=``: ``verification_uri_complete`` as a QR code (SVG, or PNG with
  ``format=png``) and ``GET /device/show?user_code=``: a page with the code, the address and
  the QR code, for a device with a screen and a browser to show (no login; nothing is looked
  up, so neither tells whether a code exists).
"""

from __future__ import annotations

import io
from typing import Any

from fastapi import HTTPException, Request
from starlette.responses import Response

from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.oauth import device
from frontdesk.oauth.authorize import Viewer
from frontdesk.oauth.scopes import catalogue
from frontdesk.oauth.storage import DeviceAuthorization
from frontdesk.services import sessions
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.csrf import CsrfError
from frontdesk.web.deps import CurrentUser, State, Work, checked_form, form_str
from frontdesk.web.state import AppState
from frontdesk.web.templating import gettext, render

router = routing.router()

PROBLEMS = {
    device.MALFORMED: N_("That is not a code from a device: it has 8 letters, like WDJB-MJHT."),
    device.UNKNOWN: N_("There is no such code. Check the code your device shows and try again."),
    device.EXPIRED: N_("This code has expired. Start again on your device to get a new one."),
    device.DECIDED: N_("This code was used already. Start again on your device to get a new one."),
}


def _viewer(request: Request, user: Any) -> Viewer:
    session = request.state.login_session
    return Viewer(
        user.id,
        session.auth_time,
        session.id,
        email_verified=user.email_verified,
        sid=session.public_id,
        amr=session.amr,
    )


def _enter_page(
    request: Request, code: str, problem: str | Text | None = None, status: int = 200
) -> Response:
    errors = {"user_code": problem} if problem else {}
    return render(
        request, "device.html", {"step": "enter", "code": code, "errors": errors}, status_code=status
    )


@router.get("/device", include_in_schema=False)
async def device_form(request: Request, user: CurrentUser, user_code: str = "") -> Response:
    return _enter_page(request, user_code[:40])


@router.post("/device", include_in_schema=False)
async def enter_code(request: Request, st: State, uow: Work, user: CurrentUser) -> Response:
    form = await checked_form(request)
    text = form_str(form, "user_code")[:40]
    site = request.state.site
    session = request.state.login_session
    found = await st.oauth.device_verification.enter(
        text, issuer=site.origin, session=session.id, address=request.state.client_ip, store=uow.storage
    )
    if found.problem == device.THROTTLED:
        wait = found.wait or 60
        message = Text(N_("Too many wrong codes. Try again in {wait}."), wait=wait_in_words(wait))
        return render(
            request,
            "device.html",
            {"step": "enter", "code": text, "errors": {"user_code": message}},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    if found.problem is not None or found.authorization is None:
        status = 410 if found.problem in (device.EXPIRED, device.DECIDED) else 400
        return _enter_page(request, text, PROBLEMS[found.problem or device.UNKNOWN], status)
    verify_first = st.oauth.device_verification.needs_verification(_viewer(request, user))
    return await _consent_page(request, st, uow, found.authorization, user, text, verify_first=verify_first)


@router.post("/device/decide", include_in_schema=False)
async def decide(request: Request, st: State, uow: Work, user: CurrentUser) -> Response:
    form = await request.form()
    text = form_str(form, "user_code")
    verification = st.oauth.device_verification
    code = device.normalize_user_code(text)
    if code is None:
        return _enter_page(request, "", PROBLEMS[device.MALFORMED], 400)
    # The form's token first: only a code this session entered and found is looked up again.
    try:
        st.csrf.verify(request, form_str(form, "csrf_token"), verification.purpose(code))
    except CsrfError as exc:
        raise HTTPException(
            403, N_("This form expired or was sent from another site. Go back, reload and try again.")
        ) from exc
    found = await verification.reopen(code, issuer=request.state.site.origin, store=uow.storage)
    authorization = found.authorization
    if authorization is None:
        return _enter_page(request, "", PROBLEMS[device.UNKNOWN], 400)
    if found.problem is not None:
        return _enter_page(request, "", PROBLEMS[found.problem], 410)
    choice = form_str(form, "decision")
    if choice not in ("approve", "deny"):
        return await _consent_page(request, st, uow, authorization, user, text, status=400)
    answer = await verification.decide(
        authorization,
        _viewer(request, user),
        approve=choice == "approve",
        store=uow.storage,
        ip=request.state.client_ip,
    )
    if answer.problem == device.VERIFY_FIRST:
        return await _consent_page(request, st, uow, authorization, user, text, verify_first=True)
    if answer.problem is not None:
        return _enter_page(request, "", PROBLEMS[answer.problem], 410)
    app = await uow.storage.get_client(authorization.client_id)
    context = {"step": "done", "approved": choice == "approve", "app_name": _app_name(request, app)}
    return render(request, "device.html", context)


def _app_name(request: Request, client: Any) -> str:
    if client is None:
        return ""
    name: str = client.name_in_space if (request.state.site.space and client.name_in_space) else client.name
    return name


async def _consent_page(
    request: Request,
    st: AppState,
    uow: UnitOfWork,
    authorization: DeviceAuthorization,
    user: Any,
    code: str,
    *,
    verify_first: bool = False,
    status: int = 200,
) -> Response:
    """The consent page: who asks (the app and the device), for what, and the warning of
    RFC 8628 §5.4. With ``verify_first`` (FRONTDESK_REQUIRE_VERIFIED_EMAIL and an unverified
    address) it says to verify the address and offers no approval (403)."""
    client = await uow.storage.get_client(authorization.client_id)
    if client is None:  # the app was deleted meanwhile (its authorizations went with it)
        return _enter_page(request, "", PROBLEMS[device.UNKNOWN], 400)
    cat = catalogue()
    context = {
        "step": "consent",
        "client": client,
        "app_name": _app_name(request, client),
        "scopes": [(s, gettext(request, cat.describe(s))) for s in authorization.scopes],
        "user_code": device.display_user_code(device.normalize_user_code(code) or ""),
        "device_address": authorization.device_ip,
        "device_place": gettext(request, sessions.place_of(authorization.device_ip, st.settings.geoip_db)),
        "device_label": gettext(request, sessions.device_label(authorization.device_agent)),
        "device_agent": authorization.device_agent,
        "asked_at": authorization.created_at,
        "purpose": st.oauth.device_verification.purpose(device.normalize_user_code(code) or ""),
        "verify_first": verify_first,
    }
    return render(request, "device.html", context, status_code=403 if verify_first else status)


# ---- the QR code for the device's screen ----------------------------------------------------


def _complete_uri(request: Request, user_code: str) -> tuple[str, str]:
    code = device.normalize_user_code(user_code)
    if code is None:
        raise HTTPException(400, N_("That is not a code from a device: it has 8 letters, like WDJB-MJHT."))
    return code, device.verification_uri_complete(request.state.site.origin, code)


@router.get("/device/qr", include_in_schema=False)
async def qr_code(request: Request, user_code: str = "", format: str = "svg") -> Response:
    """``verification_uri_complete`` of this host as a QR code (RFC 8628 §3.3.1)."""
    _, uri = _complete_uri(request, user_code)
    import segno  # only when a QR code is drawn (docs/performance.md, "Memory")

    qr = segno.make(uri, error="m")
    out = io.BytesIO()
    if format == "png":
        qr.save(out, kind="png", scale=8, border=4)
        media = "image/png"
    elif format == "svg":
        qr.save(out, kind="svg", scale=8, border=4, dark="#000", light="#fff", title=uri)
        media = "image/svg+xml"
    else:
        raise HTTPException(400, N_("Ask for format=svg or format=png."))
    # The same code always gives the same picture; it names nothing secret.
    return Response(out.getvalue(), media_type=media, headers={"Cache-Control": "public, max-age=600"})


@router.get("/device/show", include_in_schema=False)
async def show(request: Request, user_code: str = "") -> Response:
    """A page for the device's own screen: the code, where to enter it, and the QR code."""
    code, uri = _complete_uri(request, user_code)
    import segno  # only when a QR code is drawn (docs/performance.md, "Memory")

    qr = segno.make(uri, error="m")
    context = {
        "step": "show",
        "user_code": device.display_user_code(code),
        "verification_uri": device.verification_uri(request.state.site.origin),
        "qr_svg": qr.svg_inline(scale=6, dark="#000", light="#fff", title=uri),
    }
    return render(request, "device.html", context)
