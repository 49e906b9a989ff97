"""Using tokens on the API (RFC 6750 §2, §3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import World
from tests.support import Browser


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"authorization": f"{scheme} {token}"}


@pytest.mark.rfc("6750 2.1")
async def test_header_scheme_is_case_insensitive(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member)
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert (await browser.get("/api/user", headers=bearer(token, scheme))).status_code == 200


@pytest.mark.rfc("6750 2.3")
async def test_query_and_form_parameters(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member)
    by_query = await browser.get("/api/user", params={"access_token": token})
    assert by_query.status_code == 200 and by_query.headers["cache-control"] == "no-store"
    by_form = await browser.post(
        f"/api/access_tokens/{token}/space", data={"access_token": token, "space_id": "co-up"}
    )
    assert by_form.status_code == 403  # authenticated (a member, not an admin), so not 401


@pytest.mark.rfc("6750 2")
async def test_two_methods_at_once_is_invalid_request(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member)
    response = await browser.get("/api/user", params={"access_token": token}, headers=bearer(token))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.rfc("6750 3.1")
async def test_no_token_is_401_without_error_code(browser: Browser, world: World) -> None:
    response = await browser.get("/api/user")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="http://localhost:8000"'
    assert response.json()["error"] == "invalid_token"


@pytest.mark.rfc("6750 3.1")
async def test_bad_and_revoked_tokens(browser: Browser, world: World, issue: Any) -> None:
    bad = await browser.get("/api/user", headers=bearer("fdat_not-a-real-token"))
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith(
        'Bearer realm="http://localhost:8000", error="invalid_token"'
    )
    token = await issue(world.member)
    assert (await browser.delete(f"/api/access_tokens/{token}")).status_code == 204
    revoked = await browser.get("/api/user", headers=bearer(token))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error_description"]


@pytest.mark.rfc("6750 3.1")
async def test_missing_scope_is_403_naming_it(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member, scopes="navigation")
    response = await browser.get("/api/user", headers=bearer(token))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="read_user"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "insufficient_scope"


async def test_umbrella_read_scope_covers_read_user(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member, scopes="read")
    assert (await browser.get("/api/user", headers=bearer(token))).status_code == 200


async def test_expired_token(browser: Browser, world: World, issue: Any) -> None:
    from datetime import UTC, datetime, timedelta

    token = await issue(world.member, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    response = await browser.get("/api/user", headers=bearer(token))
    assert response.status_code == 401 and "expired" in response.json()["error_description"]
