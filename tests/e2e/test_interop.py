"""The document's web flow and app flow, driven by real, unmodified third-party OAuth clients.

requests-oauthlib and Authlib build the authorization URL, parse the redirect, call the token
endpoint and then the API with their own sessions, in their normal configuration. Only the
person's part (logging in, pressing Approve) is played by a plain HTTP client.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from tests.e2e.conftest import Server, Visitor, cli, form_fields, unique
from tests.support import PASSWORD

with warnings.catch_warnings():
    # Authlib 1.9 prefers its httpx2 fork and warns once when it runs on httpx, as here.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client as AuthlibHttpxClient

pytestmark = pytest.mark.e2e

REDIRECT_URI = "https://your-app.com/auth/callback"
SCOPES = ["read_user", "read_memberships"]


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str


@pytest.fixture(autouse=True)
def plain_http_on_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses a token endpoint that is not https; the test server is http://localhost.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(scope="module")
def app(server: Server) -> App:
    """Registered with the CLI, which prints the client id and secret."""
    owner = cli(server, "users", "create", "owner@example.com", "--password", PASSWORD)
    created = cli(
        server,
        "clients",
        "create",
        "Interop App",
        "--owner",
        owner["email"],
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        " ".join(SCOPES),
    )
    assert created["client_secret"] and created["test_access_token"]
    return App(created["client_id"], created["client_secret"])


@pytest.fixture
def email(server: Server) -> str:
    """A person who has never approved the app."""
    address = f"{unique('person')}@example.com"
    cli(server, "users", "create", address, "--password", PASSWORD)
    return address


def token_url(server: Server) -> str:
    return server.url() + "/oauth/access_token"


def api_user_url(server: Server) -> str:
    return server.url() + "/api/user"


def person_approves(server: Server, authorization_url: str, email: str) -> str:
    """The person's browser: open the app's URL, log in, approve; returns the callback URL."""
    with Visitor(server, urlsplit(authorization_url).hostname or "") as browser:
        response = browser.get(authorization_url)
        assert response.status_code == 303, response.text
        back = browser.login(email, page=response.headers["location"]).headers["location"]
        consent = browser.page(back).text
        fields = form_fields(consent, "/oauth/authorize")
        response = browser.http.post("/oauth/authorize", data={**fields, "decision": "approve"})
    assert response.status_code == 303, response.text
    callback = response.headers["location"]
    assert callback.startswith(REDIRECT_URI + "?")
    return callback


def recorded(session: requests.Session) -> list[requests.PreparedRequest]:
    """Every request the session sends, to check how the client authenticated."""
    sent: list[requests.PreparedRequest] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.request))
    return sent


def token_request(sent: list[Any], server: Server) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The headers and form body of the (single) token request among ``sent``."""
    found = [r for r in sent if str(r.url).startswith(token_url(server))]
    assert len(found) == 1
    body = found[0].body if hasattr(found[0], "body") else found[0].content
    text = body.decode() if isinstance(body, bytes) else (body or "")
    return dict(found[0].headers), parse_qs(text)


def assert_authenticated(method: str, headers: dict[str, str], form: dict[str, list[str]]) -> None:
    authorization = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
    if method == "client_secret_basic":
        assert authorization.startswith("Basic ")
        assert "client_secret" not in form
    else:
        assert not authorization
        assert "client_secret" in form and "client_id" in form


def assert_is_the_person(response: Any, email: str) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["email"] == email


# ---- requests-oauthlib ---------------------------------------------------------------------


@pytest.mark.rfc("6749 4.1")
@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_requests_oauthlib_web_flow(server: Server, app: App, email: str, method: str) -> None:
    session = OAuth2Session(app.client_id, redirect_uri=REDIRECT_URI, scope=SCOPES)
    sent = recorded(session)
    url, state = session.authorization_url(server.url() + "/oauth/authorize")
    callback = person_approves(server, url, email)
    # requests-oauthlib sends Basic by default; include_client_id=True puts both in the body.
    extra = {"include_client_id": True} if method == "client_secret_post" else {}
    token = session.fetch_token(
        token_url(server), client_secret=app.client_secret, authorization_response=callback, **extra
    )
    assert parse_qs(urlsplit(callback).query)["state"] == [state]
    assert token["token_type"] == "bearer"
    assert token["scope"] == SCOPES
    assert_authenticated(method, *token_request(sent, server))
    assert_is_the_person(session.get(api_user_url(server)), email)


@pytest.mark.rfc("6749 4.1")
def test_requests_oauthlib_web_flow_on_a_space_host(server: Server, app: App, email: str) -> None:
    subdomain = unique("s")[:20]
    cli(server, "spaces", "create", subdomain, "--name", "Interop Space", "--admin", email)
    session = OAuth2Session(app.client_id, redirect_uri=REDIRECT_URI, scope=SCOPES)
    url, _state = session.authorization_url(server.url(f"{subdomain}.localhost") + "/oauth/authorize")
    callback = person_approves(server, url, email)
    assert parse_qs(urlsplit(callback).query)["iss"] == [server.url(f"{subdomain}.localhost")]
    session.fetch_token(token_url(server), client_secret=app.client_secret, authorization_response=callback)
    assert_is_the_person(session.get(api_user_url(server)), email)
    # The same session reads the space's members (its host needs DNS, so by subdomain here).
    members = session.get(server.url() + f"/api/spaces/{subdomain}/memberships")
    assert members.status_code == 200, members.text
    assert [m["email"] for m in members.json()] == [email]


@pytest.mark.rfc("6749 4.3")
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_requests_oauthlib_password_flow(server: Server, app: App, email: str, method: str) -> None:
    session = OAuth2Session(client=LegacyApplicationClient(client_id=app.client_id), scope=SCOPES)
    sent = recorded(session)
    extra = {"include_client_id": True} if method == "client_secret_post" else {}
    token = session.fetch_token(
        token_url(server),
        username=email,
        password=PASSWORD,
        client_id=app.client_id,
        client_secret=app.client_secret,
        **extra,
    )
    assert token["token_type"] == "bearer"
    assert token["scope"] == SCOPES
    headers, form = token_request(sent, server)
    assert_authenticated(method, headers, form)
    assert form["grant_type"] == ["password"] and form["username"] == [email]
    assert_is_the_person(session.get(api_user_url(server)), email)


# ---- Authlib ---------------------------------------------------------------------------------


@pytest.mark.rfc("6749 4.1")
@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_requests_web_flow(server: Server, app: App, email: str, method: str) -> None:
    session = AuthlibSession(
        app.client_id,
        app.client_secret,
        scope=" ".join(SCOPES),
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method=method,
    )
    sent = recorded(session)
    url, state = session.create_authorization_url(server.url() + "/oauth/authorize")
    callback = person_approves(server, url, email)
    token = session.fetch_token(token_url(server), authorization_response=callback)
    assert parse_qs(urlsplit(callback).query)["state"] == [state]
    assert token["token_type"] == "bearer"
    assert token["scope"] == " ".join(SCOPES)
    assert_authenticated(method, *token_request(sent, server))
    assert_is_the_person(session.get(api_user_url(server)), email)


@pytest.mark.rfc("6749 4.3")
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_requests_password_flow(server: Server, app: App, email: str, method: str) -> None:
    session = AuthlibSession(
        app.client_id, app.client_secret, scope=" ".join(SCOPES), token_endpoint_auth_method=method
    )
    sent = recorded(session)
    token = session.fetch_token(token_url(server), username=email, password=PASSWORD)
    assert token["token_type"] == "bearer"
    assert token["scope"] == " ".join(SCOPES)
    headers, form = token_request(sent, server)
    assert_authenticated(method, headers, form)
    assert form["grant_type"] == ["password"]
    assert_is_the_person(session.get(api_user_url(server)), email)


@pytest.mark.rfc("6749 4.1")
@pytest.mark.rfc("6749 4.3")
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_httpx_client_web_and_password_flows(
    server: Server, app: App, email: str, method: str
) -> None:
    sent: list[httpx.Request] = []
    with AuthlibHttpxClient(
        app.client_id,
        app.client_secret,
        scope=" ".join(SCOPES),
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method=method,
        event_hooks={"request": [sent.append]},
    ) as client:
        url, _state = client.create_authorization_url(server.url() + "/oauth/authorize")
        callback = person_approves(server, url, email)
        token = client.fetch_token(token_url(server), authorization_response=callback)
        assert token["token_type"] == "bearer"
        assert_authenticated(method, *token_request(sent, server))
        assert_is_the_person(client.get(api_user_url(server)), email)
        sent.clear()
        again = client.fetch_token(token_url(server), username=email, password=PASSWORD)
        assert again["access_token"] != token["access_token"]
        assert_authenticated(method, *token_request(sent, server))
        assert_is_the_person(client.get(api_user_url(server)), email)


# ---- what a client sees when something is wrong -------------------------------------------


@pytest.mark.rfc("6749 5.2")
def test_authlib_reports_a_wrong_secret_as_invalid_client(server: Server, app: App, email: str) -> None:
    session = AuthlibSession(app.client_id, "fdcs_wrong", scope=" ".join(SCOPES))
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(token_url(server), username=email, password=PASSWORD)
    assert raised.value.error == "invalid_client"
