"""``/api/admin/apps``: register, change, delete, rotate the secret with an overlap window,
list and revoke an app's tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from frontdesk.store.models import App
from frontdesk.store.types import utcnow
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import TOKEN_URL, basic, make_user, password_grant
from tests.support import Browser

APPS = "admin:apps:read admin:apps:write"


async def _create(operator: Operator, owner_id: str, **extra: Any) -> dict[str, Any]:
    made = await operator.browser.post(
        "/api/admin/apps",
        json={
            "owner_id": owner_id,
            "name": "Bookings",
            "redirect_uris": ["https://bookings.example/cb"],
            "scopes": "read_user",
            **extra,
        },
        headers=await operator.headers(APPS),
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def _client_token(b: Browser, client_id: str, secret: str) -> int:
    """The status of a client_credentials request with these credentials."""
    response = await b.post(
        TOKEN_URL, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    return response.status_code


async def test_register_change_and_delete(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    app = await _create(operator, dev.id, client_credentials=True)
    assert app["client_secret"].startswith("fdcs_")
    assert app["client_credentials"] is True
    assert app["registered_via"] == "api"
    b = operator.browser
    headers = await operator.headers(APPS)
    assert await _client_token(b, app["client_id"], app["client_secret"]) == 200
    got = await b.get(f"/api/admin/apps/{app['client_id']}", headers=headers)
    assert "client_secret" not in got.json()
    changed = await b.http.patch(
        f"/api/admin/apps/{app['client_id']}",
        json={"name": "Bookings 2", "admin_scopes": "admin:audit:read"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["admin_scopes"] == ["admin:audit:read"]
    bad = await b.http.patch(
        f"/api/admin/apps/{app['client_id']}", json={"admin_scopes": "read_user"}, headers=headers
    )
    assert bad.status_code == 400
    listed = await b.get("/api/admin/apps", headers=headers)
    assert app["client_id"] in [a["client_id"] for a in listed.json()["apps"]]
    assert (await b.delete(f"/api/admin/apps/{app['client_id']}", headers=headers)).status_code == 204
    assert (await b.get(f"/api/admin/apps/{app['client_id']}", headers=headers)).status_code == 404
    assert await _client_token(b, app["client_id"], app["client_secret"]) == 401


async def test_a_public_app_gets_no_client_credentials(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    response = await operator.browser.post(
        "/api/admin/apps",
        json={
            "owner_id": dev.id,
            "name": "SPA",
            "redirect_uris": ["https://spa.example/cb"],
            "scopes": "read_user",
            "public": True,
            "admin_scopes": "admin:users:read",
        },
        headers=await operator.headers(APPS),
    )
    assert response.status_code == 400


async def test_rotation_with_overlap_keeps_the_old_secret_until_it_expires(
    operator: Operator, state: Any, db: Any
) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    app = await _create(operator, dev.id, client_credentials=True)
    b = operator.browser
    old = app["client_secret"]
    rotated = await b.post(
        f"/api/admin/apps/{app['client_id']}/secret",
        json={"overlap_seconds": 3600},
        headers=await operator.headers(APPS),
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert new != old
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert rotated.headers["cache-control"] == "no-store"
    assert await _client_token(b, app["client_id"], new) == 200
    assert await _client_token(b, app["client_id"], old) == 200
    # The window closes (as it would an hour later).
    await db.execute(
        update(App)
        .where(App.client_id == app["client_id"])
        .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    assert await _client_token(b, app["client_id"], old) == 401
    assert await _client_token(b, app["client_id"], new) == 200


async def test_rotation_without_overlap_stops_the_old_secret_at_once(
    operator: Operator, state: Any, db: Any
) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    app = await _create(operator, dev.id, client_credentials=True)
    b = operator.browser
    # Used once, so a cache holds the client as it was.
    assert await _client_token(b, app["client_id"], app["client_secret"]) == 200
    rotated = await b.post(
        f"/api/admin/apps/{app['client_id']}/secret", json={}, headers=await operator.headers(APPS)
    )
    assert rotated.json()["previous_secret_expires_at"] is None
    assert await _client_token(b, app["client_id"], app["client_secret"]) == 401
    assert await _client_token(b, app["client_id"], rotated.json()["client_secret"]) == 200


async def test_rotating_twice_drops_the_first_secret(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    app = await _create(operator, dev.id, client_credentials=True)
    b = operator.browser
    headers = await operator.headers(APPS)
    url = f"/api/admin/apps/{app['client_id']}/secret"
    second = (await b.post(url, json={"overlap_seconds": 600}, headers=headers)).json()["client_secret"]
    third = (await b.post(url, json={"overlap_seconds": 600}, headers=headers)).json()["client_secret"]
    assert await _client_token(b, app["client_id"], app["client_secret"]) == 401
    assert await _client_token(b, app["client_id"], second) == 200
    assert await _client_token(b, app["client_id"], third) == 200


async def test_overlap_is_bounded(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    app = await _create(operator, dev.id)
    response = await operator.browser.post(
        f"/api/admin/apps/{app['client_id']}/secret",
        json={"overlap_seconds": 10_000_000},
        headers=await operator.headers(APPS),
    )
    assert response.status_code == 400


async def test_list_and_revoke_an_apps_tokens(
    operator: Operator, state: Any, db: Any, new_browser: Any
) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    await make_user(state, db, "pat@example.com", "Pat")
    app = await _create(operator, dev.id)
    from tests.oauth_support import RegisteredApp

    registered = RegisteredApp(app["client_id"], app["client_secret"], "", "https://bookings.example/cb")
    person = new_browser()
    token = (await password_grant(person, registered)).json()["access_token"]
    b = operator.browser
    headers = await operator.headers(APPS)
    listed = await b.get(f"/api/admin/apps/{app['client_id']}/tokens", headers=headers)
    assert listed.status_code == 200, listed.text
    grants = sorted(t["grant_type"] for t in listed.json()["tokens"])
    assert grants == ["password", "test"]
    assert all("token" not in t for t in listed.json()["tokens"])
    revoked = await b.delete(f"/api/admin/apps/{app['client_id']}/tokens", headers=headers)
    assert revoked.status_code == 200
    assert revoked.json()["access_tokens"] == 2
    assert (await person.get("/api/user", headers={"authorization": f"Bearer {token}"})).status_code == 401


async def test_an_app_cannot_delete_itself(operator: Operator) -> None:
    response = await operator.browser.delete(
        f"/api/admin/apps/{operator.app.client_id}", headers=await operator.headers(APPS)
    )
    assert response.status_code == 409


async def test_an_admin_only_app_without_ordinary_scopes(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    b = operator.browser
    headers = await operator.headers(APPS)
    made = await b.post(
        "/api/admin/apps",
        json={"owner_id": dev.id, "name": "Sync job", "admin_scopes": "admin:users:read"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    app = made.json()
    assert app["scopes"] == [] and app["redirect_uris"] == []
    assert app["client_credentials"] is True
    token = await b.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "scope": "admin:users:read"},
        headers=basic(app["client_id"], app["client_secret"]),
    )
    assert token.status_code == 200, token.text
    users = await b.get(
        "/api/admin/users", headers={"authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert users.status_code == 200
    nothing = await b.post(
        "/api/admin/apps",
        json={"owner_id": dev.id, "name": "Nothing", "client_credentials": True},
        headers=headers,
    )
    assert nothing.status_code == 400
    assert "Choose at least one scope" in nothing.json()["error_description"]
