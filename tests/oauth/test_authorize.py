"""The authorization endpoint on every host (RFC 6749 §4.1.1–§4.1.2, RFC 9700, RFC 9207)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy import select

from frontdesk.oauth import pkce
from frontdesk.services import spaces
from frontdesk.store.models import AuthorizationCode
from tests.oauth_support import (
    CALLBACK,
    REDIRECT_URI_MUTATIONS,
    TOKEN_URL,
    RegisteredApp,
    assert_random_secrets,
    authorize_params,
    consent,
    get_code,
    make_user,
    query,
    register_app,
)
from tests.support import PASSWORD, Browser, csrf_from, lifespan

APP_CB = "https://app.test/cb"
CONSENT_ACTION = 'action="/oauth/authorize"'
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
CODE_PREFIX = "fdac_"
# Enough codes to see duplicates or a skewed alphabet, few enough for both databases.
CODES = 1000


async def open_authorize(b: Browser, **params: str) -> Any:
    return await b.get("/oauth/authorize", params=params)


def assert_error_page(response: Any) -> None:
    """An error shown to the person: 400 HTML, and no redirect anywhere."""
    assert response.status_code == 400, (response.status_code, response.headers.get("location"))
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "code=" not in response.text


# ---- redirect URIs (checklist items 1 and 4) ----------------------------------------------------


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.rfc("6749 3.1.2.3")
@pytest.mark.checklist(1)
@pytest.mark.parametrize("uri", REDIRECT_URI_MUTATIONS)
async def test_an_unregistered_redirect_uri_is_an_error_page(
    state: Any, db: Any, dev: Any, logged_in: Browser, new_browser: Any, uri: str
) -> None:
    """Register ``https://app.test/cb``; every mutation gets an error page and no 3xx, logged in
    or not (validation of client and redirect URI comes first)."""
    app = await register_app(state, db, dev, redirect_uris=[APP_CB])
    response = await logged_in.get("/oauth/authorize", params=authorize_params(app, redirect_uri=uri))
    assert_error_page(response)
    assert "not registered" in response.text
    anonymous = await new_browser().get("/oauth/authorize", params=authorize_params(app, redirect_uri=uri))
    assert_error_page(anonymous)
    assert "not registered" in anonymous.text


async def test_extra_query_hint(logged_in: Browser, registered: RegisteredApp) -> None:
    response = await open_authorize(
        logged_in, **authorize_params(registered, redirect_uri=CALLBACK + "?origin=x")
    )
    assert "extra query parameters" in response.text


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.rfc("6749 3.1.2.3")
@pytest.mark.rfc("8252 7.3")
@pytest.mark.checklist(1)
async def test_exact_match_loopback_ports_and_the_single_registered_uri(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    """The exact URI works; loopback URIs match on any port (RFC 8252 §7.3) and nothing else
    about them is free; with one registered URI the request may omit it (6749 §3.1.2.3), with
    several it must name one."""
    app = await register_app(state, db, dev, redirect_uris=[APP_CB])
    exact = await consent(logged_in, app, redirect_uri=APP_CB)
    assert exact.status_code == 303 and exact.headers["location"].startswith(APP_CB + "?code=")
    # Consent is on record now: the endpoint answers 302 with a code at once.
    omitted = await logged_in.get("/oauth/authorize", params=authorize_params(app, redirect_uri=None))
    assert omitted.status_code == 302 and omitted.headers["location"].startswith(APP_CB + "?code=")

    native = await register_app(
        state, db, dev, name="Native", redirect_uris=["http://127.0.0.1/cb", "http://[::1]:8080/cb"]
    )
    first = await consent(logged_in, native, redirect_uri="http://127.0.0.1:51234/cb")
    assert first.status_code == 303
    assert first.headers["location"].startswith("http://127.0.0.1:51234/cb?code=")
    for uri in ("http://127.0.0.1/cb", "http://[::1]/cb", "http://[::1]:9/cb"):
        response = await logged_in.get("/oauth/authorize", params=authorize_params(native, redirect_uri=uri))
        assert response.status_code == 302, uri
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
@pytest.mark.checklist(1)
@pytest.mark.parametrize("uri", ["http://evil@127.0.0.1:5000/cb", "http://[::1].evil.test:1/cb"])
async def test_loopback_uris_differ_in_the_port_only(
    state: Any, db: Any, dev: Any, logged_in: Browser, uri: str
) -> None:
    native = await register_app(
        state, db, dev, name="Native", redirect_uris=["http://127.0.0.1/cb", "http://[::1]/cb"]
    )
    response = await logged_in.get("/oauth/authorize", params=authorize_params(native, redirect_uri=uri))
    assert_error_page(response)


@pytest.mark.rfc("6749 4.1.2.1")
@pytest.mark.rfc("9700 4.11.2")
@pytest.mark.checklist(4)
async def test_unknown_client_or_redirect_uri_is_a_page_not_a_redirect(
    browser: Browser, logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    """Unknown or missing client, or an unregistered redirect URI: an error page, logged in or
    not, never a redirect (no open redirector)."""
    for b in (logged_in, new_browser()):
        unknown = await b.get("/oauth/authorize", params=authorize_params(registered, client_id="nope"))
        assert_error_page(unknown)
        assert "No app with this client_id" in unknown.text
        missing = await b.get("/oauth/authorize", params=authorize_params(registered, client_id=None))
        assert_error_page(missing)
        bad_uri = await b.get(
            "/oauth/authorize", params=authorize_params(registered, redirect_uri="https://evil.test/cb")
        )
        assert_error_page(bad_uri)


@pytest.mark.rfc("9700 4.11.2")
@pytest.mark.rfc("6749 4.1.2.1")
@pytest.mark.checklist(4)
async def test_other_errors_go_back_to_the_app_only_after_login(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    """scope=bogus without a session: this host's login page, never the app's redirect URI;
    the same request after logging in: 302 to the redirect URI with the error, state and iss."""
    bogus = await open_authorize(browser, **authorize_params(registered, scope="bogus"))
    assert bogus.status_code == 303
    location = bogus.headers["location"]
    assert location.startswith("/login?next=%2Foauth%2Fauthorize"), location
    assert not urlsplit(location).netloc and "app.example" not in location.split("?")[0]
    login_page = await browser.get(location)
    assert login_page.status_code == 200 and 'action="/login"' in login_page.text

    next_url = parse_qs(urlsplit(location).query)["next"][0]
    token = csrf_from(login_page.text)
    logged = await browser.post(
        "/login",
        data={"email": "pat@example.com", "password": PASSWORD, "next": next_url, "csrf_token": token},
    )
    assert logged.status_code == 303 and logged.headers["location"] == next_url
    again = await browser.get(next_url)
    assert again.status_code == 302
    assert again.headers["location"].startswith(CALLBACK + "?")
    params = query(again.headers["location"])
    assert params == {
        "error": "invalid_scope",
        "error_description": params["error_description"],
        "state": "xyz",
        "iss": "http://localhost:8000",
    }


@pytest.mark.rfc("9700 4.12")
@pytest.mark.checklist(5)
async def test_no_307_or_308_after_a_credential_post(
    browser: Browser, new_browser: Any, person: Any, registered: RegisteredApp
) -> None:
    """Login, sign-up, consent (approve and deny), failed logins and logout answer 303 (or the
    form again), never 307/308, which would make the browser post the credentials onwards."""
    signup = await new_browser().submit(
        "/signup", {"email": "new@example.com", "password": PASSWORD, "name": "New"}
    )
    assert signup.status_code == 303
    wrong = await browser.login("pat@example.com", password="wrong password")
    assert wrong.status_code == 401
    login = await browser.login("pat@example.com")
    assert login.status_code == 303
    next_login = await new_browser().submit(
        "/login?next=%2Foauth2_clients",
        {"email": "pat@example.com", "password": PASSWORD, "next": "/oauth2_clients"},
    )
    assert next_login.status_code == 303 and next_login.headers["location"] == "/oauth2_clients"
    approve = await consent(browser, registered)
    assert approve.status_code == 303 and "code" in query(approve.headers["location"])
    deny = await consent(browser, registered, decision="deny", prompt="consent", state="d")
    assert deny.status_code == 303 and query(deny.headers["location"])["error"] == "access_denied"
    logout = await browser.submit("/", {}, action="/logout")
    assert logout.status_code == 303


# ---- the answer: code, state and iss --------------------------------------------------------


@pytest.mark.rfc("6749 4.1.2")
async def test_approve_redirects_with_code_state_and_iss(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    page = await open_authorize(logged_in, **authorize_params(registered, scope="read_user"))
    assert page.status_code == 200
    assert "Test App wants access" in page.text and "Dana Developer" in page.text
    assert "see your name, email address" in page.text.lower()
    response = await consent(logged_in, registered, scope="read_user")
    assert response.status_code == 303
    assert response.headers["location"].startswith(CALLBACK + "?")
    params = query(response.headers["location"])
    assert params["code"].startswith("fdac_") and len(params["code"]) >= 5 + 43
    assert params["state"] == "xyz" and params["iss"] == "http://localhost:8000"


def raw_state(location: str) -> str | None:
    """``state`` decoded exactly once, as a client's URL parser would."""
    values = [v for k, v in parse_qsl(urlsplit(location).query, keep_blank_values=True) if k == "state"]
    assert len(values) <= 1, location
    return values[0] if values else None


@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.rfc("6749 4.1.2.1")
@pytest.mark.checklist(14)
@pytest.mark.parametrize(
    "state_value", ["a b&c=d/é%", "a b&c=d/é%+?#", "%20+%2B", "x?y#z", "😀\u200b\t", "=&=", "a" * 500]
)
async def test_state_is_echoed_exactly(
    logged_in: Browser, registered: RegisteredApp, state_value: str
) -> None:
    """The state comes back byte for byte on success, on denial and on a redirected error."""
    approved = await consent(logged_in, registered, state=state_value)
    assert approved.status_code == 303 and "code" in query(approved.headers["location"])
    assert raw_state(approved.headers["location"]) == state_value
    denied = await consent(
        logged_in,
        registered,
        decision="deny",
        state=state_value,
        scope="read_user read_memberships",
        prompt="consent",
    )
    assert denied.status_code == 303 and query(denied.headers["location"])["error"] == "access_denied"
    assert raw_state(denied.headers["location"]) == state_value
    error = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered, state=state_value, scope="bogus")
    )
    assert error.status_code == 302 and query(error.headers["location"])["error"] == "invalid_scope"
    assert raw_state(error.headers["location"]) == state_value


@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.checklist(14)
async def test_no_state_means_no_state(logged_in: Browser, registered: RegisteredApp) -> None:
    approved = await consent(logged_in, registered, state=None)
    assert approved.status_code == 303
    assert set(query(approved.headers["location"])) == {"code", "iss"}
    denied = await consent(logged_in, registered, decision="deny", state=None, prompt="consent")
    assert denied.status_code == 303
    assert set(query(denied.headers["location"])) == {"error", "error_description", "iss"}
    error = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered, state=None, scope="bogus")
    )
    assert error.status_code == 302
    assert set(query(error.headers["location"])) == {"error", "error_description", "iss"}
    # An empty state is an absent parameter (RFC 6749 §3.1): none comes back either.
    empty = await logged_in.get("/oauth/authorize", params=authorize_params(registered, state=""))
    assert empty.status_code == 302  # consent on record
    assert set(query(empty.headers["location"])) == {"code", "iss"}


@pytest.mark.rfc("6749 4.1.2.1")
async def test_deny_gives_access_denied(logged_in: Browser, registered: RegisteredApp) -> None:
    response = await consent(logged_in, registered, decision="deny", state="s1")
    assert response.status_code == 303
    params = query(response.headers["location"])
    assert params == {
        "error": "access_denied",
        "error_description": "the user denied the request",
        "state": "s1",
        "iss": "http://localhost:8000",
    }


@pytest.mark.rfc("6749 4.1.2.1")
@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "nonsense"}, "invalid_scope"),
    ],
)
async def test_other_errors_redirect(
    logged_in: Browser, registered: RegisteredApp, extra: dict[str, Any], error: str
) -> None:
    response = await open_authorize(logged_in, **authorize_params(registered, **extra))
    assert response.status_code == 302
    params = query(response.headers["location"])
    assert params["error"] == error and params["state"] == "xyz" and params["iss"] == "http://localhost:8000"


@pytest.mark.rfc("6749 3.1")
async def test_repeated_parameter(logged_in: Browser, registered: RegisteredApp) -> None:
    qs = urlencode(authorize_params(registered)) + "&scope=read_user&scope=navigation"
    response = await logged_in.get("/oauth/authorize?" + qs)
    assert response.status_code == 302 and query(response.headers["location"])["error"] == "invalid_request"


# ---- consent (checklist items 15 and 16) ---------------------------------------------------


@pytest.mark.rfc("6819 5.2.4.1")
@pytest.mark.rfc("6749 10.2")
@pytest.mark.checklist(16)
async def test_consent_is_remembered_for_the_same_or_fewer_scopes_on_the_same_host(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any, person: Any, new_browser: Any
) -> None:
    """After granting ``read_user``: the same or fewer scopes skip the page; more scopes, the
    app's default scopes, prompt=consent or another host (a space) ask again; an unregistered
    redirect URI never gets a code."""
    await get_code(logged_in, registered, scope="read_user")
    same = await open_authorize(logged_in, **authorize_params(registered, scope="read_user"))
    assert same.status_code == 302 and "code" in query(same.headers["location"])
    more = await open_authorize(logged_in, **authorize_params(registered, scope="read_user read_memberships"))
    assert more.status_code == 200 and "Approve" in more.text
    default = await open_authorize(logged_in, **authorize_params(registered))  # the app's scopes
    assert default.status_code == 200 and "Approve" in default.text
    forced = await open_authorize(
        logged_in, **authorize_params(registered, scope="read_user", prompt="consent")
    )
    assert forced.status_code == 200 and "Approve" in forced.text
    unregistered = await open_authorize(
        logged_in, **authorize_params(registered, scope="read_user", redirect_uri="https://evil.test/cb")
    )
    assert_error_page(unregistered)
    # Consent given on the main site is not consent given in a space.
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    in_space: Browser = new_browser("co-up.localhost:8000")
    assert (await in_space.login("pat@example.com")).status_code == 303
    page = await open_authorize(in_space, **authorize_params(registered, scope="read_user"))
    assert page.status_code == 200 and "Approve" in page.text


async def test_prompt_none(browser: Browser, logged_in: Browser, registered: RegisteredApp) -> None:
    response = await open_authorize(logged_in, **authorize_params(registered, prompt="none"))
    assert response.status_code == 302
    assert query(response.headers["location"])["error"] == "consent_required"


async def consent_page(b: Browser, app: RegisteredApp, **extra: str) -> tuple[dict[str, str], str]:
    """Open the consent page; its form fields (without the token) and its token."""
    page = await b.get("/oauth/authorize", params=authorize_params(app, **extra))
    assert page.status_code == 200, page.text
    form = page.text.split(CONSENT_ACTION, 1)[1]
    return {**authorize_params(app, **extra), "decision": "approve"}, csrf_from(form)


@pytest.mark.rfc("6749 10.12")
@pytest.mark.rfc("6819 4.4.1.8")
@pytest.mark.checklist(15)
async def test_consent_post_needs_the_token_bound_to_this_request(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    fields, token = await consent_page(logged_in, registered, scope="read_user")
    # No token.
    assert (await logged_in.post("/oauth/authorize", data=fields)).status_code == 403
    # A token from another session (another person's consent page for the same request).
    await make_user(state, db, "sam@example.com", name="Sam")
    other: Browser = new_browser()
    assert (await other.login("sam@example.com")).status_code == 303
    _, other_token = await consent_page(other, registered, scope="read_user")
    assert (
        await logged_in.post("/oauth/authorize", data={**fields, "csrf_token": other_token})
    ).status_code == 403
    # The same person logged in again (a new session) cannot reuse the old page's token.
    again: Browser = new_browser()
    assert (await again.login("pat@example.com")).status_code == 303
    assert (await again.post("/oauth/authorize", data={**fields, "csrf_token": token})).status_code == 403
    # A token issued for client A, used for client B (and for other scopes, state, PKCE).
    app_b = await register_app(state, db, dev, name="App B")
    for changed in (
        authorize_params(app_b, scope="read_user"),
        {"scope": "read_user read_memberships"},
        {"state": "other"},
        {"code_challenge": CHALLENGE, "code_challenge_method": "S256"},
    ):
        response = await logged_in.post("/oauth/authorize", data={**fields, **changed, "csrf_token": token})
        assert response.status_code == 403, changed
    # Another redirect URI is not even registered: the error page, no redirect.
    other_uri = {**fields, "redirect_uri": CALLBACK + "?x", "csrf_token": token}
    assert_error_page(await logged_in.post("/oauth/authorize", data=other_uri))
    # A cross-site Origin (or Sec-Fetch-Site) is refused even with the right token.
    for headers in (
        {"origin": "https://evil.test"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "null"},  # opaque origin without fetch metadata saying same-origin
        {"origin": "null", "sec-fetch-site": "cross-site"},
    ):
        response = await logged_in.post(
            "/oauth/authorize", data={**fields, "csrf_token": token}, headers=headers
        )
        assert response.status_code == 403, headers
    # GET never grants, even with every field of the approval.
    get_approve = await logged_in.get("/oauth/authorize", params={**fields, "csrf_token": token})
    assert get_approve.status_code == 200 and "Approve" in get_approve.text
    assert "location" not in get_approve.headers
    # The genuine form works.
    ok = await logged_in.post("/oauth/authorize", data={**fields, "csrf_token": token})
    assert ok.status_code == 303 and "code" in query(ok.headers["location"])


# ---- codes (checklist item 10) ---------------------------------------------------------------


async def test_codes_are_stored_as_digests_and_bound(
    logged_in: Browser, registered: RegisteredApp, db: Any, state: Any
) -> None:
    code = await get_code(logged_in, registered, scope="read_user")
    row = (await db.execute(select(AuthorizationCode))).scalar_one()
    assert row.digest != code and code not in row.digest
    assert row.app_id == registered.client_id and row.redirect_uri == CALLBACK and row.scope == "read_user"
    assert row.space_id is None and row.issuer == "http://localhost:8000"
    assert 0 < (row.expires_at - row.created_at).total_seconds() <= state.settings.code_ttl_seconds


@pytest.mark.rfc("6749 10.10")
@pytest.mark.rfc("6819 5.1.4.2.2")
@pytest.mark.checklist(10)
async def test_codes_are_random(logged_in: Browser, registered: RegisteredApp) -> None:
    """Collect many codes through the authorization endpoint (consent remembered after the
    first, so each GET answers with a fresh code)."""
    codes = [await get_code(logged_in, registered)]
    params = authorize_params(registered)
    while len(codes) < CODES:
        response = await logged_in.get("/oauth/authorize", params=params)
        assert response.status_code == 302, response.text
        codes.append(query(response.headers["location"])["code"])
    assert_random_secrets(codes, CODE_PREFIX)


# ---- CORS (checklist item 6) -------------------------------------------------------------


@pytest.mark.rfc("9700 2.6")
@pytest.mark.checklist(6)
async def test_no_cors_on_the_authorization_endpoint(
    logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    """``Origin: https://evil.test`` gets no ``Access-Control-*`` header from the authorization
    endpoint (GET, POST, preflight; logged in or not; consent page, error redirect or error
    page), while the token endpoint answers with CORS, without credentials."""
    evil = {"origin": "https://evil.test"}

    def no_cors(response: Any) -> None:
        leaked = [h for h in response.headers if h.lower().startswith("access-control-")]
        assert not leaked, leaked

    page = await logged_in.get("/oauth/authorize", params=authorize_params(registered), headers=evil)
    assert page.status_code == 200
    no_cors(page)
    error = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered, scope="x"), headers=evil
    )
    assert error.status_code == 302
    no_cors(error)
    forged = await logged_in.post("/oauth/authorize", data=authorize_params(registered), headers=evil)
    assert forged.status_code == 403
    no_cors(forged)
    preflight = await logged_in.http.options(
        "/oauth/authorize", headers={**evil, "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 405
    no_cors(preflight)
    anonymous = await new_browser().get(
        "/oauth/authorize", params={"response_type": "code", "client_id": "x"}, headers=evil
    )
    assert anonymous.status_code == 400
    no_cors(anonymous)
    token_endpoint = await logged_in.post(TOKEN_URL, data={"grant_type": "x"}, headers=evil)
    assert token_endpoint.status_code == 400
    assert token_endpoint.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in token_endpoint.headers


# ---- PKCE at the authorization endpoint (checklist items 11 and 13) ------------------------


@pytest.mark.rfc("7636 4.4.1")
@pytest.mark.checklist(11)
async def test_public_apps_must_use_pkce(state: Any, db: Any, dev: Any, logged_in: Browser) -> None:
    public = await register_app(state, db, dev, name="SPA", public=True)
    without = await open_authorize(logged_in, **authorize_params(public))
    assert without.status_code == 302 and query(without.headers["location"])["error"] == "invalid_request"
    s256 = {"code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    page = await open_authorize(logged_in, **authorize_params(public, **s256))
    assert page.status_code == 200 and "Approve" in page.text
    code = await get_code(logged_in, public, **s256)
    response = await logged_in.post(
        TOKEN_URL,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": public.client_id,
            "code_verifier": VERIFIER,
        },
    )
    assert response.status_code == 200, response.text


@pytest.mark.rfc("7636 4.2")
@pytest.mark.rfc("7636 4.3")
@pytest.mark.rfc("9700 2.1.1")
@pytest.mark.checklist(13)
async def test_only_the_s256_method_is_accepted(logged_in: Browser, registered: RegisteredApp) -> None:
    """Documented choice: S256 only. ``plain`` (explicit, or implied by a missing method,
    RFC 7636 §4.3) is ``invalid_request``, sent back to the app; so are unknown methods and
    a malformed challenge."""
    assert pkce.s256(VERIFIER) == CHALLENGE  # the RFC's own example
    for extra in (
        {"code_challenge": VERIFIER, "code_challenge_method": "plain"},
        {"code_challenge": pkce.s256("v" * 43), "code_challenge_method": "plain"},
        {"code_challenge": CHALLENGE},
        {"code_challenge": CHALLENGE, "code_challenge_method": "s256"},
        {"code_challenge": CHALLENGE, "code_challenge_method": "S512"},
        {"code_challenge": "short", "code_challenge_method": "S256"},
        {"code_challenge_method": "S256"},
    ):
        response = await open_authorize(logged_in, **authorize_params(registered, **extra))
        assert response.status_code == 302, (extra, response.text)
        params = query(response.headers["location"])
        assert params["error"] == "invalid_request" and "code" not in params, extra
        assert params["state"] == "xyz" and params["iss"] == "http://localhost:8000"


# ---- on a space host --------------------------------------------------------------------------


@pytest.fixture
async def space(state: Any, db: Any, person: Any) -> Any:
    from frontdesk.services import spaces

    return await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)


async def test_authorize_on_a_space_host(
    space: Any, registered: RegisteredApp, new_browser: Any, db: Any
) -> None:
    b: Browser = new_browser("co-up.localhost:8000")
    response = await open_authorize(b, **authorize_params(registered))
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    await b.login("pat@example.com")
    page = await open_authorize(b, **authorize_params(registered))
    assert "Space Helper wants access in Co-Up" in page.text
    location = (await consent(b, registered)).headers["location"]
    assert query(location)["iss"] == "http://co-up.localhost:8000"
    row = (await db.execute(select(AuthorizationCode))).scalar_one()
    assert row.space_id == space.id and row.issuer == "http://co-up.localhost:8000"


async def test_an_app_frame_sent_here_reloads_from_this_origin(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    framed = {"sec-fetch-dest": "iframe", "sec-fetch-site": "cross-site"}
    response = await browser.get("/oauth/authorize", params=authorize_params(registered), headers=framed)
    assert response.status_code == 200
    assert '<meta http-equiv="refresh" content="0; url=/oauth/authorize?' in response.text
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    # The reload comes from this origin: the usual login redirect.
    reloaded = await browser.get(
        "/oauth/authorize",
        params=authorize_params(registered),
        headers={"sec-fetch-dest": "iframe", "sec-fetch-site": "same-origin"},
    )
    assert reloaded.status_code == 303 and reloaded.headers["location"].startswith("/login?next=")


async def test_same_origin_posts_with_an_opaque_origin(browser: Browser, person: Any) -> None:
    # A page with Referrer-Policy: no-referrer (or a sandboxed frame) makes browsers send
    # "Origin: null" on same-origin posts.
    token = await browser.token("/login")
    data = {"email": "pat@example.com", "password": "correct horse battery staple", "csrf_token": token}
    refused = await browser.post("/login", data=data, headers={"origin": "null"})
    assert refused.status_code == 403
    ok = await browser.post("/login", data=data, headers={"origin": "null", "sec-fetch-site": "same-origin"})
    assert ok.status_code == 303


# ---- the session behind the authorization endpoint (cached per worker) ----------------------


async def test_consent_page_shows_who_is_logged_in(
    logged_in: Browser, registered: RegisteredApp, person: Any
) -> None:
    page = await open_authorize(logged_in, **authorize_params(registered))
    assert page.status_code == 200 and f'<span class="who">{person.name}</span>' in page.text


async def test_logging_out_ends_authorization_at_once(
    logged_in: Browser, registered: RegisteredApp, state: Any
) -> None:
    assert (await consent(logged_in, registered)).status_code == 303  # consent on record
    again = await open_authorize(logged_in, **authorize_params(registered))
    assert again.status_code == 302 and "code=" in again.headers["location"]
    await logged_in.submit("/", {}, action="/logout")
    after = await open_authorize(logged_in, **authorize_params(registered))
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")


async def test_another_worker_sees_a_revoked_session(
    logged_in: Browser, registered: RegisteredApp, state: Any, settings: Any, person: Any
) -> None:
    """A session revoked through one worker stops authorizing on another within a poll."""
    import asyncio

    from frontdesk.web.app import create_app

    assert (await consent(logged_in, registered)).status_code == 303
    other = create_app(settings)
    async with lifespan(other), Browser(other) as b2:
        b2.http.cookies = logged_in.http.cookies  # the same browser, another worker
        for _ in range(3):  # served from the other worker's caches from the second on
            first = await b2.get("/oauth/authorize", params=authorize_params(registered))
            assert first.status_code == 302 and "code=" in first.headers["location"]
        async with state.unit_of_work() as uow:  # "log out everywhere" through this worker
            assert await uow.storage.end_sessions_of(person.id) == 1
            await uow.commit()
        for _ in range(40):  # the invalidation reaches the other worker within a poll
            after = await b2.get("/oauth/authorize", params=authorize_params(registered))
            if after.status_code != 302:
                break
            await asyncio.sleep(0.05)
        assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")


async def test_an_expired_session_does_not_authorize(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from frontdesk.store.models import LoginSession
    from frontdesk.store.types import utcnow

    assert (await consent(logged_in, registered)).status_code == 303
    await db.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    response = await open_authorize(logged_in, **authorize_params(registered))
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_an_idle_session_is_touched_once_and_keeps_working(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import select, update

    from frontdesk.store.models import LoginSession
    from frontdesk.store.types import utcnow

    assert (await consent(logged_in, registered)).status_code == 303
    long_ago = utcnow() - timedelta(hours=1)
    await db.execute(update(LoginSession).values(last_seen_at=long_ago))
    await db.commit()
    for _ in range(3):
        response = await open_authorize(logged_in, **authorize_params(registered))
        assert response.status_code == 302 and "code=" in response.headers["location"]
    db.expire_all()
    seen = (await db.execute(select(LoginSession.last_seen_at))).scalar_one()
    assert seen > long_ago + timedelta(minutes=59)
    await open_authorize(logged_in, **authorize_params(registered))
    db.expire_all()
    # Touched once: a request within the next ten minutes writes nothing.
    assert (await db.execute(select(LoginSession.last_seen_at))).scalar_one() == seen


# ---- prompt=login and max_age (OpenID Connect Core §3.1.2.1) --------------------------------


async def _log_in_again(b: Browser, response: Any) -> Any:
    """Follow the endpoint to the login page, log in there, and come back."""
    assert response.status_code == 303 and response.headers["location"].startswith("/login?again=1&next=")
    login_page = response.headers["location"]
    page = await b.get(login_page)
    assert page.status_code == 200 and "log in again" in page.text  # shown although logged in
    next_url = query(login_page)["next"]
    back = await b.submit(
        login_page, {"email": "pat@example.com", "password": PASSWORD, "next": next_url}, action="/login"
    )
    assert back.status_code == 303 and back.headers["location"].startswith("/oauth/authorize?")
    return await b.get(back.headers["location"])


async def _session_started(db: Any) -> Any:
    from sqlalchemy import select

    from frontdesk.store.models import LoginSession

    db.expire_all()
    return (
        (
            await db.execute(
                select(LoginSession.created_at)
                .where(LoginSession.revoked_at.is_(None))
                .order_by(LoginSession.created_at.desc())
            )
        )
        .scalars()
        .first()
    )


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_prompt_login_asks_for_a_new_login_once(
    logged_in: Browser, registered: RegisteredApp, db: Any
) -> None:
    assert (await consent(logged_in, registered)).status_code == 303  # consent on record
    before = await _session_started(db)
    first = await open_authorize(logged_in, **authorize_params(registered, prompt="login"))
    done = await _log_in_again(logged_in, first)
    assert done.status_code == 302 and "code" in query(done.headers["location"])  # no second round
    assert await _session_started(db) > before  # a new session: the id_token's auth_time moves


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_max_age(logged_in: Browser, registered: RegisteredApp, db: Any) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from frontdesk.store.models import LoginSession
    from frontdesk.store.types import utcnow

    assert (await consent(logged_in, registered)).status_code == 303
    recent = await open_authorize(logged_in, **authorize_params(registered, max_age="3600"))
    assert recent.status_code == 302 and "code" in query(recent.headers["location"])
    # auth_time is when the login completed (migration 0014's authenticated_at).
    two_hours_ago = utcnow() - timedelta(hours=2)
    await db.execute(update(LoginSession).values(created_at=two_hours_ago, authenticated_at=two_hours_ago))
    await db.commit()
    old = await open_authorize(logged_in, **authorize_params(registered, max_age="3600"))
    done = await _log_in_again(logged_in, old)
    assert done.status_code == 302 and "code" in query(done.headers["location"])
    # max_age=0 means "log in now": it cannot loop either.
    zero = await open_authorize(logged_in, **authorize_params(registered, max_age="0"))
    again = await _log_in_again(logged_in, zero)
    assert again.status_code == 302 and "code" in query(again.headers["location"])


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
@pytest.mark.parametrize("value", ["-1", "soon", "1.5", "99999999999", "\u00b2"])
async def test_max_age_must_be_seconds(logged_in: Browser, registered: RegisteredApp, value: str) -> None:
    response = await open_authorize(logged_in, **authorize_params(registered, max_age=value))
    assert response.status_code == 302 and query(response.headers["location"])["error"] == "invalid_request"


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_prompt_none_with_an_old_login_is_login_required(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    assert (await consent(logged_in, registered)).status_code == 303
    response = await open_authorize(logged_in, **authorize_params(registered, prompt="none", max_age="0"))
    assert response.status_code == 302 and query(response.headers["location"])["error"] == "login_required"


async def test_the_login_after_marker_cannot_be_forged_or_reused_late(
    logged_in: Browser, registered: RegisteredApp, state: Any
) -> None:
    import time

    assert (await consent(logged_in, registered)).status_code == 303
    forged = authorize_params(registered, prompt="login", fd_login_after=f"{int(time.time()) - 60}.bogus")
    assert (await open_authorize(logged_in, **forged)).status_code == 303  # still asks to log in
    stamp = str(int(time.time()) - 3600)  # a genuine marker, but an hour old
    stale = authorize_params(
        registered,
        prompt="login",
        fd_login_after=f"{stamp}.{state.server_secret.mac('login-after|' + stamp)}",
    )
    assert (await open_authorize(logged_in, **stale)).status_code == 303


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_a_login_stamp_satisfies_only_the_request_it_was_issued_for(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    """The stamp on the way back from the login page is bound to its authorization request:
    carried over to another request (another scope here), it proves nothing."""
    assert (await consent(logged_in, registered)).status_code == 303
    asked = await open_authorize(logged_in, **authorize_params(registered, prompt="login", scope="read_user"))
    login_page = asked.headers["location"]
    stamp = query(query(login_page)["next"])["fd_login_after"]
    other = authorize_params(registered, prompt="login", scope="read_memberships", fd_login_after=stamp)
    done = await _log_in_again(logged_in, asked)  # a fresh login, after the stamp
    assert done.status_code == 302 and "code" in query(done.headers["location"])
    moved = await open_authorize(logged_in, **other)
    assert moved.status_code == 303 and moved.headers["location"].startswith("/login?again=1&next=")


async def test_an_anonymous_prompt_login_needs_only_one_login(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    first = await open_authorize(browser, **authorize_params(registered, prompt="login"))
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
    login_page = first.headers["location"]
    fields = {"email": "pat@example.com", "password": PASSWORD, "next": query(login_page)["next"]}
    back = await browser.submit(login_page, fields, action="/login")
    page = await browser.get(back.headers["location"])
    assert page.status_code == 200 and "Approve" in page.text  # the consent page, no second login
