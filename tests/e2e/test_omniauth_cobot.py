"""omniauth_cobot against a real server, request for request as OmniAuth sends them (issue 12 §2).

What the Ruby stack does (omniauth_cobot on omniauth-oauth2 and the oauth2 gem):

* **request phase** (``/auth/cobot`` on the app): a 48-hex ``state`` kept in the session, then a
  redirect to ``<site>/oauth/authorize`` with ``client_id``, ``redirect_uri``,
  ``response_type=code``, ``scope`` and ``state``, sorted by name and form-escaped (Faraday's
  parameter encoder). ``redirect_uri`` is OmniAuth's ``callback_url``: the app's host, the
  callback path, and *the query string of the current request*. In a space, omniauth_cobot
  sends the browser to ``<subdomain>.cobot.me`` instead of www when the request carries
  ``cobot_space_subdomain``; the token endpoint stays on www.
* **callback phase** (``/auth/cobot/callback?code=…&state=…&iss=…``): ``state`` is checked, then
  the code is exchanged at www with ``redirect_uri`` = ``callback_url`` again, which now is the
  callback URL *with the query it was called with*: code, state and iss included. The oauth2
  gem 2.x authenticates with HTTP Basic; 1.4 put ``client_id``/``client_secret`` in the body.
* ``raw_info``: ``GET /api/user?access_token=…`` on www (``mode :query``); ``info`` is
  ``{email, picture}``.

``localhost:PORT`` stands for www.cobot.me and ``harbour.localhost:PORT`` for the space.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.e2e.conftest import Server, Visitor, cli, form_fields, query_of, unique

pytestmark = pytest.mark.e2e

APP_HOST = "https://coworkers.example"
CALLBACK_PATH = "/auth/cobot/callback"
SCOPE = "read_user read_memberships"


@dataclass(frozen=True)
class CobotApp:
    client_id: str
    client_secret: str


@dataclass
class OmniAuthCobot:
    """The app's side of the dance, built the way the Ruby gems build it."""

    server: Server
    app: CobotApp
    basic_auth: bool = True  # oauth2 gem 2.x; 1.4 sent the credentials in the body

    def callback_url(self, query_string: str) -> str:
        # OmniAuth::Strategy#callback_url: full_host + script_name + callback_path + query_string
        return APP_HOST + CALLBACK_PATH + (f"?{query_string}" if query_string else "")

    def request_phase(self, request_query: str = "", space: str | None = None) -> tuple[str, str]:
        """The authorization URL the app redirects to, and the state it remembers."""
        state = secrets.token_hex(24)
        params = {
            "client_id": self.app.client_id,
            "redirect_uri": self.callback_url(request_query),
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
        }
        host = f"{space}.localhost" if space else "localhost"
        return f"{self.server.url(host)}/oauth/authorize?{urlencode(sorted(params.items()))}", state

    def callback_phase(self, location: str, state: str) -> httpx.Response:
        """The browser arrives at ``location``; OmniAuth checks the state and exchanges the
        code, naming the URL it was called at (query and all) as redirect_uri."""
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == APP_HOST + CALLBACK_PATH
        params = query_of(location)
        assert params["state"] == state
        form = {"code": params["code"], "grant_type": "authorization_code"}
        form["redirect_uri"] = self.callback_url(parts.query)  # Rack's raw query_string
        headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
        if self.basic_auth:
            pair = f"{self.app.client_id}:{self.app.client_secret}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form |= {"client_id": self.app.client_id, "client_secret": self.app.client_secret}
        with self.server.client() as www:  # token_url stays on www
            return www.post("/oauth/access_token", content=urlencode(sorted(form.items())), headers=headers)

    def raw_info(self, token: str) -> httpx.Response:
        with self.server.client() as www:
            return www.get("/api/user", params={"access_token": token})


def log_in_and_approve(browser: Visitor, authorize_url: str, email: str) -> str:
    """The person's browser: the authorization URL, the login page, Approve; returns where it is
    sent back to the app."""
    response = browser.get(authorize_url)
    assert response.status_code == 303, response.text
    login = response.headers["location"]
    assert login.startswith("/login?next=")
    back = browser.login(email, page=login).headers["location"]
    consent = browser.page(back).text
    fields = form_fields(consent, "/oauth/authorize")
    approved = browser.http.post("/oauth/authorize", data={**fields, "decision": "approve"})
    assert approved.status_code == 303, approved.text
    return str(approved.headers["location"])


def register(server: Server, owner: str, *extra: str) -> CobotApp:
    data = cli(
        server,
        "clients",
        "create",
        unique("Coworkers"),
        "--owner",
        owner,
        "--redirect-uri",
        APP_HOST + CALLBACK_PATH,
        "--scope",
        SCOPE,
        *extra,
    )
    return CobotApp(data["client_id"], data["client_secret"])


@pytest.fixture(scope="module")
def people(server: Server) -> Iterator[dict[str, str]]:
    """An admin who runs the space ``harbour`` and a developer who registers the apps."""
    emails = {"admin": "ada@example.com", "dev": "dev@example.com"}
    with Visitor(server) as browser:
        browser.signup(emails["dev"], "Dev Eloper")
    with Visitor(server) as browser:
        browser.signup(emails["admin"], "Ada Admin")
    cli(server, "spaces", "create", "harbour", "--name", "Harbour Works", "--admin", emails["admin"])
    yield emails


def _signed_in(omniauth: OmniAuthCobot, token_response: httpx.Response, email: str) -> None:
    assert token_response.status_code == 200, token_response.text
    body = token_response.json()
    assert body["token_type"] == "bearer"
    info = omniauth.raw_info(body["access_token"])
    assert info.status_code == 200, info.text
    user = info.json()
    assert user["email"] == email
    # info.picture: a URL that resolves to an image.
    picture = urlsplit(user["picture"])
    with omniauth.server.client() as www:
        image = www.get(picture.path)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/svg+xml"


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.parametrize("basic_auth", [True, False], ids=["oauth2-2.x", "oauth2-1.4"])
def test_omniauth_cobot_on_the_main_host(server: Server, people: dict[str, str], basic_auth: bool) -> None:
    omniauth = OmniAuthCobot(server, register(server, people["dev"]), basic_auth=basic_auth)
    authorize_url, state = omniauth.request_phase()  # POST /auth/cobot: no query
    with Visitor(server) as browser:
        location = log_in_and_approve(browser, authorize_url, people["admin"])
    assert set(query_of(location)) == {"code", "state", "iss"}
    _signed_in(omniauth, omniauth.callback_phase(location, state), people["admin"])


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.rfc("9207 2")
def test_omniauth_cobot_in_a_space_from_a_form_post(server: Server, people: dict[str, str]) -> None:
    """``POST /auth/cobot`` with ``cobot_space_subdomain`` in the form: the authorization happens
    on the space's host, the exchange on www, with no app setting."""
    omniauth = OmniAuthCobot(server, register(server, people["dev"]))
    authorize_url, state = omniauth.request_phase(space="harbour")
    with Visitor(server, "harbour.localhost") as browser:
        location = log_in_and_approve(browser, authorize_url, people["admin"])
    assert query_of(location)["iss"] == server.url("harbour.localhost")
    _signed_in(omniauth, omniauth.callback_phase(location, state), people["admin"])


@pytest.mark.rfc("6749 4.1.3")
def test_omniauth_cobot_in_a_space_from_a_link_with_the_subdomain_in_its_query(
    server: Server, people: dict[str, str]
) -> None:
    """``GET /auth/cobot?cobot_space_subdomain=harbour``: OmniAuth's callback URL then carries
    that query at the authorization endpoint too, which an app allows once with
    ``--allow-redirect-query`` (docs/decisions.md §8); the token endpoint needs nothing more."""
    omniauth = OmniAuthCobot(server, register(server, people["dev"], "--allow-redirect-query"))
    authorize_url, state = omniauth.request_phase("cobot_space_subdomain=harbour", space="harbour")
    with Visitor(server, "harbour.localhost") as browser:
        location = log_in_and_approve(browser, authorize_url, people["admin"])
    assert location.startswith(APP_HOST + CALLBACK_PATH + "?cobot_space_subdomain=harbour&code=")
    _signed_in(omniauth, omniauth.callback_phase(location, state), people["admin"])


@pytest.mark.rfc("6749 4.1.3")
def test_a_callback_url_that_is_not_the_one_called_is_refused(server: Server, people: dict[str, str]) -> None:
    """The same flow, but the redirect_uri sent differs in one more parameter: invalid_grant,
    and the code is burned."""
    omniauth = OmniAuthCobot(server, register(server, people["dev"]))
    authorize_url, state = omniauth.request_phase()
    with Visitor(server) as browser:
        location = log_in_and_approve(browser, authorize_url, people["admin"])
    refused = omniauth.callback_phase(location + "&utm_source=mail", state)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_grant"
    again = omniauth.callback_phase(location, state)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
