"""The device authorization grant (RFC 8628) through a real ``frontdesk serve``, on SQLite and
(when FRONTDESK_TEST_DATABASE_URL is set) on PostgreSQL: a door reader asks for codes and
polls with plain HTTP; the person logs in, enters the code and approves with a plain HTTP
client too. Devices poll every second here (FRONTDESK_DEVICE_POLL_INTERVAL_SECONDS=1)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    Server,
    Visitor,
    cli,
    form_fields,
    unique,
)

pytestmark = pytest.mark.e2e

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AGENT = "DoorReader/2.1 (Linux; armv7l)"


@pytest.fixture(scope="module")
def server_settings() -> dict[str, str]:
    return {"FRONTDESK_DEVICE_POLL_INTERVAL_SECONDS": "1"}


@dataclass(frozen=True)
class Setup:
    server: Server
    email: str
    client_id: str
    subdomain: str


@pytest.fixture
def setup(target: Server) -> Setup:
    """A person with a space and a public app (a door reader has no secret), all new names."""
    email = f"{unique('door')}@example.com"
    cli(target, "users", "create", email, "--password", "correct horse battery staple")
    subdomain = unique("hub")
    cli(target, "spaces", "create", subdomain, "--name", "Hub", "--admin", email)
    app = cli(
        target,
        "clients",
        "create",
        unique("Door Reader"),
        "--owner",
        email,
        "--redirect-uri",
        "http://127.0.0.1:9/unused",
        "--scope",
        "read_user openid",
        "--public",
    )
    return Setup(target, email, app["client_id"], subdomain)


def ask(device: httpx.Client, s: Setup) -> dict[str, Any]:
    response = device.post(
        "/oauth/device_authorization",
        data={"client_id": s.client_id, "scope": "read_user openid"},
        headers={"user-agent": AGENT},
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def poll(device: httpx.Client, s: Setup, device_code: str) -> httpx.Response:
    return device.post(
        "/oauth/access_token",
        data={"grant_type": GRANT, "device_code": device_code, "client_id": s.client_id},
    )


def person_decides(s: Setup, host: str, uri: str, decision: str) -> httpx.Response:
    """Open verification_uri_complete: log in, continue with the prefilled code, decide."""
    with Visitor(s.server, host) as person:
        first = person.get(uri)
        assert first.status_code == 303, first.text
        person.login(s.email, page=first.headers["location"])
        page = person.page(uri)
        code = httpx.URL(uri).params["user_code"]
        assert f'value="{code}"' in page.text
        consent = person.http.post("/device", data={**form_fields(page.text, "/device"), "user_code": code})
        assert consent.status_code == 200, consent.text
        assert AGENT in consent.text
        assert "Only continue if you started this yourself" in consent.text
        fields = form_fields(consent.text, "/device/decide")
        return person.http.post("/device/decide", data={**fields, "decision": decision})


@pytest.mark.rfc("8628 3.4")
@pytest.mark.rfc("8628 3.5")
def test_a_door_reader_gets_a_token_once(setup: Setup) -> None:
    s = setup
    with s.server.client() as device:
        codes = ask(device, s)
        assert codes["interval"] == 1
        assert codes["verification_uri"] == f"{s.server.base}/device"
        pending = poll(device, s, codes["device_code"])
        assert pending.status_code == 400
        assert pending.json()["error"] == "authorization_pending"
        # At once again: slow_down, and the interval is 6 s from now on.
        too_soon = poll(device, s, codes["device_code"])
        assert too_soon.json()["error"] == "slow_down"
        slowed_at = time.monotonic()
        done = person_decides(s, "localhost", codes["verification_uri_complete"], "approve")
        assert done.status_code == 200
        time.sleep(max(0.0, 6 - (time.monotonic() - slowed_at)))
        granted = poll(device, s, codes["device_code"])
        assert granted.status_code == 200, granted.text
        token = granted.json()
        assert token["scope"] == "read_user openid" and "id_token" in token
        me = device.get("/api/user", headers={"authorization": f"Bearer {token['access_token']}"})
        assert me.status_code == 200
        assert me.json()["email"] == s.email
        again = poll(device, s, codes["device_code"])
        assert again.status_code == 400
        assert again.json()["error"] == "invalid_grant"
    assert codes["device_code"] not in s.server.read_log()


@pytest.mark.rfc("8628 3.5")
def test_a_device_for_a_space_denied(setup: Setup) -> None:
    s = setup
    host = f"{s.subdomain}.localhost"
    with s.server.client(host) as device:
        codes = ask(device, s)
        assert codes["verification_uri"] == f"{s.server.url(host)}/device"
        done = person_decides(s, host, codes["verification_uri_complete"], "deny")
        assert done.status_code == 200
        denied = poll(device, s, codes["device_code"])
        assert denied.status_code == 400
        assert denied.json()["error"] == "access_denied"


def test_a_device_for_a_space_approved_is_that_hosts(setup: Setup) -> None:
    s = setup
    host = f"{s.subdomain}.localhost"
    with s.server.client(host) as device:
        codes = ask(device, s)
        person_decides(s, host, codes["verification_uri_complete"], "approve")
        time.sleep(1)
        granted = poll(device, s, codes["device_code"])
        assert granted.status_code == 200, granted.text
        introspected = device.post(
            "/oauth/introspect", data={"token": granted.json()["access_token"], "client_id": s.client_id}
        )
        assert introspected.json()["iss"] == s.server.url(host)
