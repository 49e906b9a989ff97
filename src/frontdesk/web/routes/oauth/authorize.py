"""``/oauth/authorize`` on the main host, every space subdomain and every custom domain.

GET validates the request (errors that must not be redirected become a page), sends people
who are not logged in on this host to this host's login page, and shows the consent page
unless the person already granted these scopes. POST is the consent decision; its
anti-forgery token is bound to the session and to this exact request.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from frontdesk.oauth.authorize import REQUEST_PARAMS, AuthorizationRequest, RedirectableError
from frontdesk.oauth.errors import BadAuthorizationRequest, ConsentRequired, LoginRequired
from frontdesk.oauth.scopes import catalogue
from frontdesk.services import audit
from frontdesk.store.types import utcnow
from frontdesk.web.csrf import CsrfError
from frontdesk.web.deps import DB, OptionalUser, State, form_str, get_state, optional_user
from frontdesk.web.oauth_glue import oauth_request, storage_for
from frontdesk.web.routing import RawRoute
from frontdesk.web.state import AppState
from frontdesk.web.templating import render

router = APIRouter()


def _redirect(url: str, status_code: int) -> RedirectResponse:
    return RedirectResponse(url, status_code=status_code)


async def _bad_request_page(request: Request, db: AsyncSession, exc: BadAuthorizationRequest) -> Response:
    return await _page(request, db, "oauth_error.html", {"message": exc.message, "hint": exc.hint}, 400)


def _framed_from_elsewhere(request: Request) -> bool:
    headers = request.headers
    return headers.get("sec-fetch-dest") == "iframe" and headers.get("sec-fetch-site") == "cross-site"


# When this server sent the person to log in again for a request: a signed timestamp added to
# the authorization URL it returns to. A login after it satisfies prompt=login and max_age.
REAUTH_PARAM = "fd_login_after"
REAUTH_VALID = timedelta(minutes=15)


def _authorize_url(st: AppState, query: tuple[tuple[str, str], ...], *, marked: bool) -> str:
    """This request's URL on this host, to come back to after logging in."""
    kept = [(k, v) for k, v in query if k != REAUTH_PARAM]
    if marked:
        stamp = str(int(time.time()))
        kept.append((REAUTH_PARAM, f"{stamp}.{st.keyring.mac('login-after|' + stamp)}"))
    return "/oauth/authorize?" + urlencode(kept)


def _fresh_since(st: AppState, query: tuple[tuple[str, str], ...]) -> datetime | None:
    stamp, _, mac = (dict(query).get(REAUTH_PARAM) or "").partition(".")
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        return None
    if not hmac.compare_digest(mac.encode(), st.keyring.mac("login-after|" + stamp).encode()):
        return None
    when = datetime.fromtimestamp(int(stamp), UTC)
    return when if utcnow() - when <= REAUTH_VALID else None


def _consent_purpose(areq: AuthorizationRequest) -> str:
    return "consent:" + areq.fingerprint()


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person logged in on this host, as far as authorization needs to know them."""

    user_id: str
    auth_time: datetime


async def authorize(request: Request) -> Response:
    # Every code flow starts here: no FastAPI request handling (RawRoute), and the session
    # comes from the per-worker cache without the user's row (pages load it when they render).
    st = get_state(request)
    async with st.db.session() as db:
        ref = await st.sessions.current(db, request)
        viewer = Viewer(ref.user_id, ref.created_at) if ref else None
        query = tuple(request.query_params.multi_items())
        return await _handle(request, st, db, viewer, query=query, decision=None)


router.add_api_route(
    "/oauth/authorize", authorize, methods=["GET"], include_in_schema=False, route_class_override=RawRoute
)


@router.post("/oauth/authorize", include_in_schema=False)
async def decide(request: Request, st: State, db: DB, user: OptionalUser) -> Response:
    form = await request.form()
    query = tuple((k, v) for k, v in form.multi_items() if k in REQUEST_PARAMS and isinstance(v, str))
    session = request.state.login_session
    return await _handle(
        request,
        st,
        db,
        Viewer(user.id, session.created_at) if user is not None else None,
        query=query,
        decision=form_str(form, "decision") or "invalid",
        csrf_token=form_str(form, "csrf_token"),
    )


async def _page(
    request: Request, db: AsyncSession, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """A page of this endpoint, with the logged-in person in its header like every page."""
    await optional_user(request, db)
    return render(request, template, context, status_code=status_code)


async def _handle(
    request: Request,
    st: AppState,
    db: AsyncSession,
    viewer: Viewer | None,
    *,
    query: tuple[tuple[str, str], ...],
    decision: str | None,
    csrf_token: str = "",
) -> Response:
    endpoint = st.oauth.authorization
    storage = storage_for(db, st.keyring)
    oreq = oauth_request(request, query=query)
    # 1. Is it safe to redirect? If not, tell the person (RFC 6749 §4.1.2.1).
    try:
        target = await endpoint.find_target(oreq, storage)
    except BadAuthorizationRequest as exc:
        return await _bad_request_page(request, db, exc)
    # 2. Authenticate before redirecting anything else (RFC 9700 §4.11.2).
    if viewer is None:
        params = dict(query)
        prompt = (params.get("prompt") or "").split()
        if "none" in prompt:
            return _redirect(target.error_url(LoginRequired("nobody is logged in")), 302)
        back = _authorize_url(st, query, marked="login" in prompt or "max_age" in params)
        if _framed_from_elsewhere(request) and decision is None:
            # An app in this host's iframe sent its frame here: a navigation started by another
            # site, so the browser withholds (and refuses to set) this host's SameSite=Lax
            # cookies. Reload once from this origin; the reload carries the session.
            return await _page(request, db, "oauth_continue.html", {"url": back})
        return _redirect("/login?next=" + quote(back, safe=""), 303)
    # 3. The rest of the request; errors go back to the app.
    try:
        areq = endpoint.validate(oreq, target)
    except RedirectableError as exc:
        return _redirect(exc.url, 302 if decision is None else 303)
    # prompt=login and max_age (OpenID Connect Core §3.1.2.1); the consent POST that follows
    # the page was already checked when the page was shown.
    if decision is None and endpoint.reauthentication_needed(
        areq, auth_time=viewer.auth_time, fresh_since=_fresh_since(st, query)
    ):
        if "none" in areq.prompt:
            return _redirect(target.error_url(LoginRequired("the app asks for a more recent login")), 302)
        back = _authorize_url(st, query, marked=True)
        return _redirect("/login?again=1&next=" + quote(back, safe=""), 303)
    if decision is None:
        if not await endpoint.consent_needed(areq, viewer.user_id, storage):
            # Consent on record already covers this request: nothing to remember again.
            url = await endpoint.approve(
                areq,
                user_id=viewer.user_id,
                auth_time=viewer.auth_time,
                store=storage,
                consents=storage,
                remember=False,
            )
            await storage.commit()
            return _redirect(url, 302)
        if "none" in areq.prompt:
            return _redirect(target.error_url(ConsentRequired("this app needs the user's consent")), 302)
        return await _consent_page(request, db, areq)
    # 4. The consent decision (POST), bound to this session and this exact request.
    try:
        st.csrf.verify(request, csrf_token, _consent_purpose(areq))
    except CsrfError as exc:
        raise HTTPException(
            403, "This approval form expired or was not sent by you. Start again from the app."
        ) from exc
    if decision == "approve":
        url = await endpoint.approve(
            areq, user_id=viewer.user_id, auth_time=viewer.auth_time, store=storage, consents=storage
        )
        await storage.record_event(
            audit.CONSENT_GRANTED,
            user_id=viewer.user_id,
            app_id=areq.client.client_id,
            space_id=oreq.space_id,
            ip=oreq.client_ip,
            detail={"scope": " ".join(areq.scopes)},
        )
        await storage.commit()
        return _redirect(url, 303)
    if decision == "deny":
        return _redirect(endpoint.deny(areq), 303)
    raise HTTPException(400, "Choose approve or deny.")


async def _consent_page(request: Request, db: AsyncSession, areq: AuthorizationRequest) -> Response:
    site = request.state.site
    client = areq.client
    cat = catalogue()
    name = client.name_in_space if (site.space and client.name_in_space) else client.name
    return await _page(
        request,
        db,
        "oauth_consent.html",
        {
            "client": client,
            "app_name": name,
            "scopes": [(s, cat.describe(s)) for s in areq.scopes],
            "params": areq.params,
            "purpose": _consent_purpose(areq),
            "redirect_host": areq.target.redirect_uri.split("/")[2]
            if "://" in areq.target.redirect_uri
            else "",
        },
    )
