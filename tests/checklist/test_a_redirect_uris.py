"""A. Redirect URI handling (checklist items 1–6)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from frontdesk.store.models import App
from tests.oauth_support import (
    CALLBACK,
    RegisteredApp,
    authorize_params,
    consent,
    exchange,
    get_code,
    query,
    register_app,
)
from tests.support import PASSWORD, Browser, csrf_from

APP_CB = "https://app.test/cb"
MUTATIONS = [
    "https://app.test/cb/",
    "https://app.test/cb/x",
    "https://APP.test/cb",
    "https://app.test:443/cb",
    "https://app.test/cb?x=1",
    "https://app.test/cb#f",
    "https://app.test/%63b",
    "https://app.test.evil.test/cb",
    "https://app.test@evil.test/cb",
    "https://evil.test\\@app.test/cb",
    "http://app.test/cb",
    "//evil.test",
    "javascript:alert(1)",
    "https://app.test/CB",
    "https://app.test/cb%20",
    " https://app.test/cb",
    "https://app.test./cb",
    "https://app.test/./cb",
    "https://app.test/cb/../cb",
    "https://app.test/cb;x",
    "https://app.test/cb?",
    "https://app.test/cb#",
]


def assert_error_page(response: Any, forbidden_target: str = "app.test") -> None:
    """An error shown to the person: 400 HTML, and no redirect anywhere."""
    assert response.status_code == 400, (response.status_code, response.headers.get("location"))
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "code=" not in response.text


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.rfc("6749 3.1.2.3")
@pytest.mark.parametrize("uri", MUTATIONS)
async def test_item_01_exact_redirect_uri_matching(
    state: Any, db: Any, dev: Any, logged_in: Browser, new_browser: Any, uri: str
) -> None:
    """Register ``https://app.test/cb``; every mutation gets an error page and no 3xx."""
    app = await register_app(state, db, dev, redirect_uris=[APP_CB])
    response = await logged_in.get("/oauth/authorize", params=authorize_params(app, redirect_uri=uri))
    assert_error_page(response)
    # Logged out it is the same page: validation of client and redirect URI comes first.
    anonymous = await new_browser().get("/oauth/authorize", params=authorize_params(app, redirect_uri=uri))
    assert_error_page(anonymous)


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.rfc("6749 3.1.2.3")
async def test_item_01_exact_match_loopback_ports_and_the_single_registered_uri(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    """The exact URI works; loopback URIs match on any port (RFC 8252 §7.3) and nothing else
    about them is free; with one registered URI the request may omit it (6749 §3.1.2.3)."""
    app = await register_app(state, db, dev, redirect_uris=[APP_CB])
    exact = await consent(logged_in, app, redirect_uri=APP_CB)
    assert exact.status_code in (302, 303) and exact.headers["location"].startswith(APP_CB + "?code=")
    omitted = await consent(logged_in, app, redirect_uri=None)
    assert omitted.status_code in (302, 303) and omitted.headers["location"].startswith(APP_CB + "?code=")

    native = await register_app(
        state, db, dev, name="Native", redirect_uris=["http://127.0.0.1/cb", "http://[::1]:8080/cb"]
    )
    for uri in ("http://127.0.0.1:51234/cb", "http://127.0.0.1/cb", "http://[::1]/cb", "http://[::1]:9/cb"):
        response = await consent(logged_in, native, redirect_uri=uri)
        assert response.status_code in (302, 303), uri
        assert response.headers["location"].startswith(uri + "?code="), uri
    for uri in (
        "http://127.0.0.1:51234/cb/",
        "http://127.0.0.1:51234/other",
        "https://127.0.0.1:51234/cb",
        "http://localhost:51234/cb",
        "http://127.0.0.2:51234/cb",
        "http://127.0.0.1:51234/cb?x=1",
    ):
        page = await logged_in.get("/oauth/authorize", params=authorize_params(native, redirect_uri=uri))
        assert_error_page(page)
    several = await logged_in.get("/oauth/authorize", params=authorize_params(native, redirect_uri=None))
    assert_error_page(several)


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.parametrize("uri", ["http://evil@127.0.0.1:5000/cb", "http://[::1].evil.test:1/cb"])
async def test_item_01_loopback_uris_differ_in_the_port_only(
    state: Any, db: Any, dev: Any, logged_in: Browser, uri: str
) -> None:
    native = await register_app(
        state, db, dev, name="Native", redirect_uris=["http://127.0.0.1/cb", "http://[::1]/cb"]
    )
    response = await logged_in.get("/oauth/authorize", params=authorize_params(native, redirect_uri=uri))
    assert_error_page(response)


REFUSED = [
    ("https://app.test/cb#frag", "fragment"),
    ("https://app.test/cb#", "fragment"),
    ("http://app.test/cb", "Use https"),
    ("http://10.0.0.1/cb", "Use https"),
    ("javascript:alert(1)", "javascript"),
    ("data:text/html,hi", "data"),
    ("file:///etc/passwd", "file"),
    ("vbscript:msgbox", "vbscript"),
    ("myapp:/cb", "reverse-domain"),
    ("/cb", "absolute"),
    ("//evil.test/cb", "absolute"),
    ("https://user@app.test/cb", "user information"),
    ("https:///cb", "host"),
]


@pytest.mark.rfc("6749 3.1.2")
@pytest.mark.rfc("9700 2.6")
@pytest.mark.parametrize(("uri", "message"), REFUSED)
async def test_item_02_redirect_uri_registration_rules(
    browser: Browser, db: Any, uri: str, message: str
) -> None:
    """The registration form and dynamic registration (RFC 7591) refuse fragments, plain http
    except loopback, script-capable and dotless schemes, relative URIs and user information.

    Beyond https, Frontdesk accepts reverse-domain private-use schemes (``com.example.app:/cb``)
    for native apps (RFC 8252 §7.1): a deliberate exception, tested below."""
    await browser.signup("dev@example.com")
    token = await browser.token("/oauth2_clients/new")
    form = {
        "name": "App",
        "redirect_uris": f"https://ok.test/cb\n{uri}",
        "scope": ["read_user"],
        "csrf_token": token,
    }
    response = await browser.post("/oauth2_clients/new", data=form)
    assert response.status_code in (400, 422), response.status_code
    error = re.search(r'<small class="error" id="e-redirect_uris">([^<]*)</small>', response.text)
    assert error and message.lower() in error.group(1).lower(), error and error.group(1)
    dynamic = await browser.post("/oauth/register", json={"redirect_uris": [uri]})
    assert dynamic.status_code == 400 and dynamic.json()["error"] == "invalid_redirect_uri", dynamic.text
    assert (await db.execute(select(App))).first() is None


@pytest.mark.rfc("6749 3.1.2")
@pytest.mark.rfc("9700 2.6")
async def test_item_02_several_good_redirect_uris_are_registered(browser: Browser, db: Any) -> None:
    await browser.signup("dev@example.com")
    uris = [
        "https://app.test/cb",
        "https://app.test/other?tenant=1",
        "http://localhost:3000/cb",
        "http://127.0.0.1/cb",
        "http://[::1]/cb",
        "com.example.app:/oauth",
    ]
    response = await browser.submit(
        "/oauth2_clients/new", {"name": "App", "redirect_uris": "\n".join(uris), "scope": ["read_user"]}
    )
    assert response.status_code == 303, response.text
    assert (await db.execute(select(App.redirect_uris))).scalar_one() == uris


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.rfc("6749 10.6")
async def test_item_03_code_bound_to_redirect_uri(state: Any, db: Any, dev: Any, logged_in: Browser) -> None:
    """A code obtained with ``redirect_uri=A`` is refused with B. Omitting it is accepted by
    default (project decision 7: the source document's exchange omits it); see the strict test."""
    other = "https://app.example/other"
    app = await register_app(state, db, dev, redirect_uris=[CALLBACK, other])
    code = await get_code(logged_in, app, redirect_uri=CALLBACK)
    wrong = await exchange(logged_in, app, code, redirect_uri=other)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert (await exchange(logged_in, app, code, redirect_uri=CALLBACK)).json()["error"] == "invalid_grant"
    for sent in (CALLBACK + "/", CALLBACK + "?x=1", "https://APP.example/auth/callback"):
        code = await get_code(logged_in, app, redirect_uri=CALLBACK)
        response = await exchange(logged_in, app, code, redirect_uri=sent)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant", sent
    code = await get_code(logged_in, app, redirect_uri=CALLBACK)
    assert (await exchange(logged_in, app, code, redirect_uri=CALLBACK)).status_code == 200
    code = await get_code(logged_in, app, redirect_uri=CALLBACK)
    assert (await exchange(logged_in, app, code)).status_code == 200  # decision 7


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.rfc("6749 10.6")
@pytest.mark.parametrize("settings_overrides", [{"strict_mode": True}])
async def test_item_03_code_bound_to_redirect_uri_strict_mode(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    """Strict mode: redemption with the redirect URI omitted or different → invalid_grant."""
    code = await get_code(logged_in, registered)
    omitted = await exchange(logged_in, registered, code)
    assert omitted.status_code == 400 and omitted.json()["error"] == "invalid_grant"
    code = await get_code(logged_in, registered)
    other = await exchange(logged_in, registered, code, redirect_uri="https://app.example/other")
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    code = await get_code(logged_in, registered)
    assert (
        await exchange(logged_in, registered, code, redirect_uri=registered.redirect_uri)
    ).status_code == 200


@pytest.mark.rfc("6749 4.1.3")
async def test_item_03_query_tolerant_apps_still_bind_the_path(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    """Decision 8: an app that opted in to query-tolerant matching may send its callback with
    its own extra query at both endpoints, but scheme, host and path stay bound."""
    app = await register_app(state, db, dev, allow_redirect_query=True)
    sent = CALLBACK + "?origin=%2Fdashboard"
    code = await get_code(logged_in, app, redirect_uri=sent)
    assert (await exchange(logged_in, app, code, redirect_uri=CALLBACK + "?origin=x")).status_code == 200
    code = await get_code(logged_in, app, redirect_uri=sent)
    moved = await exchange(logged_in, app, code, redirect_uri="https://app.example/elsewhere?origin=x")
    assert moved.status_code == 400 and moved.json()["error"] == "invalid_grant"


@pytest.mark.rfc("6749 4.1.2.1")
@pytest.mark.rfc("9700 4.11.2")
async def test_item_04_no_open_redirect_on_errors(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    """Unknown client or unregistered redirect URI: an error page. Other errors go back to the
    app only after the person logged in (RFC 9700 §4.11.2)."""
    unknown = await browser.get("/oauth/authorize", params=authorize_params(registered, client_id="nope"))
    assert unknown.status_code == 400 and "location" not in unknown.headers
    assert unknown.headers["content-type"].startswith("text/html")
    missing = await browser.get("/oauth/authorize", params=authorize_params(registered, client_id=None))
    assert missing.status_code == 400 and "location" not in missing.headers
    bad_uri = await browser.get(
        "/oauth/authorize", params=authorize_params(registered, redirect_uri="https://evil.test/cb")
    )
    assert bad_uri.status_code == 400 and "location" not in bad_uri.headers

    # scope=bogus without a session: this host's login page, never the app's redirect URI.
    bogus = await browser.get("/oauth/authorize", params=authorize_params(registered, scope="bogus"))
    assert bogus.status_code in (302, 303)
    location = bogus.headers["location"]
    assert location.startswith("/login?"), location
    assert not urlsplit(location).netloc and "app.example" not in location.split("?")[0]
    login_page = await browser.get(location)
    assert login_page.status_code == 200 and 'action="/login"' in login_page.text

    # The same request with a session: 302 to the redirect URI with the error, state and iss.
    next_url = parse_qs(urlsplit(location).query)["next"][0]
    token = csrf_from(login_page.text)
    logged = await browser.post(
        "/login",
        data={"email": "pat@example.com", "password": PASSWORD, "next": next_url, "csrf_token": token},
    )
    assert logged.status_code == 303
    again = await browser.get(logged.headers["location"])
    assert again.status_code == 302
    assert again.headers["location"].startswith(CALLBACK + "?")
    params = query(again.headers["location"])
    assert params["error"] == "invalid_scope" and params["state"] == "xyz"
    assert params["iss"] == "http://localhost:8000" and "code" not in params

    denied = await consent(browser, registered, decision="deny", state="st-deny")
    params = query(denied.headers["location"])
    assert params["error"] == "access_denied" and params["state"] == "st-deny" and "code" not in params


@pytest.mark.rfc("9700 4.12")
async def test_item_05_no_307_after_a_credential_post(
    browser: Browser, new_browser: Any, person: Any, registered: RegisteredApp
) -> None:
    """Login, sign-up, consent (approve and deny) and failed logins never answer 307/308."""
    signup = await new_browser().submit(
        "/signup", {"email": "new@example.com", "password": PASSWORD, "name": "New"}
    )
    assert signup.status_code in (302, 303)
    wrong = await browser.login("pat@example.com", password="wrong password")
    assert wrong.status_code not in (307, 308)
    login = await browser.login("pat@example.com")
    assert login.status_code in (302, 303)
    next_login = await new_browser().submit(
        "/login?next=%2Foauth2_clients",
        {"email": "pat@example.com", "password": PASSWORD, "next": "/oauth2_clients"},
    )
    assert next_login.status_code in (302, 303)
    approve = await consent(browser, registered)
    assert approve.status_code in (302, 303)
    deny = await consent(browser, registered, decision="deny", scope="read_user read_memberships", state="d")
    assert deny.status_code in (302, 303)
    logout = await browser.submit("/", {}, action="/logout")
    assert logout.status_code in (302, 303)


@pytest.mark.rfc("9700 2.6")
async def test_item_06_no_cors_on_the_authorization_endpoint(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    """``Origin: https://evil.test`` gets no ``Access-Control-*`` header from the authorization
    endpoint (GET, POST, preflight), while the token endpoint may answer with CORS."""
    evil = {"origin": "https://evil.test"}

    def no_cors(response: Any) -> None:
        leaked = [h for h in response.headers if h.lower().startswith("access-control-")]
        assert not leaked, leaked

    no_cors(await logged_in.get("/oauth/authorize", params=authorize_params(registered), headers=evil))
    no_cors(
        await logged_in.get("/oauth/authorize", params=authorize_params(registered, scope="x"), headers=evil)
    )
    no_cors(await logged_in.post("/oauth/authorize", data=authorize_params(registered), headers=evil))
    no_cors(
        await logged_in.http.options(
            "/oauth/authorize", headers={**evil, "access-control-request-method": "POST"}
        )
    )
    token_endpoint = await logged_in.post("/oauth/access_token", data={"grant_type": "x"}, headers=evil)
    assert token_endpoint.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in token_endpoint.headers
