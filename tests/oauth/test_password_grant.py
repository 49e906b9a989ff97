"""The password grant, Cobot's "app flow" (RFC 6749 §4.3, project decision 4)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.oauth_support import TOKEN_URL, RegisteredApp, register_app
from tests.support import PASSWORD, Browser


def doc_request(
    app: RegisteredApp,
    username: str = "pat@example.com",
    password: str = PASSWORD,
    scope: str = "read_user read_memberships",
) -> str:
    """Exactly the document's request: every parameter in the query string of a POST."""
    return (
        TOKEN_URL
        + "?"
        + urlencode(
            {
                "scope": scope,
                "grant_type": "password",
                "username": username,
                "password": password,
                "client_id": app.client_id,
                "client_secret": app.client_secret or "",
            }
        )
    )


@pytest.mark.rfc("6749 4.3.2")
async def test_the_documents_app_flow(browser: Browser, registered: RegisteredApp, person: Any) -> None:
    response = await browser.post(doc_request(registered))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["scope"] == "read_user read_memberships"
    assert "expires_in" not in body and "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    me = await browser.get("/api/user", params={"access_token": body["access_token"]})
    assert me.json()["email"] == "pat@example.com"


async def test_form_body_and_default_scope(browser: Browser, registered: RegisteredApp, person: Any) -> None:
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "PAT@example.com",
            "password": PASSWORD,
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        },
    )
    assert response.status_code == 200 and response.json()["scope"] == "read_user read_memberships"


async def test_comma_separated_scopes_are_tolerated(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    response = await browser.post(doc_request(registered, scope="read_user,read_memberships"))
    assert response.json()["scope"] == "read_user read_memberships"


@pytest.mark.rfc("6749 5.2")
async def test_wrong_password_and_unknown_user_are_the_same_invalid_grant(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    wrong = await browser.post(doc_request(registered, password="nope"))
    unknown = await browser.post(doc_request(registered, username="ghost@example.com"))
    assert wrong.status_code == unknown.status_code == 400
    assert (
        wrong.json()
        == unknown.json()
        == {"error": "invalid_grant", "error_description": "invalid username or password"}
    )


@pytest.mark.rfc("6749 5.2")
async def test_unknown_scope(browser: Browser, registered: RegisteredApp, person: Any) -> None:
    response = await browser.post(doc_request(registered, scope="read_user bogus"))
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


@pytest.mark.rfc("6749 5.2")
async def test_apps_without_the_grant_are_unauthorized_clients(
    state: Any, db: Any, dev: Any, browser: Browser, person: Any
) -> None:
    off = await register_app(state, db, dev, name="No password", password_grant=False)
    response = await browser.post(doc_request(off))
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    public = await register_app(state, db, dev, name="Public", public=True)
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "pat@example.com",
            "password": PASSWORD,
            "client_id": public.client_id,
        },
    )
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.parametrize("settings_overrides", [{"login_failures_per_account": "3/minute"}])
async def test_failures_are_limited_before_hashing(
    app: Any, browser: Browser, registered: RegisteredApp, person: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    passwords = app.state.frontdesk.passwords
    calls = [0]
    original = passwords._verify_sync

    def counting(stored: str, password: str) -> tuple[bool, bool]:
        calls[0] += 1
        return original(stored, password)  # type: ignore[no-any-return]

    monkeypatch.setattr(passwords, "_verify_sync", counting)
    for _ in range(3):
        assert (await browser.post(doc_request(registered, password="guess"))).status_code == 400
    hashed = calls[0]
    throttled = await browser.post(doc_request(registered, password="guess"))
    assert throttled.status_code == 429 and throttled.json()["error"] == "invalid_grant"
    assert int(throttled.headers["retry-after"]) > 0
    assert calls[0] == hashed
    # The right password also waits until the window passes.
    assert (await browser.post(doc_request(registered))).status_code == 429


@pytest.mark.rfc("6749 2.3.1")
async def test_client_authentication_failures_are_limited(
    browser: Browser, registered: RegisteredApp
) -> None:
    statuses = []
    for _ in range(22):
        response = await browser.post(
            TOKEN_URL,
            data={
                "grant_type": "password",
                "username": "x",
                "password": "y",
                "client_id": registered.client_id,
                "client_secret": "bad",
            },
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429]
    assert "retry-after" in response.headers


@pytest.mark.parametrize("settings_overrides", [{"password_grant": False}])
async def test_the_password_grant_can_be_switched_off_globally(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    response = await browser.post(doc_request(registered))
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    metadata = (await browser.get("/.well-known/oauth-authorization-server")).json()
    assert "password" not in metadata["grant_types_supported"]
