"""Sessions and logout (issue 13): the sessions page, OpenID Connect RP-initiated logout with
a real relying party (tests/accounts/relying_party.py) receiving the browser and the
back-channel logout token, and "Not you? Use another account" on the consent page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from frontdesk.email_worker import EmailWorker
from frontdesk.oauth.oidc import ID_TOKEN_TYP, sign
from frontdesk.services import backchannel
from tests.accounts.mailbox import Mailbox
from tests.accounts.relying_party import RelyingParty
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import (
    RegisteredApp,
    api_status,
    authorize_params,
    code_token,
    decide,
    make_user,
    query,
    register_app,
)
from tests.support import PASSWORD, Browser, csrf_from

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
UBUNTU_FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SESSION_ROW = re.compile(r'<tr id="session-([0-9a-f]+)" class="session">(.*?)</tr>', re.S)


@pytest.fixture
def relying_party() -> Iterator[RelyingParty]:
    party = RelyingParty()
    party.start()
    yield party
    party.stop()


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_security": "none",
        "email_from": "Frontdesk <frontdesk@example.com>",
        # The relying party listens on 127.0.0.1: a private destination, refused by default.
        "webhooks_allow_private": True,
    }


def sessions_of(page: str) -> dict[str, str]:
    """The sessions page's rows: public id -> the row's text."""
    return {public_id: html.unescape(row) for public_id, row in SESSION_ROW.findall(page)}


async def logged_in(new_browser: Any, email: str, ip: str, agent: str) -> Browser:
    b: Browser = new_browser(client_ip=ip)
    b.http.headers["user-agent"] = agent
    response = await b.login(email)
    assert response.status_code == 303, response.text
    return b


async def is_logged_in(b: Browser) -> bool:
    response = await b.get("/account")
    return response.status_code == 200


async def post_form(b: Browser, page: str, action: str, data: dict[str, str] | None = None) -> httpx.Response:
    """Submit the form of ``page`` whose action is ``action`` (with its own csrf token)."""
    shown = await b.get(page)
    assert shown.status_code == 200, shown.text
    form = shown.text.split(f'action="{action}"', 1)[1]
    return await b.post(action, data={"csrf_token": csrf_from(form), **(data or {})})


# ---- the sessions page -------------------------------------------------------------------------


async def test_the_sessions_page_lists_sessions_and_signs_one_out(
    state: Any, db: Any, new_browser: Any
) -> None:
    await make_user(state, db, "sam@example.com")
    phone = await logged_in(new_browser, "sam@example.com", "203.0.113.10", ANDROID_CHROME)
    laptop = await logged_in(new_browser, "sam@example.com", "198.51.100.20", UBUNTU_FIREFOX)
    assert 'href="/account/sessions"' in (await laptop.get("/account")).text
    page = await laptop.get("/account/sessions")
    assert page.status_code == 200
    rows = sessions_of(page.text)
    assert len(rows) == 2
    (phone_id,) = [i for i, row in rows.items() if "Chrome on Android" in row]
    (laptop_id,) = [i for i, row in rows.items() if "Firefox on Ubuntu" in row]
    assert "203.0.113.10" in rows[phone_id] and "198.51.100.20" in rows[laptop_id]
    assert "This device" in rows[laptop_id] and "This device" not in rows[phone_id]
    assert "unknown" in rows[phone_id]  # no GeoIP database configured
    # The page names sessions by their public ids, never by the cookie's secret.
    cookie = next(v for k, v in laptop.http.cookies.items() if k.endswith("frontdesk_session"))
    assert cookie not in page.text and state.server_secret.digest(cookie) not in page.text

    ended = await post_form(laptop, "/account/sessions", f"/account/sessions/{phone_id}/end")
    assert ended.status_code == 303
    assert ended.headers["location"] == "/account/sessions"
    # The phone's cookie now gets the login page; the laptop is still signed in.
    after = await phone.get("/account")
    assert after.status_code == 303
    assert after.headers["location"].startswith("/login")
    assert await is_logged_in(laptop)
    assert list(sessions_of((await laptop.get("/account/sessions")).text)) == [laptop_id]
    # Someone else's (or an ended) session cannot be ended through this page.
    token = csrf_from((await laptop.get("/account/sessions")).text)
    again = await laptop.post(f"/account/sessions/{phone_id}/end", data={"csrf_token": token})
    assert again.status_code == 404


async def test_sign_out_everywhere_else_keeps_this_browser(state: Any, db: Any, new_browser: Any) -> None:
    await make_user(state, db, "eve@example.com")
    one = await logged_in(new_browser, "eve@example.com", "203.0.113.11", ANDROID_CHROME)
    two = await logged_in(new_browser, "eve@example.com", "203.0.113.12", UBUNTU_FIREFOX)
    three = await logged_in(new_browser, "eve@example.com", "203.0.113.13", UBUNTU_FIREFOX)
    response = await post_form(three, "/account/sessions", "/account/sessions/end-others")
    assert response.status_code == 303
    assert not await is_logged_in(one)
    assert not await is_logged_in(two)
    assert await is_logged_in(three)


async def test_sign_out_everywhere_revokes_tokens_only_when_asked(
    state: Any, db: Any, new_browser: Any
) -> None:
    owner = await make_user(state, db, "dev@example.com")
    app = await register_app(state, db, owner)
    await make_user(state, db, "tom@example.com")
    tom = await logged_in(new_browser, "tom@example.com", "203.0.113.14", ANDROID_CHROME)
    other = await logged_in(new_browser, "tom@example.com", "203.0.113.15", UBUNTU_FIREFOX)
    token = (await code_token(tom, app))["access_token"]

    response = await post_form(tom, "/account/sessions", "/account/sessions/end-all")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert not await is_logged_in(tom)
    assert not await is_logged_in(other)
    assert await api_status(tom, token) == 200  # not asked: the app keeps its access

    assert (await tom.login("tom@example.com")).status_code == 303
    response = await post_form(tom, "/account/sessions", "/account/sessions/end-all", {"revoke_tokens": "1"})
    assert response.status_code == 303
    assert not await is_logged_in(tom)
    assert await api_status(tom, token) == 401


# ---- RP-initiated and back-channel logout ------------------------------------------------------


async def openid_app(state: Any, db: Any, party: RelyingParty, **extra: Any) -> RegisteredApp:
    owner = await make_user(state, db, "dev@example.com")
    return await register_app(
        state,
        db,
        owner,
        scopes="openid read_user",
        post_logout_redirect_uris=[f"{party.origin}/after-logout"],
        backchannel_logout_uri=f"{party.origin}/backchannel",
        **extra,
    )


async def claims_of(b: Browser, token: str) -> dict[str, Any]:
    """A JWT's claims once verified with the published keys (what the relying party does)."""
    keys = KeySet.import_key_set((await b.get("/jwks.json")).json())
    return dict(jwt.decode(token, keys).claims)


async def test_metadata_names_the_logout_endpoint(browser: Browser) -> None:
    doc = (await browser.get("/.well-known/openid-configuration")).json()
    assert doc["end_session_endpoint"] == "http://localhost:8000/oauth/logout"
    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True


async def test_rp_initiated_logout_ends_the_session_and_tells_the_app(
    state: Any, db: Any, browser: Browser, worker: EmailWorker, relying_party: RelyingParty
) -> None:
    app = await openid_app(state, db, relying_party)
    person = await make_user(state, db, "lea@example.com")
    assert (await browser.login("lea@example.com")).status_code == 303
    body = await code_token(browser, app, scope="openid read_user", nonce="n-1")
    id_token = body["id_token"]
    jwks = KeySet.import_key_set((await browser.get("/jwks.json")).json())
    id_claims = jwt.decode(id_token, jwks).claims
    assert isinstance(id_claims["sid"], str) and len(id_claims["sid"]) == 32

    response = await browser.get(
        "/oauth/logout",
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": f"{relying_party.origin}/after-logout",
            "state": "st-42",
        },
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location == f"{relying_party.origin}/after-logout?state=st-42"
    async with httpx.AsyncClient() as rp_browser:  # the browser arrives at the app
        assert (await rp_browser.get(location)).status_code == 200
    assert relying_party.returns == [{"state": ["st-42"]}]
    assert not await is_logged_in(browser)

    # The back-channel logout token, from the outbox: signed with the published keys.
    assert await worker.run_once() is True
    (logout_token,) = relying_party.logout_tokens
    decoded = jwt.decode(logout_token, KeySet.import_key_set((await browser.get("/jwks.json")).json()))
    assert decoded.header["typ"] == "logout+jwt"
    claims = decoded.claims
    assert claims["iss"] == "http://localhost:8000"
    assert claims["aud"] == app.client_id
    assert claims["sub"] == person.id
    assert claims["sid"] == id_claims["sid"]
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert isinstance(claims["jti"], str) and isinstance(claims["iat"], int)
    assert "nonce" not in claims


async def test_id_tokens_from_a_refresh_keep_the_sessions_sid(
    state: Any, db: Any, browser: Browser, relying_party: RelyingParty
) -> None:
    app = await openid_app(state, db, relying_party, access_token_ttl=3600)
    await make_user(state, db, "ray@example.com")
    assert (await browser.login("ray@example.com")).status_code == 303
    first = await code_token(browser, app, scope="openid read_user")
    sid = (await claims_of(browser, first["id_token"]))["sid"]
    refreshed = await browser.post(
        "/oauth/access_token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": app.client_id,
            "client_secret": app.client_secret or "",
        },
    )
    assert refreshed.status_code == 200
    assert (await claims_of(browser, refreshed.json()["id_token"]))["sid"] == sid


async def test_an_expired_hint_is_accepted(
    state: Any, db: Any, browser: Browser, relying_party: RelyingParty
) -> None:
    app = await openid_app(state, db, relying_party)
    await make_user(state, db, "kim@example.com")
    assert (await browser.login("kim@example.com")).status_code == 303
    await code_token(browser, app, scope="openid read_user")
    # An ID token of this site that expired long ago, for this session's person.
    session = (await browser.get("/account/sessions")).text
    (public_id,) = sessions_of(session)
    async with state.unit_of_work() as uow:
        signing = await uow.storage.signing_key()
        found = await uow.storage.find_session(state.server_secret.digest(_cookie(browser)))
    assert found is not None
    old = sign(
        signing,
        {
            "iss": "http://localhost:8000",
            "aud": app.client_id,
            "sub": found.user_id,
            "sid": public_id,
            "iat": 1_000_000_000,
            "exp": 1_000_000_600,
        },
        typ=ID_TOKEN_TYP,
    )
    response = await browser.get(
        "/oauth/logout",
        params={"id_token_hint": old, "post_logout_redirect_uri": f"{relying_party.origin}/after-logout"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{relying_party.origin}/after-logout"
    assert not await is_logged_in(browser)


def _cookie(b: Browser) -> str:
    return next(v for k, v in b.http.cookies.items() if k.endswith("frontdesk_session"))


async def test_an_unregistered_post_logout_redirect_uri_is_refused(
    state: Any, db: Any, browser: Browser, relying_party: RelyingParty
) -> None:
    app = await openid_app(state, db, relying_party)
    await make_user(state, db, "ned@example.com")
    assert (await browser.login("ned@example.com")).status_code == 303
    id_token = (await code_token(browser, app, scope="openid read_user"))["id_token"]
    for uri in ("https://evil.example/after-logout", f"{relying_party.origin}/after-logout/"):
        response = await browser.get(
            "/oauth/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": uri}
        )
        assert response.status_code == 400
        assert "not registered" in response.text
        assert "location" not in response.headers
    # Without the app (no hint, no client_id) no redirect is taken at all.
    response = await browser.get(
        "/oauth/logout", params={"post_logout_redirect_uri": f"{relying_party.origin}/after-logout"}
    )
    assert response.status_code == 400
    assert await is_logged_in(browser)


async def test_a_request_not_tied_to_the_session_asks_first(
    state: Any, db: Any, browser: Browser, worker: EmailWorker, relying_party: RelyingParty
) -> None:
    app = await openid_app(state, db, relying_party)
    await make_user(state, db, "ola@example.com")
    assert (await browser.login("ola@example.com")).status_code == 303
    await code_token(browser, app, scope="openid read_user")
    params = {
        "client_id": app.client_id,
        "post_logout_redirect_uri": f"{relying_party.origin}/after-logout",
        "state": "s1",
    }
    page = await browser.get("/oauth/logout", params=params)
    assert page.status_code == 200
    assert 'id="logout-confirm"' in page.text
    assert await is_logged_in(browser)  # nothing ended by the request alone
    # A forged confirmation (no anti-forgery token) ends nothing.
    forged = await browser.post("/oauth/logout", data={**params, "decision": "logout"})
    assert forged.status_code == 403
    assert await is_logged_in(browser)
    page = await browser.get("/oauth/logout", params=params)
    form = page.text.split('action="/oauth/logout"', 1)[1]
    confirmed = await browser.post(
        "/oauth/logout", data={**params, "decision": "logout", "csrf_token": csrf_from(form)}
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == f"{relying_party.origin}/after-logout?state=s1"
    assert not await is_logged_in(browser)
    assert await worker.run_once() is True
    assert len(relying_party.logout_tokens) == 1


async def test_signing_out_on_the_sessions_page_tells_the_app(
    state: Any, db: Any, new_browser: Any, worker: EmailWorker, relying_party: RelyingParty
) -> None:
    app = await openid_app(state, db, relying_party)
    await make_user(state, db, "ida@example.com")
    phone = await logged_in(new_browser, "ida@example.com", "203.0.113.16", ANDROID_CHROME)
    laptop = await logged_in(new_browser, "ida@example.com", "203.0.113.17", UBUNTU_FIREFOX)
    id_token = (await code_token(phone, app, scope="openid read_user"))["id_token"]
    phone_sid = (await claims_of(phone, id_token))["sid"]
    ended = await post_form(laptop, "/account/sessions", "/account/sessions/end-others")
    assert ended.status_code == 303
    assert await worker.run_once() is True
    (logout_token,) = relying_party.logout_tokens
    assert (await claims_of(laptop, logout_token))["sid"] == phone_sid


# ---- "Not you? Use another account" ------------------------------------------------------------


async def test_not_you_keeps_the_authorization_request(state: Any, db: Any, browser: Browser) -> None:
    owner = await make_user(state, db, "dev@example.com")
    app = await register_app(state, db, owner)
    await make_user(state, db, "first@example.com")
    second = await make_user(state, db, "second@example.com")
    assert (await browser.login("first@example.com")).status_code == 303
    consent = await browser.get("/oauth/authorize", params=authorize_params(app, state="keep-me"))
    assert consent.status_code == 200
    assert "Use another account" in consent.text
    form = consent.text.split('id="switch-account"', 1)[1].split("</form>", 1)[0]
    next_value = html.unescape(re.search(r'name="next" value="([^"]+)"', form).group(1))  # type: ignore[union-attr]
    response = await browser.post("/logout", data={"csrf_token": csrf_from(form), "next": next_value})
    assert response.status_code == 303
    login_page = response.headers["location"]
    assert login_page.startswith("/login?next=")
    assert not await is_logged_in(browser)
    # Log in as someone else from that login page: the same authorization request goes on.
    next_url = parse_qs(urlsplit(login_page).query)["next"][0]
    logged = await browser.submit(
        login_page, {"email": "second@example.com", "password": PASSWORD, "next": next_url}, action="/login"
    )
    assert logged.status_code == 303
    back = logged.headers["location"]
    assert back.startswith("/oauth/authorize?")
    consent = await browser.get(back)
    assert consent.status_code == 200
    assert "second@example.com" in consent.text
    approved = await decide(browser, consent)
    assert approved.status_code == 303
    answer = query(approved.headers["location"])
    assert answer["state"] == "keep-me" and "code" in answer
    token = await browser.post(
        "/oauth/access_token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "client_id": app.client_id,
            "client_secret": app.client_secret or "",
        },
    )
    assert token.status_code == 200
    me = await browser.get("/api/user", headers={"authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["id"] == second.id


# ---- registering the logout URIs -----------------------------------------------------------------


async def test_the_app_page_registers_the_logout_uris(browser: Browser) -> None:
    await browser.signup("dev@example.com")
    fields = {
        "name": "Logout App",
        "redirect_uris": "https://app.example/cb",
        "scope": ["read_user"],
        "post_logout_redirect_uris": "https://app.example/bye\nhttps://app.example/bye2",
        "backchannel_logout_uri": "https://app.example/backchannel",
    }
    created = await browser.submit("/oauth2_clients/new", fields)
    assert created.status_code == 303
    page = await browser.get(created.headers["location"])
    assert ">https://app.example/bye\nhttps://app.example/bye2</textarea>" in page.text
    assert 'value="https://app.example/backchannel"' in page.text
    bad = await browser.submit(
        "/oauth2_clients/new", {**fields, "backchannel_logout_uri": "https://app.example/bc#x"}
    )
    assert bad.status_code == 422
    assert "no fragment" in bad.text


async def test_dynamic_registration_takes_the_logout_uris(browser: Browser) -> None:
    response = await browser.post(
        "/oauth/register",
        json={
            "redirect_uris": ["https://app.example/cb"],
            "post_logout_redirect_uris": ["https://app.example/bye"],
            "backchannel_logout_uri": "https://app.example/backchannel",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["post_logout_redirect_uris"] == ["https://app.example/bye"]
    assert body["backchannel_logout_uri"] == "https://app.example/backchannel"
    assert body["backchannel_logout_session_required"] is True
    refused = await browser.post(
        "/oauth/register",
        json={"redirect_uris": ["https://app.example/cb"], "backchannel_logout_uri": "https://a.example/#f"},
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_client_metadata"


async def test_the_admin_api_sets_the_logout_uris(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com")
    headers = await operator.headers("admin:apps:read admin:apps:write")
    made = await operator.browser.post(
        "/api/admin/apps",
        json={
            "owner_id": dev.id,
            "name": "Bookings",
            "redirect_uris": ["https://bookings.example/cb"],
            "scopes": "openid read_user",
            "post_logout_redirect_uris": ["https://bookings.example/bye"],
            "backchannel_logout_uri": "https://bookings.example/backchannel",
        },
        headers=headers,
    )
    assert made.status_code == 201
    app = made.json()
    assert app["post_logout_redirect_uris"] == ["https://bookings.example/bye"]
    assert app["backchannel_logout_uri"] == "https://bookings.example/backchannel"
    changed = await operator.browser.http.patch(
        f"/api/admin/apps/{app['client_id']}",
        json={"post_logout_redirect_uris": [], "backchannel_logout_uri": None},
        headers=headers,
    )
    assert changed.status_code == 200
    assert changed.json()["post_logout_redirect_uris"] == []
    assert changed.json()["backchannel_logout_uri"] is None


async def test_logging_out_tells_the_app(
    state: Any, db: Any, browser: Browser, worker: EmailWorker, relying_party: RelyingParty
) -> None:
    app = await openid_app(state, db, relying_party)
    person = await make_user(state, db, "una@example.com")
    assert (await browser.login("una@example.com")).status_code == 303
    sid = (await claims_of(browser, (await code_token(browser, app, scope="openid read_user"))["id_token"]))[
        "sid"
    ]
    assert await worker.run_once() is False  # nothing queued while the session lives
    response = await browser.submit("/account", {}, action="/logout")
    assert response.status_code == 303
    assert await worker.run_once() is True
    (logout_token,) = relying_party.logout_tokens
    claims = await claims_of(browser, logout_token)
    assert (claims["sub"], claims["sid"]) == (person.id, sid)


async def test_a_private_destination_is_refused_unless_allowed(relying_party: RelyingParty) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        refused = await backchannel.deliver(
            client,
            url=f"{relying_party.origin}/backchannel",
            token="x",
            timeout_seconds=5,
            allow_private=False,
        )
        assert refused.ok is False
        assert refused.error is not None and "private" in refused.error
        assert relying_party.logout_tokens == []
        allowed = await backchannel.deliver(
            client,
            url=f"{relying_party.origin}/backchannel",
            token="x",
            timeout_seconds=5,
            allow_private=True,
        )
        assert allowed.ok is True
        assert relying_party.logout_tokens == ["x"]
