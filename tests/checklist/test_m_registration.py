"""M. App registration and the test token (checklist item 44)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.checklist.support import api_status, bearer
from tests.oauth_support import TOKEN_URL
from tests.support import PASSWORD, Browser
from tests.web.test_apps_pages import form, register_ok, shown

CONFIRM = "Confirm your password"


@pytest.mark.rfc("9700 2.6")
@pytest.mark.rfc("9700 4.15")
async def test_item_44_test_token(browser: Browser, new_browser: Any, db: Any) -> None:
    """The test token is an ordinary user-scoped, non-expiring token of the developer with the
    app's scopes. The secret and token are shown right after registration and, later, only
    after the password is confirmed again (project decision 1 instead of "shown once"; they
    are sealed at rest, item 24). Revoking the test token → 401; a rotated secret → the old
    one is ``invalid_client``; client ids are assigned by the server."""
    await browser.signup("dev@example.com", name="Dev")
    client_id, page = await register_ok(browser, scope=["read_user"], client_id="chosen-by-me")
    assert client_id != "chosen-by-me"
    secret, token = shown(page, "client-secret"), shown(page, "test-access-token")
    assert secret and token and secret.startswith("fdcs_") and token.startswith("fdat_")
    url = f"/oauth2_clients/{client_id}"

    # A later GET shows neither, until the password is confirmed again.
    later = await browser.get(url)
    assert secret not in later.text and token not in later.text and CONFIRM in later.text
    assert secret not in (await browser.get("/oauth2_clients")).text
    assert (await browser.submit(url, {"password": "wrong"}, action=f"{url}/reveal")).status_code == 401
    assert (await browser.submit(url, {"password": PASSWORD}, action=f"{url}/reveal")).status_code == 303
    revealed = await browser.get(url)
    assert shown(revealed, "client-secret") == secret and shown(revealed, "test-access-token") == token
    assert "no-store" in revealed.headers["cache-control"]
    # Another person never sees the app, let alone its credentials.
    other: Browser = new_browser()
    await other.signup("other@example.com")
    assert (await other.get(url)).status_code == 404

    # An ordinary user token of the developer: the app's scopes, no expiry.
    me = await browser.get("/api/user", headers=bearer(token))
    assert me.status_code == 200 and me.json()["email"] == "dev@example.com"
    assert (await browser.get(f"/api/access_tokens/{token}")).json() == {"scope": ["read_user"]}
    introspection = await browser.post(
        "/oauth/introspect", data={"client_id": client_id, "client_secret": secret, "token": token}
    )
    assert introspection.status_code == 200, introspection.text
    info = introspection.json()
    assert info["active"] is True and info["client_id"] == client_id and "exp" not in info

    # Revoking it → 401.
    assert (await browser.submit(url, {"action": "revoke"}, action=f"{url}/test_token")).status_code == 303
    assert await api_status(browser, token) == 401

    # Rotating the secret → the old one is invalid_client, the new one works.
    assert (await browser.submit(url, {}, action=f"{url}/secret")).status_code == 303
    new_secret = shown(await browser.get(url), "client-secret")
    assert new_secret and new_secret != secret
    grant = {"grant_type": "password", "username": "dev@example.com", "password": PASSWORD}
    old = await browser.post(TOKEN_URL, data={**grant, "client_id": client_id, "client_secret": secret})
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    new = await browser.post(TOKEN_URL, data={**grant, "client_id": client_id, "client_secret": new_secret})
    assert new.status_code == 200, new.text


@pytest.mark.rfc("9700 4.15")
async def test_item_44_client_ids_are_server_assigned(browser: Browser) -> None:
    """Neither the registration form nor dynamic registration (RFC 7591) lets a client pick
    its id (it could collide with a user identifier, RFC 9700 §4.15)."""
    await browser.signup("dev@example.com")
    ids = []
    for _ in range(3):
        client_id, _page = await register_ok(browser, **form(client_id="dev@example.com"))
        ids.append(client_id)
    dynamic = await browser.post(
        "/oauth/register", json={"redirect_uris": ["https://spa.example/cb"], "client_id": "dev@example.com"}
    )
    assert dynamic.status_code in (201, 400)
    if dynamic.status_code == 201:
        ids.append(dynamic.json()["client_id"])
    assert len(set(ids)) == len(ids) and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
