"""Using tokens on the API (RFC 6750 §2, §3), and what a token may reach (RFC 9700 §2.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from frontdesk.services import spaces
from tests.api.conftest import World
from tests.oauth_support import bearer, exchange, get_code, parse_challenge
from tests.support import Browser

REALM = "http://localhost:8000"


@pytest.mark.rfc("6750 2.1")
@pytest.mark.checklist(27)
async def test_header_scheme_is_case_insensitive(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member)
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        response = await browser.get("/api/user", headers=bearer(token, scheme))
        assert response.status_code == 200, scheme
        assert response.json()["email"] == "member@example.com"
    # Extra spaces around the token are tolerated.
    spaced = await browser.get("/api/user", headers={"authorization": f"Bearer   {token}  "})
    assert spaced.status_code == 200 and spaced.json()["email"] == "member@example.com"


@pytest.mark.rfc("6750 2.3")
@pytest.mark.rfc("6750 2.2")
@pytest.mark.rfc("9700 4.3.2")
@pytest.mark.checklist(30)
async def test_query_and_form_parameters(browser: Browser, world: World, issue: Any) -> None:
    """The query parameter is accepted (Cobot compatibility) with ``Cache-Control: no-store``
    and ``Referrer-Policy: same-origin``; never logged (tests/e2e/test_logs.py) and never over
    plain http (tests/web/test_https.py)."""
    token = await issue(world.member)
    by_query = await browser.get("/api/user", params={"access_token": token})
    assert by_query.status_code == 200 and by_query.json()["email"] == "member@example.com"
    assert by_query.headers["cache-control"] == "no-store"
    assert by_query.headers["referrer-policy"] == "same-origin"
    scope = await browser.get(f"/api/access_tokens/{token}")
    assert scope.status_code == 200 and scope.headers["cache-control"] == "no-store"
    # The form-body method (§2.2): the token is read (403 naming the missing scope, not 401).
    by_form = await browser.post(
        f"/api/access_tokens/{token}/space", data={"access_token": token, "space_id": "co-up"}
    )
    assert by_form.status_code == 403  # authenticated (a member, not an admin), so not 401
    userinfo = await browser.post("/api/userinfo", data={"access_token": token})
    assert userinfo.status_code == 403 and userinfo.json()["error"] == "insufficient_scope"
    assert 'scope="openid"' in userinfo.headers["www-authenticate"]


@pytest.mark.rfc("6750 2")
@pytest.mark.checklist(28)
async def test_two_methods_at_once_is_invalid_request(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member)
    both = await browser.get("/api/user", params={"access_token": token}, headers=bearer(token))
    twice = await browser.get(f"/api/user?access_token={token}&access_token={token}")
    header_and_form = await browser.post("/api/userinfo", data={"access_token": token}, headers=bearer(token))
    query_and_form = await browser.post(
        "/api/userinfo", params={"access_token": token}, data={"access_token": token}
    )
    for response in (both, twice, header_and_form, query_and_form):
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.rfc("6750 3.1")
@pytest.mark.checklist(29)
async def test_no_token_is_401_without_error_code(browser: Browser, world: World) -> None:
    response = await browser.get("/api/user")
    assert response.status_code == 401
    metadata = f"{REALM}/.well-known/oauth-protected-resource"  # RFC 9728 §5.1
    assert response.headers["www-authenticate"] == f'Bearer realm="{REALM}", resource_metadata="{metadata}"'
    scheme, params = parse_challenge(response.headers["www-authenticate"])
    assert scheme == "Bearer" and params == {"realm": REALM, "resource_metadata": metadata}
    assert response.json()["error"] == "invalid_token"


@pytest.mark.rfc("6750 3")
@pytest.mark.rfc("6750 3.1")
@pytest.mark.checklist(29)
async def test_bad_and_revoked_tokens(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member)
    revoked = await issue(world.member)
    creds = {"client_id": world.app.client_id, "client_secret": world.app.client_secret or ""}
    assert (await browser.post("/oauth/revoke", data={**creds, "token": revoked})).status_code == 200
    for bad in ("fdat_" + "A" * 43, "fdat_not-a-real-token", revoked, "not-a-token", token + "x"):
        response = await browser.get("/api/user", headers=bearer(bad))
        assert response.status_code == 401, bad
        assert response.headers["www-authenticate"].startswith(
            f'Bearer realm="{REALM}", error="invalid_token"'
        )
        scheme, params = parse_challenge(response.headers["www-authenticate"])
        assert scheme == "Bearer" and params["realm"] == REALM and params["error"] == "invalid_token"
        assert response.json()["error"] == "invalid_token"
        via_query = await browser.get("/api/user", params={"access_token": bad})
        assert via_query.status_code == 401 and via_query.json()["error"] == "invalid_token", bad
    deleted = await issue(world.member)
    assert (await browser.delete(f"/api/access_tokens/{deleted}")).status_code == 204
    for gone in (revoked, deleted):
        response = await browser.get("/api/user", headers=bearer(gone))
        assert response.status_code == 401 and "revoked" in response.json()["error_description"]


@pytest.mark.rfc("6750 3.1")
@pytest.mark.checklist(29)
async def test_missing_scope_is_403_naming_it(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member, scopes="read_memberships navigation")
    response = await browser.get("/api/user", headers=bearer(token))
    assert response.status_code == 403
    scheme, params = parse_challenge(response.headers["www-authenticate"])
    assert scheme == "Bearer" and params["realm"] == REALM
    assert params["error"] == "insufficient_scope" and params["scope"] == "read_user"
    assert response.json()["error"] == "insufficient_scope"


MALFORMED = ["Bearer", "Bearer a b", 'Bearer "quoted"', "Bearer tök", "Bearer a,b"]


@pytest.mark.rfc("6750 3.1")
@pytest.mark.checklist(29)
async def test_malformed_credentials_are_invalid_request(browser: Browser, world: World) -> None:
    for malformed in MALFORMED:
        response = await browser.get("/api/user", headers={"authorization": malformed.encode("latin-1")})
        assert response.status_code == 400, malformed
        assert response.json() == {
            "error": "invalid_request",
            "error_description": "malformed Authorization header",
        }
    empty = await browser.get("/api/user?access_token=")
    assert empty.status_code == 400
    assert empty.json() == {"error": "invalid_request", "error_description": "empty access_token"}


@pytest.mark.rfc("6750 3")
@pytest.mark.checklist(29)
async def test_malformed_credentials_get_a_challenge(browser: Browser, world: World) -> None:
    for malformed in [*MALFORMED, None]:
        if malformed is None:
            response = await browser.get("/api/user?access_token=")
        else:
            response = await browser.get("/api/user", headers={"authorization": malformed.encode("latin-1")})
        assert response.status_code == 400, malformed
        scheme, params = parse_challenge(response.headers["www-authenticate"])
        assert scheme == "Bearer" and params["realm"] == REALM and params["error"] == "invalid_request"


async def test_umbrella_read_scope_covers_read_user(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member, scopes="read")
    assert (await browser.get("/api/user", headers=bearer(token))).status_code == 200


async def test_expired_token(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    response = await browser.get("/api/user", headers=bearer(token))
    assert response.status_code == 401 and "expired" in response.json()["error_description"]


# ---- what a token may reach (checklist items 25 and 42) --------------------------------------


@pytest.mark.rfc("9700 2.3")
@pytest.mark.rfc("6750 3.1")
@pytest.mark.checklist(25)
async def test_scopes_are_checked_per_endpoint(
    browser: Browser, world: World, issue: Any, new_browser: Any
) -> None:
    """403 ``insufficient_scope`` naming the scope the endpoint needs, in the realm of the host
    that answered."""
    reader = await issue(world.admin, scopes="read_user read_navigation_links")
    writer = await issue(world.admin, scopes="write_navigation_links")
    co_up: Browser = new_browser("co-up.localhost:8000")
    link = {"section": "members", "label": "Booking", "iframe_url": "https://app.example/embed"}
    assert (await co_up.get("/api/navigation_links", headers=bearer(reader))).status_code == 200
    denied = await co_up.post("/api/navigation_links", json=link, headers=bearer(reader))
    assert denied.status_code == 403
    scheme, params = parse_challenge(denied.headers["www-authenticate"])
    assert scheme == "Bearer" and params["error"] == "insufficient_scope"
    assert params["scope"] == "write_navigation_links" and params["realm"] == "http://co-up.localhost:8000"
    assert (await co_up.post("/api/navigation_links", json=link, headers=bearer(writer))).status_code == 201
    no_user = await browser.get("/api/user", headers=bearer(writer))
    assert no_user.status_code == 403
    assert parse_challenge(no_user.headers["www-authenticate"])[1]["scope"] == "read_user"
    # A user token reaches only spaces where its user is an admin.
    other: Browser = new_browser("other.localhost:8000")
    elsewhere = await other.get("/api/navigation_links", headers=bearer(reader))
    assert elsewhere.status_code == 403 and elsewhere.json()["error"] == "forbidden"


@pytest.mark.rfc("9700 2.3")
@pytest.mark.rfc("9700 4.4")
@pytest.mark.checklist(25)
@pytest.mark.checklist(42)
async def test_space_tokens_reach_their_space_and_user_tokens_their_users_spaces(
    state: Any, db: Any, browser: Browser, world: World, new_browser: Any
) -> None:
    """A space token works in its own space only (documented choice: another space's answer is
    403), even where its user is an admin too, and cannot become another space's token; a
    user token reaches only the spaces its user administers."""
    await spaces.create_space(
        db,
        state.settings,
        subdomain="harbour",
        name="Harbour",
        owner=world.admin,
        custom_domain="members.harbour.test",
    )
    await db.commit()
    co_up: Browser = new_browser("co-up.localhost:8000")
    assert (await co_up.login("admin@example.com")).status_code == 303
    code = await get_code(co_up, world.app)
    user_token = (await exchange(co_up, world.app, code)).json()["access_token"]
    space = await co_up.post(f"/api/access_tokens/{user_token}/space", json={"space_id": "co-up"})
    assert space.status_code == 201
    space_token = space.json()["token"]
    harbour: Browser = new_browser("members.harbour.test:8000")
    other: Browser = new_browser("other.localhost:8000")

    assert (await co_up.get("/api/memberships", headers=bearer(space_token))).status_code == 200
    for response in (
        await harbour.get("/api/memberships", headers=bearer(space_token)),
        await other.get("/api/memberships", headers=bearer(space_token)),
        await browser.get("/api/spaces/harbour/memberships", headers=bearer(space_token)),
    ):
        assert response.status_code == 403 and response.json()["error"] == "forbidden"

    assert (await harbour.get("/api/memberships", headers=bearer(user_token))).status_code == 200
    for response in (
        await other.get("/api/memberships", headers=bearer(user_token)),  # Otto's space
        await browser.get("/api/spaces/other/memberships", headers=bearer(user_token)),
        await other.get("/api/memberships/" + "0" * 32, headers=bearer(user_token)),
    ):
        assert response.status_code == 403 and response.json() == {
            "error": "forbidden",
            "error_description": "the token's user is not an admin of this space",
        }
    # A space token cannot be turned into a token for another space, nor a user token into one
    # for a space its user does not administer.
    again = await co_up.post(f"/api/access_tokens/{space_token}/space", json={"space_id": "harbour"})
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"
    not_theirs = await co_up.post(f"/api/access_tokens/{user_token}/space", json={"space_id": "other"})
    assert not_theirs.status_code == 403 and not_theirs.json()["error"] == "forbidden"
