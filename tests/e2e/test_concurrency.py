"""Racing redemptions of one authorization code, and secrets kept out of the server log.

Each race runs against the default e2e server (SQLite) and, when FRONTDESK_TEST_DATABASE_URL
is set, against a second ``frontdesk serve`` on that PostgreSQL database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.conftest import (
    Server,
    Visitor,
    cli,
    form_fields,
    query_of,
    unique,
)
from tests.support import PASSWORD

pytestmark = pytest.mark.e2e

REDIRECT_URI = "https://your-app.com/auth/callback"


@dataclass(frozen=True)
class Setup:
    server: Server
    email: str
    client_id: str
    client_secret: str


@pytest.fixture
def setup(target: Server) -> Setup:
    """A person and an app of their own, with names no other test used on this database."""
    email = f"{unique('racer')}@example.com"
    cli(target, "users", "create", email, "--password", PASSWORD)
    app = cli(
        target,
        "clients",
        "create",
        unique("Racing App"),
        "--owner",
        email,
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "read_user",
    )
    return Setup(target, email, app["client_id"], app["client_secret"])


def fresh_code(s: Setup) -> str:
    """Log in and approve in a browser (consent is asked only the first time)."""
    url = (
        f"/oauth/authorize?response_type=code&client_id={s.client_id}"
        f"&redirect_uri={REDIRECT_URI}&state=race&scope=read_user"
    )
    with Visitor(s.server) as browser:
        browser.login(s.email)
        response = browser.get(url)
        if response.status_code != 302:  # no consent on record yet: the page, then the decision
            assert response.status_code == 200, response.text
            fields = form_fields(response.text, "/oauth/authorize")
            response = browser.http.post("/oauth/authorize", data={**fields, "decision": "approve"})
            assert response.status_code == 303, response.text
    params = query_of(response.headers["location"])
    assert params["state"] == "race"
    return params["code"]


def redeem(http: httpx.Client, s: Setup, code: str) -> httpx.Response:
    return http.post(
        "/oauth/access_token",
        data={
            "client_id": s.client_id,
            "client_secret": s.client_secret,
            "grant_type": "authorization_code",
            "code": code,
        },
    )


def redeem_at_once(s: Setup, code: str, threads: int) -> list[httpx.Response]:
    """``threads`` clients, connected beforehand, send the same code when a barrier opens."""
    clients = [s.server.client(timeout=30) for _ in range(threads)]
    for http in clients:
        assert http.get("/healthz").status_code == 200  # the connection is open now
    barrier = threading.Barrier(threads)
    results: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * threads

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = redeem(clients[i], s, code)
        except BaseException as exc:
            results[i] = exc

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    for http in clients:
        http.close()
    responses = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        responses.append(result)
    return responses


def api_user(server: Server, token: str) -> httpx.Response:
    with server.client() as http:
        return http.get("/api/user", headers={"authorization": f"Bearer {token}"})


@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.rfc("6749 10.5")
@pytest.mark.parametrize("threads", [2, 8])
def test_one_code_redeemed_at_the_same_moment_yields_exactly_one_token(setup: Setup, threads: int) -> None:
    code = fresh_code(setup)
    responses = redeem_at_once(setup, code, threads)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (threads - 1), [(r.status_code, r.text) for r in responses]
    (winner,) = [r for r in responses if r.status_code == 200]
    assert winner.json()["access_token"].startswith("fdat_")
    for loser in (r for r in responses if r.status_code == 400):
        assert loser.json()["error"] == "invalid_grant"
        assert "access_token" not in loser.json()
    # Whatever the race left, one more presentation of the code revokes its token (§4.1.2).
    with setup.server.client() as http:
        assert redeem(http, setup, code).json()["error"] == "invalid_grant"
    assert api_user(setup.server, winner.json()["access_token"]).status_code == 401


@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.rfc("6749 10.5")
def test_a_code_presented_again_revokes_the_token_it_issued(setup: Setup) -> None:
    code = fresh_code(setup)
    with setup.server.client() as http:
        first = redeem(http, setup, code)
        assert first.status_code == 200, first.text
        token = first.json()["access_token"]
        assert api_user(setup.server, token).status_code == 200
        again = redeem(http, setup, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert api_user(setup.server, token).status_code == 401


# ---- the server log ----------------------------------------------------------------------------


def new_app(server: Server) -> tuple[str, dict[str, str]]:
    email = f"{unique('logged')}@example.com"
    cli(server, "users", "create", email, "--password", PASSWORD)
    app = cli(
        server,
        "clients",
        "create",
        unique("Log App"),
        "--owner",
        email,
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "read_user",
    )
    return email, app


def escape_all(value: str) -> str:
    """Percent-encode every character that is not a letter or digit (legal, if unusual)."""
    return "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in value)


@pytest.mark.rfc("6750 5.3")
@pytest.mark.parametrize(
    "query",
    [
        "access_token={token}",
        "scope=x&access_token={token}",
        "access%5Ftoken={token}",
        "access%5Ftoken={escaped}",
    ],
)
def test_an_access_token_in_the_query_never_reaches_the_log(server: Server, query: str) -> None:
    email, app = new_app(server)
    token = app["test_access_token"]
    marker = unique("marker")
    with server.client() as http:
        response = http.get(f"/api/user?{query.format(token=token, escaped=escape_all(token))}&m={marker}")
        assert response.status_code == 200, response.text  # the server read the token ...
        assert response.json()["email"] == email
    log = server.read_log()
    assert marker in log  # ... and logged the request ...
    assert token.removeprefix("fdat_")[:20] not in log  # ... but not the token
    assert escape_all(token.removeprefix("fdat_"))[:20] not in log


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.parametrize(
    "names",
    [
        ("password", "client_secret"),
        ("%70assword", "client%5Fsecret"),
    ],
)
def test_password_grant_secrets_in_the_query_never_reach_the_log(
    server: Server, names: tuple[str, str]
) -> None:
    email, app = new_app(server)
    password_name, secret_name = names
    marker = unique("marker")
    with server.client() as http:
        response = http.post(
            f"/oauth/access_token?grant_type=password&username={quote(email)}"
            f"&{password_name}={quote(PASSWORD)}&client_id={app['client_id']}"
            f"&{secret_name}={escape_all(app['client_secret'])}&scope=read_user&m={marker}"
        )
        assert response.status_code == 200, response.text
    log = server.read_log()
    assert marker in log
    assert quote(PASSWORD) not in log and PASSWORD not in log
    assert app["client_secret"].removeprefix("fdcs_")[:20] not in log
    assert escape_all(app["client_secret"].removeprefix("fdcs_"))[:20] not in log
