"""Who may call the admin API (web/admin_auth.py): RFC 6750 challenges for everyone else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from frontdesk.services import seed
from frontdesk.settings import Settings
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import TOKEN_URL, basic, make_user, parse_challenge, password_grant, register_app
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


BOOKINGS = "https://bookings.example"


@pytest.mark.rfc("8707 2")
@pytest.mark.parametrize("settings_overrides", [{"extra_resources": [BOOKINGS]}])
async def test_a_token_for_another_resource_is_401(operator: Operator) -> None:
    elsewhere = await operator.token("admin:users:read", resource=BOOKINGS)
    response = await operator.browser.get(
        "/api/admin/users", headers={"authorization": f"Bearer {elsewhere}"}
    )
    assert response.status_code == 401
    assert parse_challenge(response.headers["www-authenticate"])[1]["error"] == "invalid_token"
    # One requested for this host is fine.
    here = await operator.token("admin:users:read", resource="http://localhost:8000")
    ok = await operator.browser.get("/api/admin/users", headers={"authorization": f"Bearer {here}"})
    assert ok.status_code == 200, ok.text


@pytest.mark.rfc("6585 4")
@pytest.mark.parametrize("settings_overrides", [{"admin_api_rate_limit": "3/minute"}])
async def test_rate_limited_per_admin_app(operator: Operator, state: Any, db: Any) -> None:
    headers = await operator.headers("admin:users:read")
    b = operator.browser
    assert [(await b.get("/api/admin/users", headers=headers)).status_code for _ in range(3)] == [
        200,
        200,
        200,
    ]
    limited = await b.get("/api/admin/users", headers=headers)
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert limited.json()["error_description"]
    assert 50 <= int(limited.headers["retry-after"]) <= 60
    # A new token of the same app does not reset its allowance.
    again = await b.get("/api/admin/users", headers=await operator.headers("admin:users:read"))
    assert again.status_code == 429
    # Another administrative app has its own.
    other = await register_app(
        state, db, operator.owner, name="Other platform", scopes="read_user", admin_scopes="admin:users:read"
    )
    assert other.client_secret is not None
    token = await b.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "scope": "admin:users:read"},
        headers=basic(other.client_id, other.client_secret),
    )
    theirs = await b.get(
        "/api/admin/users", headers={"authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert theirs.status_code == 200


def test_the_admin_api_limit_is_generous_by_default() -> None:
    assert Settings.model_fields["admin_api_rate_limit"].default == "600/minute"


async def test_the_sandboxs_platform_app_calls_the_admin_api(state: Any, db: Any, browser: Browser) -> None:
    """examples/sandbox.yaml seeds an administrative app whose documented credentials work."""
    sandbox = seed.load_document(Path(__file__).parents[2] / "examples" / "sandbox.yaml")
    report = await seed.seed(db, state.passwords, state.settings, sandbox, server_secret=state.server_secret)
    await db.commit()
    assert "app Sandbox Platform (sandbox-platform)" in report.created
    token = await browser.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "admin:users:read admin:spaces:read"},
        headers=basic("sandbox-platform", "sandbox-platform-secret-for-local-development-only"),
    )
    assert token.status_code == 200, token.text
    headers = {"authorization": f"Bearer {token.json()['access_token']}"}
    users = await browser.get("/api/admin/users", params={"search": "alice"}, headers=headers)
    assert users.status_code == 200
    assert [u["email"] for u in users.json()["users"]] == ["alice@example.com"]
    spaces = await browser.get("/api/admin/spaces", headers=headers)
    assert [s["subdomain"] for s in spaces.json()["spaces"]] == ["co-up", "harbour"]
