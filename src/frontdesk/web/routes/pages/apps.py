"""App registration pages: /oauth2_clients (list, new, show/edit, secrets).

Secrets are shown once right after they are made (a one-time grant kept in the login
session, naming the one credential just made: the next view shows that credential and nothing
else), and later only after the person re-entered their password in this session within the
last few minutes (docs/decisions.md §1).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from frontdesk.errors import FieldError, NotFound
from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.inputs import ascii_int
from frontdesk.oauth.client_assertion import PRIVATE_KEY_JWT
from frontdesk.oauth.config import utcnow
from frontdesk.oauth.models import FAPI2, Client, Person
from frontdesk.oauth.scopes import catalogue, parse_scope
from frontdesk.records import SessionRecord
from frontdesk.security.passwords import HashingBusy
from frontdesk.services import accounts, webhooks
from frontdesk.services import apps as app_service
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.deps import CurrentUser, MainSite, State, Work, checked_form, form_str
from frontdesk.web.state import AppState
from frontdesk.web.templating import flash, render

router = routing.router()

# How long a password confirmation lets the owner see secrets again.
REAUTH_WINDOW = timedelta(minutes=10)
# How long a one-time "show the new credentials" grant stays usable.
REVEAL_ONCE_SECONDS = 600
FLAGS = (
    "password_grant",
    "public",
    "allow_redirect_query",
    "require_pkce",
    "jwt_access_tokens",
    "client_credentials",
    "dpop_required",
    "par_required",
    "fapi2",
)
# The credentials a one-time grant can name.
SECRET, TOKEN = "secret", "token"
CREDENTIALS = frozenset({SECRET, TOKEN})


def _see_other(request: Request, url: str, message: str | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(request, response, message)
    return response


def _app_url(app: Client) -> str:
    return f"/oauth2_clients/{app.client_id}"


# ---- form values ----------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: form_str(form, k) for k in ("name", "name_in_space", "main_url", "access_token_ttl")
    }
    values["redirect_uris"] = form_str(form, "redirect_uris")
    values["post_logout_redirect_uris"] = form_str(form, "post_logout_redirect_uris")
    values["backchannel_logout_uri"] = form_str(form, "backchannel_logout_uri")
    for name in ("token_endpoint_auth_method", "jwks", "jwks_uri"):
        values[name] = form_str(form, name)
    values["scopes"] = [s for s in form.getlist("scope") if isinstance(s, str)]
    for flag in FLAGS:
        values[flag] = form_str(form, flag) == "1"
    return values


def _app_values(app: Client) -> dict[str, Any]:
    return {
        "name": app.name,
        "name_in_space": app.name_in_space or "",
        "main_url": app.main_url,
        "redirect_uris": "\n".join(app.redirect_uris),
        "post_logout_redirect_uris": "\n".join(app.post_logout_redirect_uris),
        "backchannel_logout_uri": app.backchannel_logout_uri or "",
        "token_endpoint_auth_method": app.token_endpoint_auth_method or "client_secret",
        "jwks": app.jwks or "",
        "jwks_uri": app.jwks_uri or "",
        "scopes": list(app.scopes),
        "password_grant": app.password_grant,
        "public": app.public,
        "allow_redirect_query": app.allow_redirect_query,
        "require_pkce": app.require_pkce or app.public,
        "access_token_ttl": str(app.access_token_ttl) if app.access_token_ttl else "",
        "jwt_access_tokens": app.jwt_access_tokens,
        "client_credentials": app.client_credentials,
        "dpop_required": app.dpop_required,
        "par_required": app.par_required,
        "fapi2": app.profile == FAPI2,
    }


def _key_values(values: dict[str, Any], *, public: bool) -> dict[str, Any]:
    """The key settings of the form (RFC 7523 private_key_jwt); a public app has none to give."""
    if public:
        return {}
    return {
        "token_endpoint_auth_method": values["token_endpoint_auth_method"],
        "jwks": values["jwks"],
        "jwks_uri": values["jwks_uri"],
    }


def _key_ids(app: Client) -> list[str]:
    """The ``kid`` of each registered key, for the app page."""
    if not app.jwks:
        return []
    return [str(key.get("kid") or "–") for key in json.loads(app.jwks).get("keys", [])]


def _scope_choices() -> list[Any]:
    # Administrative scopes are the operator's to give (`frontdesk clients update --admin-scopes`).
    return [info for info in catalogue().scopes.values() if not info.admin]


# ---- who may see what -----------------------------------------------------------------------


async def _owned_app(uow: UnitOfWork, user: Person, client_id: str) -> Client:
    """The app if ``user`` owns it; 404 otherwise (never reveal that someone else's exists)."""
    app = await app_service.owned_app(uow.session, user.id, client_id)
    if app is None:
        raise HTTPException(404, N_("There is no app with this client id among your apps."))
    return app


def _login_session(request: Request) -> SessionRecord | None:
    return getattr(request.state, "login_session", None)


def _recently_confirmed(session: SessionRecord | None) -> bool:
    at = session.reauthenticated_at if session else None
    return at is not None and utcnow() - at < REAUTH_WINDOW


def _live_grants(session: SessionRecord) -> dict[str, dict[str, Any]]:
    """The session's unexpired one-time grants: client id → ``{"until": ts, "show": [...]}``.
    Anything else (an older format, a tampered value) grants nothing."""
    raw = (session.data or {}).get("reveal")
    now = time.time()
    if not isinstance(raw, dict):
        return {}
    live: dict[str, dict[str, Any]] = {}
    for client_id, grant in raw.items():
        if not isinstance(grant, dict):
            continue
        until, show = grant.get("until"), grant.get("show")
        if not isinstance(until, int | float) or until <= now or not isinstance(show, list):
            continue
        kinds = [kind for kind in show if kind in CREDENTIALS]
        if kinds:
            live[client_id] = {"until": float(until), "show": kinds}
    return live


async def _grant_reveal_once(request: Request, uow: UnitOfWork, app: Client, *kinds: str) -> None:
    """Let the next view of this app show ``kinds`` (the credentials just made) once, without
    a password. A new grant replaces an unused one: a view shows what the last action made."""
    session = _login_session(request)
    if session is None:
        return
    grants = _live_grants(session)
    grants[app.client_id] = {"until": time.time() + REVEAL_ONCE_SECONDS, "show": list(kinds)}
    await uow.storage.update_session(session.id, data={**(session.data or {}), "reveal": grants})


async def _take_reveal_once(request: Request, uow: UnitOfWork, app: Client) -> frozenset[str]:
    """The credentials this view may show once (consuming the grant); empty if none."""
    session = _login_session(request)
    stored = (session.data or {}).get("reveal") if session else None
    if session is None or not isinstance(stored, dict) or not stored:
        return frozenset()
    grants = _live_grants(session)
    granted = grants.pop(app.client_id, None)
    if grants != stored:  # consumed, or expired grants dropped
        await uow.storage.update_session(session.id, data={**(session.data or {}), "reveal": grants})
    return frozenset(granted["show"]) if granted else frozenset()


# ---- pages ----------------------------------------------------------------------------------


async def _show(
    request: Request,
    st: AppState,
    uow: UnitOfWork,
    app: Client,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    reveal_once: bool = False,
) -> Response:
    once = await _take_reveal_once(request, uow, app) if reveal_once else frozenset()
    # A password confirmation shows everything; a one-time grant only what was just made.
    show = CREDENTIALS if _recently_confirmed(_login_session(request)) else once
    revealed = None
    if show:
        revealed = await app_service.reveal(
            uow.session, st.server_secret, app.client_id, secret=SECRET in show, token=TOKEN in show
        )
    context = {
        "app": app,
        "values": values if values is not None else _app_values(app),
        "errors": errors or {},
        "scopes": _scope_choices(),
        "revealed": revealed,
        "show_secret": SECRET in show,
        "show_token": TOKEN in show,
        "shown_once": bool(once) and show == once,
        "key_auth": app.token_endpoint_auth_method == PRIVATE_KEY_JWT,
        "key_ids": _key_ids(app),
        "has_test_token": await app_service.has_test_token(uow.session, app.client_id),
        "webhook_endpoints": await webhooks.list_endpoints(
            uow.session, st.server_secret, app_id=app.client_id
        ),
        "webhook_deliveries": await webhooks.deliveries(uow.session, app_id=app.client_id, limit=20),
    }
    return render(request, "apps_show.html", context, status_code=status_code, headers=headers)


@router.get("/oauth2_clients", include_in_schema=False)
async def list_apps(request: Request, site: MainSite, uow: Work, user: CurrentUser) -> Response:
    return render(request, "apps_list.html", {"apps": await app_service.apps_of(uow.session, user.id)})


@router.get("/oauth2_clients/new", include_in_schema=False)
async def new_app_form(
    request: Request, site: MainSite, user: CurrentUser, scope: str | None = None, link: str | None = None
) -> Response:
    # Prefill links (?scope=a+b&link=https://…) let a platform's docs send developers here.
    known = catalogue()
    values = {
        "scopes": [s for s in parse_scope(scope) if s in known],
        "main_url": (link or "").strip()[:2000],
        "password_grant": True,
    }
    return render(request, "apps_new.html", {"values": values, "scopes": _scope_choices()})


@router.post("/oauth2_clients/new", include_in_schema=False)
async def register_app(request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser) -> Response:
    form = await checked_form(request)
    values = _form_values(form)
    public = values["public"]
    try:
        created = await app_service.register_app(
            uow.session,
            st.server_secret,
            owner=user,
            name=values["name"],
            name_in_space=values["name_in_space"] or None,
            main_url=values["main_url"],
            redirect_uris=_lines(values["redirect_uris"]),
            scopes=values["scopes"],
            # Public apps cannot use the password grant: the form just turns it off.
            password_grant=values["password_grant"] and not public,
            public=public,
            allow_redirect_query=values["allow_redirect_query"],
            require_pkce=values["require_pkce"],
            access_token_ttl=values["access_token_ttl"],
            jwt_access_tokens=values["jwt_access_tokens"],
            dpop_required=values["dpop_required"],
            par_required=values["par_required"],
            fapi2=values["fapi2"],
            client_credentials=values["client_credentials"] and not public,
            post_logout_redirect_uris=_lines(values["post_logout_redirect_uris"]),
            backchannel_logout_uri=values["backchannel_logout_uri"],
            **_key_values(values, public=public),
        )
    except FieldError as exc:
        return render(
            request,
            "apps_new.html",
            {"values": values, "errors": {exc.field: exc.message}, "scopes": _scope_choices()},
            status_code=422,
        )
    app = created.app
    await _grant_reveal_once(request, uow, app, SECRET, TOKEN)
    return _see_other(request, _app_url(app), f"Registered {app.name}.")


@router.get("/oauth2_clients/{client_id}", include_in_schema=False)
async def show_app(
    request: Request, client_id: str, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    app = await _owned_app(uow, user, client_id)
    return await _show(request, st, uow, app, reveal_once=True)


@router.post("/oauth2_clients/{client_id}", include_in_schema=False)
async def update_app(
    request: Request, client_id: str, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    form = await checked_form(request)
    app = await _owned_app(uow, user, client_id)
    values = _form_values(form)
    values["public"] = app.public  # fixed at registration
    changes: dict[str, Any] = {
        "name": values["name"],
        "name_in_space": values["name_in_space"] or None,
        "main_url": values["main_url"],
        "redirect_uris": _lines(values["redirect_uris"]),
        "scopes": values["scopes"],
        "allow_redirect_query": values["allow_redirect_query"],
        "require_pkce": values["require_pkce"],
        "access_token_ttl": values["access_token_ttl"],
        "jwt_access_tokens": values["jwt_access_tokens"],
        "dpop_required": values["dpop_required"],
        "par_required": values["par_required"],
        "fapi2": values["fapi2"],
        "post_logout_redirect_uris": _lines(values["post_logout_redirect_uris"]),
        "backchannel_logout_uri": values["backchannel_logout_uri"],
    }
    if not app.public:
        changes["password_grant"] = values["password_grant"]
        changes["client_credentials"] = values["client_credentials"]
        changes |= _key_values(values, public=False)
    try:
        await app_service.update_app(uow.session, app.client_id, **changes)
    except FieldError as exc:  # raised before anything changed
        return await _show(
            request, st, uow, app, values=values, errors={exc.field: exc.message}, status_code=422
        )
    return _see_other(request, _app_url(app), "Settings saved.")


@router.post("/oauth2_clients/{client_id}/reveal", include_in_schema=False)
async def confirm_password(
    request: Request, client_id: str, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    form = await checked_form(request)
    app = await _owned_app(uow, user, client_id)
    # The same failure counters as the login form: this form is no cheaper password oracle.
    keys = {"account": accounts.email_key(user.email), "address": request.state.client_ip}

    async def again(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
        return await _show(
            request, st, uow, app, errors={"password": message}, status_code=status, headers=headers
        )

    wait = await st.rules.login.attempt(keys)
    if wait is not None:
        return await again(
            Text(N_("Too many failed attempts. Try again in {wait}."), wait=wait_in_words(wait)),
            429,
            {"Retry-After": str(wait)},
        )
    try:
        found = await accounts.check_credentials(
            uow.session, st.passwords, email=user.email, password=form_str(form, "password")
        )
    except HashingBusy:
        return await again(N_("The server is busy; try again in a moment."), 503, {"Retry-After": "1"})
    session = _login_session(request)
    if found is None or found.id != user.id or session is None:
        await st.rules.login.failed(keys)
        return await again(N_("Wrong password."), 401)
    await st.rules.login.succeeded(keys)
    await uow.storage.update_session(session.id, reauthenticated_at=utcnow())
    return _see_other(request, _app_url(app))


@router.post("/oauth2_clients/{client_id}/secret", include_in_schema=False)
async def new_secret(
    request: Request, client_id: str, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    form = await checked_form(request)
    app = await _owned_app(uow, user, client_id)
    if not app.public and form_str(form, "confirm") != "1":
        return _see_other(
            request,
            _app_url(app),
            "Tick the box to confirm that you want a new client secret (the old one stops working).",
        )
    try:
        await app_service.regenerate_secret(
            uow.session, st.server_secret, app.client_id, by=user.id, ip=request.state.client_ip
        )
    except FieldError as exc:
        return _see_other(request, _app_url(app), exc.message)
    await _grant_reveal_once(request, uow, app, SECRET)
    return _see_other(
        request, _app_url(app), "Created a new client secret; the old one no longer works. Copy it now."
    )


@router.post("/oauth2_clients/{client_id}/test_token", include_in_schema=False)
async def test_token(
    request: Request, client_id: str, site: MainSite, st: State, uow: Work, user: CurrentUser
) -> Response:
    form = await checked_form(request)
    app = await _owned_app(uow, user, client_id)
    action = form_str(form, "action")
    ip = request.state.client_ip
    if action == "revoke":
        revoked = await app_service.revoke_test_token(uow.session, app.client_id, by=user.id, ip=ip)
        return _see_other(
            request, _app_url(app), "Revoked the test token." if revoked else "There was no test token."
        )
    if action == "create":
        try:
            await app_service.recreate_test_token(
                uow.session, st.server_secret, app.client_id, by=user.id, ip=ip
            )
        except FieldError as exc:  # an app with administrative scopes only
            return _see_other(request, _app_url(app), exc.message)
        await _grant_reveal_once(request, uow, app, TOKEN)
        return _see_other(
            request, _app_url(app), "Created a new test token; any previous one is revoked. Copy it now."
        )
    raise HTTPException(400, N_("Unknown action."))


@router.post("/oauth2_clients/{client_id}/webhooks/{delivery}/resend", include_in_schema=False)
async def resend_webhook(
    request: Request, client_id: str, delivery: str, site: MainSite, uow: Work, user: CurrentUser
) -> Response:
    """ "Send again": the message is queued once more (same webhook-id) after the endpoint's queue."""
    await checked_form(request)
    app = await _owned_app(uow, user, client_id)
    try:
        await webhooks.resend(uow.session, ascii_int(delivery), app_id=app.client_id)
    except (NotFound, ValueError) as exc:
        raise HTTPException(404, N_("No such delivery.")) from exc
    return _see_other(request, _app_url(app) + "#webhooks", "Queued the delivery to be sent again.")


@router.post("/oauth2_clients/{client_id}/delete", include_in_schema=False)
async def delete_app(
    request: Request, client_id: str, site: MainSite, uow: Work, user: CurrentUser
) -> Response:
    form = await checked_form(request)
    app = await _owned_app(uow, user, client_id)
    if not app.public and form_str(form, "confirm") != "1":
        return _see_other(request, _app_url(app), "Tick the box to confirm that you want to delete the app.")
    name = app.name
    await app_service.delete_app(uow.session, app.client_id)
    return _see_other(
        request, "/oauth2_clients", Text(N_("Deleted {name} and every token it held."), name=name)
    )
