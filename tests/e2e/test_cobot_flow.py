"""The source document (Cobot's "OAuth Flow" page), step by step, against a real server.

Every request is the one the document shows, with ``localhost:PORT`` for www.cobot.me and
``<subdomain>.localhost:PORT`` for ``<space subdomain>.cobot.me``. A plain HTTP client plays the
person's browser (a session cookie, forms read from the pages); another plays the app.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.conftest import Server, Visitor, cli, form_fields, query_of
from tests.support import PASSWORD

pytestmark = pytest.mark.e2e

REDIRECT_URI = "https://your-app.com/auth/callback"  # the document's example
SCOPES = "read_user read_memberships"


@dataclass(frozen=True)
class Person:
    email: str
    name: str


@dataclass(frozen=True)
class RegisteredApp:
    name: str
    client_id: str
    client_secret: str
    test_token: str


# ---- steps a person takes in the browser -------------------------------------------------------


def sign_up(server: Server, email: str, name: str) -> Person:
    with Visitor(server) as browser:
        browser.signup(email, name)
    return Person(email, name)


def logged_in(server: Server, person: Person, host: str = "localhost") -> Visitor:
    browser = Visitor(server, host)
    browser.login(person.email)
    return browser


def credential(page: str, element_id: str) -> str:
    match = re.search(rf'<code[^>]*\bid="{element_id}"[^>]*>([^<]+)</code>', page)
    assert match, f"the app page shows no {element_id}"
    return match.group(1).strip()


def register_app(developer: Visitor, name: str, scopes: list[str], name_in_space: str = "") -> RegisteredApp:
    """Fill in /oauth2_clients/new and read the credentials from the page it lands on."""
    response = developer.submit(
        "/oauth2_clients/new",
        "/oauth2_clients/new",
        {
            "name": name,
            "name_in_space": name_in_space,
            "main_url": "",
            "redirect_uris": REDIRECT_URI,
            "scope": scopes,
            "password_grant": "1",
        },
    )
    assert response.status_code == 303, response.text
    page = developer.page(response.headers["location"]).text
    return RegisteredApp(
        name=name,
        client_id=credential(page, "client-id"),
        client_secret=credential(page, "client-secret"),
        test_token=credential(page, "test-access-token"),
    )


def change_scopes_on_the_app_page(developer: Visitor, app: RegisteredApp, scopes: list[str]) -> None:
    page = f"/oauth2_clients/{app.client_id}"
    response = developer.submit(
        page,
        page,
        {
            "name": app.name,
            "name_in_space": "",
            "main_url": "",
            "redirect_uris": REDIRECT_URI,
            "scope": scopes,
            "password_grant": "1",
        },
    )
    assert response.status_code == 303, response.text


def authorize_url(origin: str, app: RegisteredApp, state: str, scope: str = SCOPES) -> str:
    """The document's URL: response_type, client_id, redirect_uri, state, space-separated scope."""
    return (
        f"{origin}/oauth/authorize?response_type=code&client_id={app.client_id}"
        f"&redirect_uri={REDIRECT_URI}&state={state}&scope={quote(scope)}"
    )


def decide(browser: Visitor, consent_page: str, decision: str) -> httpx.Response:
    """Press Approve or Deny on the consent page."""
    fields = form_fields(consent_page, "/oauth/authorize")
    return browser.http.post("/oauth/authorize", data={**fields, "decision": decision})


def back_at_the_app(response: httpx.Response, state: str, status: int = 303) -> dict[str, str]:
    """The parameters the person's browser brings back to the app's redirect URI: 303 after a
    decision on the consent page, 302 from the authorization endpoint itself."""
    assert response.status_code == status, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    params = query_of(location)
    assert params["state"] == state
    return params


def approve(browser: Visitor, url: str, state: str) -> str:
    """A logged-in person opens the authorization URL and approves; returns the code."""
    response = decide(browser, browser.page(url).text, "approve")
    return back_at_the_app(response, state)["code"]


# ---- requests the app makes --------------------------------------------------------------------


def exchange(server: Server, app: RegisteredApp, code: str) -> httpx.Response:
    """The document's token request body, byte for byte (no redirect_uri)."""
    body = (
        f"client_id={app.client_id}&client_secret={app.client_secret}"
        f"&grant_type=authorization_code&code={code}"
    )
    with server.client() as http:
        return http.post(
            "/oauth/access_token",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


def password_grant(server: Server, app: RegisteredApp, person: Person, scope: str = SCOPES) -> httpx.Response:
    """The document's app flow: a POST with every parameter in the query string."""
    url = (
        f"/oauth/access_token?scope={quote(scope)}&grant_type=password"
        f"&username={quote(person.email)}&password={quote(PASSWORD)}"
        f"&client_id={app.client_id}&client_secret={app.client_secret}"
    )
    with server.client() as http:
        return http.post(url)


def token_from(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    return str(body["access_token"])


def api(server: Server, path: str, token: str, host: str = "localhost") -> httpx.Response:
    with server.client(host) as http:
        return http.get(path, headers={"authorization": f"Bearer {token}"})


def token_scope(server: Server, token: str) -> list[str]:
    with server.client() as http:
        response = http.get(f"/api/access_tokens/{token}")
    assert response.status_code == 200, response.text
    return list(response.json()["scope"])


# ---- the cast --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def developer(server: Server) -> Iterator[Visitor]:
    """A developer who signed up through /signup and stays logged in on the main host."""
    with Visitor(server) as browser:
        browser.signup("dev@example.com", "Dana Developer")
        yield browser


@pytest.fixture(scope="module")
def desk_app(developer: Visitor) -> RegisteredApp:
    return register_app(developer, "Desk Helper", SCOPES.split(), name_in_space="Helper")


@pytest.fixture(scope="module")
def alice(server: Server) -> Person:
    """Runs two coworking spaces, ``harbour`` and ``quay``."""
    with Visitor(server) as browser:
        browser.signup("alice@example.com", "Alice Admin")
        for name, subdomain in (("Harbour Works", "harbour"), ("Quay Desks", "quay")):
            response = browser.submit(
                "/spaces/new", "/spaces/new", {"name": name, "subdomain": subdomain, "custom_domain": ""}
            )
            assert response.status_code == 303, response.text
    return Person("alice@example.com", "Alice Admin")


@pytest.fixture(scope="module")
def bob(server: Server, alice: Person) -> Person:
    """A member (not an admin) of harbour, added by Alice on harbour's members page."""
    bob = sign_up(server, "bob@example.com", "Bob Member")
    with logged_in(server, alice, "harbour.localhost") as admin:
        response = admin.submit("/admin/members", "/admin/members", {"email": bob.email, "role": "member"})
        assert response.status_code == 303, response.text
    return bob


# ---- registration ----------------------------------------------------------------------------


def test_registering_an_app_gives_a_client_id_a_secret_and_a_test_token(
    server: Server, developer: Visitor, desk_app: RegisteredApp
) -> None:
    assert desk_app.client_id and desk_app.client_secret and desk_app.test_token
    me = api(server, "/api/user", desk_app.test_token)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "dev@example.com"
    assert token_scope(server, desk_app.test_token) == SCOPES.split()


def test_the_test_token_can_be_found_again_by_clicking_the_app_name(
    server: Server, developer: Visitor, desk_app: RegisteredApp
) -> None:
    apps_page = developer.page("/oauth2_clients").text
    link = re.search(rf'<a href="([^"]+)">{desk_app.name}</a>', apps_page)
    assert link, "the oauth2_clients page does not link the app's name"
    app_page = developer.page(link.group(1)).text
    assert 'id="test-access-token"' not in app_page  # project decision 1: password first
    response = developer.submit(link.group(1), f"{link.group(1)}/reveal", {"password": PASSWORD})
    assert response.status_code == 303, response.text
    app_page = developer.page(link.group(1)).text
    assert credential(app_page, "test-access-token") == desk_app.test_token
    assert credential(app_page, "client-secret") == desk_app.client_secret


# ---- the web flow ------------------------------------------------------------------------------


@pytest.mark.rfc("6749 4.1.1")
@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.rfc("6750 2.1")
@pytest.mark.rfc("6750 2.3")
def test_web_flow_on_the_main_host(server: Server, desk_app: RegisteredApp, alice: Person) -> None:
    url = authorize_url(server.url(), desk_app, state="st-main-1")
    with Visitor(server) as browser:
        # "They will be asked to log in ..."
        response = browser.get(url)
        assert response.status_code == 303
        login_page = response.headers["location"]
        assert login_page.startswith("/login?next=")
        response = browser.login(alice.email, page=login_page)
        back = response.headers["location"]
        assert back.startswith("/oauth/authorize?")
        assert query_of(back) == query_of(url)  # the same request, after logging in
        # "... and approve your app."
        consent = browser.page(back).text
        assert "Desk Helper wants access" in consent
        assert "see your name, email address" in consent.lower()  # read_user, in words
        assert "see the members of spaces you administer" in consent.lower()  # read_memberships
        # "After that they are redirected back to your app ... code ... state"
        params = back_at_the_app(decide(browser, consent, "approve"), "st-main-1")
    assert params["iss"] == server.url()  # RFC 9207
    # "acquire an access token by sending a POST request to .../oauth/access_token"
    response = exchange(server, desk_app, params["code"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["scope"] == SCOPES
    assert "expires_in" not in body and "refresh_token" not in body  # "tokens don't expire"
    token = body["access_token"]
    # "send the token as a parameter called access_token or as a header"
    as_header = api(server, "/api/user", token)
    with server.client() as http:
        as_param = http.get("/api/user", params={"access_token": token})
    assert as_header.status_code == as_param.status_code == 200
    assert as_header.json()["email"] == as_param.json()["email"] == alice.email
    assert token_scope(server, token) == SCOPES.split()


@pytest.mark.rfc("6749 4.1.2")
def test_a_person_who_approved_before_is_sent_straight_back_with_a_code(
    server: Server, desk_app: RegisteredApp
) -> None:
    dave = sign_up(server, "dave@example.com", "Dave")
    with logged_in(server, dave) as browser:
        first = approve(browser, authorize_url(server.url(), desk_app, state="st-once"), "st-once")
        response = browser.get(authorize_url(server.url(), desk_app, state="st-again"))
        second = back_at_the_app(response, "st-again", status=302)["code"]
    assert first != second
    assert token_from(exchange(server, desk_app, second))


@pytest.mark.rfc("6749 4.1.2.1")
def test_denying_sends_access_denied_with_the_same_state(server: Server, desk_app: RegisteredApp) -> None:
    carol = sign_up(server, "carol@example.com", "Carol")  # has never approved the app
    with logged_in(server, carol) as browser:
        url = authorize_url(server.url(), desk_app, state="st-deny")
        params = back_at_the_app(decide(browser, browser.page(url).text, "deny"), "st-deny")
    assert params["error"] == "access_denied"
    assert "code" not in params
    with logged_in(server, carol) as browser:  # a refusal is not remembered as consent
        assert browser.get(url).status_code == 200


@pytest.mark.rfc("6749 4.1.1")
@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.rfc("9207 2")
def test_web_flow_on_a_space_host_uses_the_space_login_and_the_main_token_endpoint(
    server: Server, desk_app: RegisteredApp, alice: Person
) -> None:
    space_host = "harbour.localhost"
    url = authorize_url(server.url(space_host), desk_app, state="st-space")
    with Visitor(server, space_host) as browser:  # logged in on the space's host only
        response = browser.get(url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
        back = browser.login(alice.email, page=response.headers["location"]).headers["location"]
        consent_page = browser.page(back)
        consent = consent_page.text
        assert "Helper wants access in Harbour Works" in consent  # the app's name within a space
        assert "Desk Helper" not in consent
        # The app's iframe on this host may show the page; other origins may not (decision 3).
        assert consent_page.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in consent_page.headers["content-security-policy"]
        params = back_at_the_app(decide(browser, consent, "approve"), "st-space")
    assert params["iss"] == server.url(space_host)
    token = token_from(exchange(server, desk_app, params["code"]))  # at the main host
    members = api(server, "/api/memberships", token, host=space_host)
    assert members.status_code == 200, members.text
    assert alice.email in [m["email"] for m in members.json()]


@pytest.mark.rfc("6749 4.1.1")
@pytest.mark.rfc("9207 2")
def test_web_flow_on_a_space_custom_domain(server: Server, desk_app: RegisteredApp, alice: Person) -> None:
    """The document: "OAuth happens on the space's subdomain or custom domain if one is set up"."""
    with logged_in(server, alice, "quay.localhost") as admin:
        response = admin.submit(
            "/admin/settings", "/admin/settings", {"name": "Quay Desks", "custom_domain": "members.quay.test"}
        )
        assert response.status_code == 303, response.text
    custom = "members.quay.test"
    with Visitor(server, custom) as browser:
        url = authorize_url(server.url(custom), desk_app, state="st-custom")
        response = browser.get(url)
        assert response.status_code == 303
        back = browser.login(alice.email, page=response.headers["location"]).headers["location"]
        consent = browser.page(back).text
        assert "Helper wants access in Quay Desks" in consent
        params = back_at_the_app(decide(browser, consent, "approve"), "st-custom")
    assert params["iss"] == server.url(custom)
    token = token_from(exchange(server, desk_app, params["code"]))
    assert api(server, "/api/memberships", token, host=custom).status_code == 200


@pytest.mark.rfc("6749 4.1.2")
def test_without_state_the_redirect_carries_only_the_code(server: Server, desk_app: RegisteredApp) -> None:
    erin = sign_up(server, "erin@example.com", "Erin")
    url = (
        f"{server.url()}/oauth/authorize?response_type=code&client_id={desk_app.client_id}"
        f"&redirect_uri={REDIRECT_URI}&scope=read_user"
    )
    with logged_in(server, erin) as browser:
        response = decide(browser, browser.page(url).text, "approve")
    assert response.status_code == 303
    params = query_of(response.headers["location"])
    assert set(params) == {"code", "iss"}
    assert token_from(exchange(server, desk_app, params["code"]))


# ---- the app flow ------------------------------------------------------------------------------


@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.rfc("6749 5.1")
def test_password_app_flow_exactly_as_documented(
    server: Server, desk_app: RegisteredApp, alice: Person
) -> None:
    response = password_grant(server, desk_app, alice)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope"}
    assert body["token_type"] == "bearer"
    assert body["scope"] == SCOPES
    me = api(server, "/api/user", body["access_token"])
    assert me.status_code == 200
    assert me.json()["email"] == alice.email
    log = server.read_log()
    assert "grant_type=password" in log  # the request was logged ...
    assert desk_app.client_secret not in log  # ... without its secrets
    assert quote(PASSWORD) not in log and PASSWORD not in log


@pytest.mark.rfc("6749 4.3.2")
def test_password_app_flow_with_a_wrong_password_is_invalid_grant(
    server: Server, desk_app: RegisteredApp, alice: Person
) -> None:
    with server.client() as http:
        response = http.post(
            "/oauth/access_token",
            params={
                "scope": SCOPES,
                "grant_type": "password",
                "username": alice.email,
                "password": "not the password",
                "client_id": desk_app.client_id,
                "client_secret": desk_app.client_secret,
            },
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()


# ---- "If you change the scopes for a client, old tokens will still not have the added scopes" --


@pytest.mark.rfc("6749 3.3")
@pytest.mark.parametrize("where", ["app page", "cli"])
def test_old_tokens_keep_their_scopes_when_the_app_gets_more(
    server: Server, developer: Visitor, alice: Person, where: str
) -> None:
    app = register_app(developer, f"Grower via {where}", ["read_user"])
    old = token_from(password_grant(server, app, alice, scope="read_user"))
    if where == "app page":
        change_scopes_on_the_app_page(developer, app, ["read_user", "read_memberships"])
    else:
        changed = cli(server, "clients", "update", app.client_id, "--scope", "read_user read_memberships")
        assert changed["scopes"] == ["read_user", "read_memberships"]
    assert token_scope(server, old) == ["read_user"]
    assert token_scope(server, app.test_token) == ["read_user"]
    refused = api(server, "/api/spaces/harbour/memberships", old)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    new = token_from(password_grant(server, app, alice, scope="read_user read_memberships"))
    assert token_scope(server, new) == ["read_user", "read_memberships"]
    assert api(server, "/api/spaces/harbour/memberships", new).status_code == 200


# ---- space-specific tokens ------------------------------------------------------------------


def space_token(server: Server, user_token: str, space_id: str) -> httpx.Response:
    """What Cobot's own apps send: a JSON body and the same token as bearer."""
    with server.client() as http:
        return http.post(
            f"/api/access_tokens/{user_token}/space",
            json={"space_id": space_id},
            headers={"authorization": f"Bearer {user_token}"},
        )


def space_id(server: Server, subdomain: str) -> str:
    with server.client() as http:
        response = http.get(f"/api/spaces/{subdomain}")  # public: no token
    assert response.status_code == 200, response.text
    assert response.json()["subdomain"] == subdomain
    return str(response.json()["id"])


def test_an_admin_exchanges_a_user_token_for_a_space_token(
    server: Server, desk_app: RegisteredApp, alice: Person
) -> None:
    user_token = token_from(password_grant(server, desk_app, alice))
    response = space_token(server, user_token, space_id(server, "harbour"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"] == desk_app.client_id
    assert body["scope"] == SCOPES.split()  # the same scope as the user token
    token = body["token"]
    assert token != user_token
    assert token_scope(server, token) == SCOPES.split()
    on_host = api(server, "/api/memberships", token, host="harbour.localhost")
    assert on_host.status_code == 200, on_host.text
    assert alice.email in [m["email"] for m in on_host.json()]
    assert api(server, "/api/spaces/harbour/memberships", token).status_code == 200
    # Alice administers quay too, but this token belongs to harbour.
    assert api(server, "/api/spaces/quay/memberships", user_token).status_code == 200
    assert api(server, "/api/spaces/quay/memberships", token).status_code == 403
    assert api(server, "/api/memberships", token, host="quay.localhost").status_code == 403


def test_a_space_token_can_be_asked_for_by_subdomain_in_a_form_body(
    server: Server, desk_app: RegisteredApp, alice: Person
) -> None:
    user_token = token_from(password_grant(server, desk_app, alice))
    with server.client() as http:
        response = http.post(f"/api/access_tokens/{user_token}/space", data={"space_id": "quay"})
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert api(server, "/api/memberships", token, host="quay.localhost").status_code == 200
    assert api(server, "/api/memberships", token, host="harbour.localhost").status_code == 403


def test_a_member_who_is_not_an_admin_gets_no_space_token(
    server: Server, desk_app: RegisteredApp, bob: Person
) -> None:
    user_token = token_from(password_grant(server, desk_app, bob))
    assert api(server, "/api/user", user_token).json()["memberships"][0]["space_subdomain"] == "harbour"
    response = space_token(server, user_token, space_id(server, "harbour"))
    assert response.status_code == 403, response.text
    assert "token" not in response.json()
    assert api(server, "/api/memberships", user_token, host="harbour.localhost").status_code == 403


def test_an_unknown_user_token_gets_no_space_token(server: Server) -> None:
    response = space_token(server, "fdat_" + "x" * 43, space_id(server, "harbour"))
    assert response.status_code == 401
