"""``/oauth/authorize`` on the main host, every space subdomain and every custom domain.

The protocol core decides (:meth:`frontdesk.oauth.authorize.AuthorizationEndpoint.handle`);
this module turns HTTP into its input (the request, who is logged in on this host, the consent
form's answer) and renders its outcome: a redirect, an error page, this host's login page, or
the consent page.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from frontdesk import metrics
from frontdesk.oauth.authorize import (
    REQUEST_PARAMS,
    Decision,
    NeedConsent,
    NeedLogin,
    NeedSecondFactor,
    NeedVerification,
    Outcome,
    RedirectToClient,
    ShowError,
    Viewer,
)
from frontdesk.oauth.scopes import catalogue
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.adapter import get_state, oauth_request
from frontdesk.web.csrf import CsrfError
from frontdesk.web.deps import OptionalUser, Work, form_str, optional_user
from frontdesk.web.routing import RawRoute
from frontdesk.web.templating import gettext, render

router = routing.router()


def _framed_from_elsewhere(request: Request) -> bool:
    headers = request.headers
    return headers.get("sec-fetch-dest") == "iframe" and headers.get("sec-fetch-site") == "cross-site"


async def authorize(request: Request) -> Response:
    # Every code flow starts here: no FastAPI request handling (RawRoute); the session comes
    # from the caches.
    st = get_state(request)
    async with st.unit_of_work() as uow:
        record = await st.sessions.current(uow.storage, request)
        viewer = None
        if record is not None:
            verified = True
            if st.settings.require_verified_email:  # one cached read, only when it matters
                person = await uow.storage.person(record.user_id)
                verified = person is not None and person.email_verified
            viewer = Viewer(
                record.user_id,
                record.auth_time,
                record.id,
                email_verified=verified,
                sid=record.public_id,
                amr=record.amr,
            )
        outcome = await st.oauth.authorization.handle(oauth_request(request), viewer, uow.storage)
        response = await _render(request, uow, outcome)
        await uow.commit()
    return response


router.add_api_route(
    "/oauth/authorize", authorize, methods=["GET"], include_in_schema=False, route_class_override=RawRoute
)


@router.post("/oauth/authorize", include_in_schema=False)
async def decide(request: Request, uow: Work, user: OptionalUser) -> Response:
    st = get_state(request)
    form = await request.form()
    query = tuple((k, v) for k, v in form.multi_items() if k in REQUEST_PARAMS and isinstance(v, str))
    token = form_str(form, "csrf_token")

    def proof(purpose: str) -> bool:
        try:
            st.csrf.verify(request, token, purpose)
        except CsrfError:
            return False
        return True

    session = request.state.login_session
    viewer = (
        Viewer(
            user.id,
            session.auth_time,
            session.id,
            email_verified=user.email_verified,
            sid=session.public_id,
            amr=session.amr,
        )
        if user is not None
        else None
    )
    decision = Decision(choice=form_str(form, "decision") or "invalid", proof=proof)
    outcome = await st.oauth.authorization.handle(
        oauth_request(request, query=query), viewer, uow.storage, decision
    )
    return await _render(request, uow, outcome)


# The error codes an authorization answer may carry (RFC 6749 §4.1.2.1, OpenID Connect Core
# §3.1.2.6, RFC 9101 §6.2, RFC 8707 §2): counted by name, anything else as "other" (a
# registered redirect URI may carry its own "error" parameter).
ERROR_CODES = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
        "invalid_target",
    }
)


def _count(outcome: RedirectToClient | ShowError) -> None:
    """frontdesk_authorizations_total (docs/metrics.md): the answer's error code is the last
    ``error`` parameter of the redirect (the core appends its parameters, oauth/authorize.py
    Target.url); none means approved."""
    if isinstance(outcome, ShowError):
        metrics.authorization("error", "page")  # not redirected: no client or redirect URI to trust
        return
    error = ""
    for name, value in parse_qsl(urlsplit(outcome.url).query):
        if name == "error":
            error = value
    if not error:
        metrics.authorization("approved")
    elif error == "access_denied":
        metrics.authorization("denied", error)
    else:
        metrics.authorization("error", error if error in ERROR_CODES else "other")


async def _render(request: Request, uow: UnitOfWork, outcome: Outcome) -> Response:
    if isinstance(outcome, RedirectToClient):
        _count(outcome)
        return RedirectResponse(outcome.url, status_code=outcome.status)
    if isinstance(outcome, NeedLogin):
        if request.method == "GET" and not outcome.again and _framed_from_elsewhere(request):
            # An app in this host's iframe sent its frame here: a navigation started by another
            # site, so the browser withholds (and refuses to set) this host's SameSite=Lax
            # cookies. Reload once from this origin; the reload carries the session.
            return await _page(request, uow, "oauth_continue.html", {"url": outcome.return_to})
        again = "again=1&" if outcome.again else ""
        return RedirectResponse(f"/login?{again}next=" + quote(outcome.return_to, safe=""), status_code=303)
    if isinstance(outcome, ShowError):
        _count(outcome)
        if outcome.status == 400:
            context = {"message": outcome.message, "hint": outcome.hint}
            return await _page(request, uow, "oauth_error.html", context, outcome.status)
        return await _page(
            request, uow, "error.html", {"title": "Not allowed", "message": outcome.message}, outcome.status
        )
    if isinstance(outcome, NeedSecondFactor):
        # A step up: the factor page confirms a second factor in this session, then back.
        return RedirectResponse("/login/factor?next=" + quote(outcome.return_to, safe=""), status_code=303)
    if isinstance(outcome, NeedVerification):
        return await _consent_page(request, uow, NeedConsent(outcome.request, ""), verify_first=True)
    return await _consent_page(request, uow, outcome)


async def _page(
    request: Request, uow: UnitOfWork, template: str, context: Mapping[str, object], status_code: int = 200
) -> Response:
    """A page of this endpoint, with the logged-in person in its header like every page."""
    await optional_user(request, uow)
    return render(request, template, dict(context), status_code=status_code)


async def _consent_page(
    request: Request, uow: UnitOfWork, outcome: NeedConsent, *, verify_first: bool = False
) -> Response:
    """The consent page; with ``verify_first`` (FRONTDESK_REQUIRE_VERIFIED_EMAIL and an
    unverified address) it says to verify the address and offers no approval (403)."""
    site = request.state.site
    areq = outcome.request
    client = areq.client
    cat = catalogue()
    name = client.name_in_space if (site.space and client.name_in_space) else client.name
    redirect_uri = areq.target.redirect_uri
    return await _page(
        request,
        uow,
        "oauth_consent.html",
        {
            "client": client,
            "app_name": name,
            # The scope files' descriptions are msgids too (i18n.extract_scope_descriptions).
            "scopes": [(s, gettext(request, cat.describe(s))) for s in areq.scopes],
            "params": areq.params,
            "purpose": outcome.purpose,
            "redirect_host": redirect_uri.split("/")[2] if "://" in redirect_uri else "",
            "verify_first": verify_first,
            # "Not you? Use another account": log out, log in, and this same request again.
            "switch_next": "/oauth/authorize?" + urlencode(areq.params),
        },
        403 if verify_first else 200,
    )
