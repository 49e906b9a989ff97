"""Who may call the admin API (web/admin_auth.py): RFC 6750 challenges for everyone else."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import TOKEN_URL, make_user, parse_challenge, password_grant, register_app
from tests.support import Browser


async def test_no_token_is_401_with_a_bare_challenge(browser: Browser) -> None:
    response = await browser.get("/api/admin/users")
    assert response.status_code == 401
    scheme, params = parse_challenge(response.headers["www-authenticate"])
    assert scheme == "Bearer"
    assert "error" not in params


async def test_an_unknown_token_is_401_invalid_token(browser: Browser) -> None:
    response = await browser.get("/api/admin/users", headers={"authorization": "Bearer fdat_nothing"})
    assert response.status_code == 401
    assert parse_challenge(response.headers["www-authenticate"])[1]["error"] == "invalid_token"


async def test_a_read_token_cannot_write(operator: Operator) -> None:
    headers = await operator.headers("admin:users:read")
    response = await operator.browser.post(
        "/api/admin/users", json={"email": "new@example.com"}, headers=headers
    )
    assert response.status_code == 403
    _, params = parse_challenge(response.headers["www-authenticate"])
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "admin:users:write"


async def test_a_write_token_does_not_read(operator: Operator) -> None:
    headers = await operator.headers("admin:users:write")
    response = await operator.browser.get("/api/admin/users", headers=headers)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/api/admin/users", "admin:spaces:read"),
        ("/api/admin/spaces", "admin:users:read"),
        ("/api/admin/apps", "admin:tokens:read"),
        ("/api/admin/tokens", "admin:apps:read"),
        ("/api/admin/audit", "admin:users:read"),
    ],
)
async def test_another_resources_scope_is_refused(operator: Operator, path: str, scope: str) -> None:
    response = await operator.browser.get(path, headers=await operator.headers(scope))
    assert response.status_code == 403
    assert parse_challenge(response.headers["www-authenticate"])[1]["error"] == "insufficient_scope"


async def test_a_persons_token_is_refused(state: Any, db: Any, browser: Browser) -> None:
    """Even of an app with admin scopes: the admin API takes client_credentials tokens only."""
    owner = await make_user(state, db, "pat@example.com", "Pat")
    app = await register_app(state, db, owner, scopes="read_user", admin_scopes="admin:users:read")
    token = (await password_grant(browser, app)).json()["access_token"]
    response = await browser.get("/api/admin/users", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 403


async def test_an_ordinary_apps_client_credentials_token_is_refused(
    state: Any, db: Any, browser: Browser
) -> None:
    owner = await make_user(state, db, "pat@example.com", "Pat")
    app = await register_app(state, db, owner, scopes="read_user", client_credentials=True)
    assert app.client_secret is not None
    token = (
        await browser.post(
            TOKEN_URL,
            data={
                "grant_type": "client_credentials",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
            },
        )
    ).json()["access_token"]
    response = await browser.get("/api/admin/users", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 403


async def test_a_revoked_admin_token_is_401(operator: Operator) -> None:
    token = await operator.token("admin:users:read")
    assert operator.app.client_secret is not None
    revoked = await operator.browser.post(
        "/oauth/revoke",
        data={
            "token": token,
            "client_id": operator.app.client_id,
            "client_secret": operator.app.client_secret,
        },
    )
    assert revoked.status_code == 200
    response = await operator.browser.get("/api/admin/users", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_not_on_a_space_host(operator: Operator, state: Any, db: Any, new_browser: Any) -> None:
    from frontdesk.services import spaces

    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=operator.owner)
    await db.commit()
    at_space = new_browser("co-up.localhost:8000")
    response = await at_space.get("/api/admin/users", headers=await operator.headers("admin:users:read"))
    assert response.status_code == 404
