"""Secrets and the server log (checklist items 24 and 30, against a real ``frontdesk serve``
process): after a full flow, the log holds none of the tokens, codes, refresh tokens, secrets or
passwords that crossed it."""

from __future__ import annotations

import secrets
from urllib.parse import quote, quote_plus, urlencode

import pytest

from frontdesk.oauth import pkce
from tests.e2e.conftest import Server, Visitor
from tests.e2e.test_cobot_flow import REDIRECT_URI, approve, credential, register_app
from tests.support import PASSWORD

pytestmark = pytest.mark.e2e


def variants(value: str) -> set[str]:
    """The value as it could appear in a log line: raw, percent-encoded, without its prefix."""
    random_part = value.split("_", 1)[1] if value[:2] == "fd" and value[4:5] == "_" else value
    encoded = "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in random_part)
    return {value, quote(value, safe=""), quote_plus(value), random_part[:20], encoded[:20]}


@pytest.mark.rfc("6819 5.1.4.1.3")
@pytest.mark.rfc("6750 5.3")
@pytest.mark.rfc("9700 4.3.2")
@pytest.mark.checklist(24)
@pytest.mark.checklist(30)
def test_nothing_secret_in_the_server_log(server: Server) -> None:
    found: dict[str, str] = {"person password": PASSWORD}
    dev_password = "developer password " + secrets.token_hex(4)
    found["developer password"] = dev_password
    developer = Visitor(server)
    developer.signup("dev@example.com", "Dana Developer", password=dev_password)
    app = register_app(developer, "Logged App", ["read_user", "read_memberships"])
    found |= {"client secret": app.client_secret, "test token": app.test_token}
    response = developer.submit(
        "/oauth2_clients/new",
        "/oauth2_clients/new",
        {
            "name": "Refreshing App",
            "redirect_uris": REDIRECT_URI,
            "scope": ["read_user"],
            "password_grant": "1",
            "access_token_ttl": "3600",
        },
    )
    assert response.status_code == 303, response.text
    page = developer.page(response.headers["location"]).text
    ttl_id, ttl_secret = credential(page, "client-id"), credential(page, "client-secret")
    found |= {"ttl secret": ttl_secret, "ttl test token": credential(page, "test-access-token")}

    person = Visitor(server)
    person.signup("pat@example.com", "Pat Person")
    # Code flow with PKCE.
    verifier = secrets.token_urlsafe(40)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "st-log",
            "scope": "read_user",
            "code_challenge": pkce.s256(verifier),
            "code_challenge_method": "S256",
        }
    )
    code = found["code"] = approve(person, f"/oauth/authorize?{query}", "st-log")
    with server.client() as http:
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        }
        response = http.post("/oauth/access_token", data=body)
        assert response.status_code == 200, response.text
        found["code flow token"] = response.json()["access_token"]
        # The same code again, in the query string this time (a replay: refused, still not logged).
        assert http.post("/oauth/access_token?" + urlencode(body)).status_code == 400

        # The document's password grant: every parameter in the query string.
        doc = urlencode(
            {
                "scope": "read_user read_memberships",
                "grant_type": "password",
                "username": "pat@example.com",
                "password": PASSWORD,
                "client_id": app.client_id,
                "client_secret": app.client_secret,
            }
        )
        response = http.post(f"/oauth/access_token?{doc}")
        assert response.status_code == 200, response.text
        token = found["password grant token"] = response.json()["access_token"]

        # The API with ?access_token=, the header, the form body, and the token in the path.
        assert http.get(f"/api/user?access_token={token}").status_code == 200
        assert http.get("/api/user", params={"scope": "x", "access_token": token}).status_code == 200
        assert http.get("/api/user", headers={"authorization": f"Bearer {token}"}).status_code == 200
        assert http.get(f"/api/access_tokens/{token}").status_code == 200

        # Refresh tokens (an app with access_token_ttl), in the body and in the query.
        ttl = {"client_id": ttl_id, "client_secret": ttl_secret}
        response = http.post(
            "/oauth/access_token?"
            + urlencode(
                {**ttl, "grant_type": "password", "username": "pat@example.com", "password": PASSWORD}
            )
        )
        assert response.status_code == 200, response.text
        found["ttl access token"], refresh = response.json()["access_token"], response.json()["refresh_token"]
        found["refresh token"] = refresh
        response = http.post(
            "/oauth/token", data={**ttl, "grant_type": "refresh_token", "refresh_token": refresh}
        )
        assert response.status_code == 200, response.text
        rotated = found["rotated refresh token"] = response.json()["refresh_token"]
        found["refreshed access token"] = response.json()["access_token"]
        response = http.post(
            "/oauth/token?" + urlencode({**ttl, "grant_type": "refresh_token", "refresh_token": rotated})
        )
        assert response.status_code == 200, response.text
        found["refresh token 3"] = response.json()["refresh_token"]
        found["access token 3"] = response.json()["access_token"]

        # A space token (Pat's own space), then revoked through the API path.
    response = person.submit(
        "/spaces/new", "/spaces/new", {"name": "Logs", "subdomain": "logs", "custom_domain": ""}
    )
    assert response.status_code == 303, response.text
    with server.client() as http:
        response = http.post(f"/api/access_tokens/{token}/space", json={"space_id": "logs"})
        assert response.status_code == 201, response.text
        space_token = found["space token"] = response.json()["token"]
        with server.client("logs.localhost") as space_host:
            assert space_host.get(f"/api/memberships?access_token={space_token}").status_code == 200
        assert http.delete(f"/api/access_tokens/{space_token}").status_code == 204
        # Revocation and introspection with the token in the query and in the body.
        creds = {"client_id": app.client_id, "client_secret": app.client_secret}
        introspection = http.post("/oauth/introspect", data={**creds, "token": token})
        assert introspection.status_code == 200, introspection.text
        assert introspection.json()["active"] is True
        assert http.post("/oauth/introspect?" + urlencode({**creds, "token": token})).status_code == 200
        assert (
            http.post("/oauth/revoke?" + urlencode({**creds, "token": found["code flow token"]})).status_code
            == 200
        )

    # The developer sees the test token again after confirming the password, and makes a new one.
    url = f"/oauth2_clients/{app.client_id}"
    assert developer.submit(url, f"{url}/reveal", {"password": dev_password}).status_code == 303
    assert credential(developer.page(url).text, "test-access-token") == app.test_token
    assert developer.submit(url, f"{url}/test_token", {"action": "create"}).status_code == 303
    found["new test token"] = credential(developer.page(url).text, "test-access-token")
    developer.close()
    person.close()

    log = server.read_log()
    assert "POST /oauth/access_token?" in log and "GET /api/user?" in log  # the requests were logged
    assert "GET /api/access_tokens/" in log
    leaks = sorted({label for label, value in found.items() for v in variants(value) if v in log})
    assert not leaks, f"the server log shows: {leaks}"
    for prefix in ("fdat_", "fdrt_", "fdac_", "fdcs_", "fdss_"):
        for line in log.splitlines():
            if prefix in line:
                after = line.split(prefix, 1)[1]
                assert after.startswith("[redacted]"), line
