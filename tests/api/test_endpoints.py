"""The Cobot API 1 endpoints: /api/user, /api/spaces, /api/access_tokens, memberships."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.services import spaces
from tests.api.conftest import World
from tests.support import Browser


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_api_user_shape(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin)
    body = (await browser.get("/api/user", headers=bearer(token))).json()
    assert (
        body["id"] == world.admin.id and body["email"] == "admin@example.com" and body["name"] == "Adam Admin"
    )
    assert body["memberships"] == []
    assert body["admin_of"] == [
        {
            "space_subdomain": "co-up",
            "space_name": "Co-Up",
            "space_link": "http://localhost:8000/api/spaces/co-up",
            "name": "Adam at the desk",
        }
    ]
    member = (await browser.get("/api/user", headers=bearer(await issue(world.member)))).json()
    [m] = member["memberships"]
    assert m["space_subdomain"] == "co-up" and m["space_name"] == "Co-Up"
    assert m["space_link"] == "http://localhost:8000/api/spaces/co-up"
    assert m["link"] == f"http://co-up.localhost:8000/api/memberships/{m['id']}"


async def test_links_come_from_configuration_not_the_host(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member)
    body = (
        await browser.get(
            "/api/user",
            headers={**bearer(token), "host": "www.localhost:8000", "x-forwarded-host": "evil.test"},
        )
    ).json()
    assert body["memberships"][0]["space_link"].startswith("http://localhost:8000/")


async def test_public_space_lookup(browser: Browser, world: World) -> None:
    body = (await browser.get("/api/spaces/co-up")).json()
    assert body == {
        "id": world.space.id,
        "subdomain": "co-up",
        "name": "Co-Up",
        "url": "http://co-up.localhost:8000",
        "custom_domain": None,
    }
    missing = await browser.get("/api/spaces/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.checklist(26)
async def test_token_info_and_revoke(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member, scopes="read_user navigation")
    assert (await browser.get(f"/api/access_tokens/{token}")).json() == {"scope": ["read_user", "navigation"]}
    own = await browser.get(f"/api/access_tokens/{token}", headers=bearer(token))
    assert own.status_code == 200
    # Another user's token may not look at it.
    stranger = await browser.get(f"/api/access_tokens/{token}", headers=bearer(await issue(world.outsider)))
    assert stranger.status_code == 403
    # The same user's other token (same app) may.
    same_user = await browser.get(f"/api/access_tokens/{token}", headers=bearer(await issue(world.member)))
    assert same_user.status_code == 200
    assert (await browser.delete(f"/api/access_tokens/{token}")).status_code == 204
    assert (await browser.get(f"/api/access_tokens/{token}")).status_code == 401


async def test_space_token_exchange(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin, scopes="read_user read_memberships")
    for space_ref in (world.space.id, "co-up"):
        response = await browser.post(f"/api/access_tokens/{token}/space", json={"space_id": space_ref})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["scope"] == ["read_user", "read_memberships"] and body["client_id"] == world.app.client_id
        assert body["token"].startswith("fdat_") and body["token"] != token
    form = await browser.post(f"/api/access_tokens/{token}/space", data={"space_id": "co-up"})
    assert form.status_code == 201
    space_token = form.json()["token"]
    listed = await browser.get(
        "/api/memberships", headers={**bearer(space_token), "host": "co-up.localhost:8000"}
    )
    assert listed.status_code == 200
    assert {m["email"] for m in listed.json()} == {
        "owner@example.com",
        "admin@example.com",
        "member@example.com",
    }
    # Only its own space.
    elsewhere = await browser.get("/api/spaces/other/memberships", headers=bearer(space_token))
    assert elsewhere.status_code == 403 and elsewhere.json()["error"] == "forbidden"
    # A space token is not exchanged again.
    again = await browser.post(f"/api/access_tokens/{space_token}/space", json={"space_id": "co-up"})
    assert again.status_code == 400


async def test_only_admins_create_space_tokens(browser: Browser, world: World, issue: Any) -> None:
    member = await issue(world.member)
    response = await browser.post(f"/api/access_tokens/{member}/space", json={"space_id": "co-up"})
    assert response.status_code == 403
    admin = await issue(world.admin)
    assert (
        await browser.post(f"/api/access_tokens/{admin}/space", json={"space_id": "nope"})
    ).status_code == 404
    assert (await browser.post(f"/api/access_tokens/{admin}/space", json={})).status_code == 400
    assert (
        await browser.post(
            f"/api/access_tokens/{admin}/space", content=b"{", headers={"content-type": "application/json"}
        )
    ).status_code == 400


async def test_space_token_outlives_its_creators_admin_role(
    browser: Browser, world: World, issue: Any, db: Any
) -> None:
    admin = await issue(world.admin, scopes="read_user read_memberships")
    space_token = (
        await browser.post(f"/api/access_tokens/{admin}/space", json={"space_id": "co-up"})
    ).json()["token"]
    assert (await browser.get("/api/user", headers=bearer(space_token))).json()["id"] == world.admin.id
    membership = await spaces.membership_of(db, world.space.id, world.admin.id)
    await spaces.change_role(db, world.space, membership.id, "member")
    await db.commit()
    # The space token now acts for the owner and still reads the space ...
    assert (await browser.get("/api/user", headers=bearer(space_token))).json()["id"] == world.owner.id
    assert (
        await browser.get("/api/spaces/co-up/memberships", headers=bearer(space_token))
    ).status_code == 200
    # ... while the former admin's user token lost its admin rights.
    lost = await browser.get("/api/spaces/co-up/memberships", headers=bearer(admin))
    assert lost.status_code == 403 and lost.json()["error"] == "forbidden"


async def test_membership_endpoints_need_scope_and_admin(browser: Browser, world: World, issue: Any) -> None:
    admin = await issue(world.admin, scopes="read_user read_memberships")
    ok = await browser.get("/api/spaces/co-up/memberships", headers=bearer(admin))
    assert ok.status_code == 200 and len(ok.json()) == 3
    first = ok.json()[0]
    # Frontdesk's own fields, and Cobot's (tests/api/test_cobot_fields.py).
    assert {"id", "user_id", "name", "email", "role", "link"} <= set(first)
    one = await browser.get(
        f"/api/memberships/{first['id']}", headers={**bearer(admin), "host": "co-up.localhost"}
    )
    assert one.status_code == 200 and one.json()["id"] == first["id"]
    no_scope = await browser.get(
        "/api/spaces/co-up/memberships", headers=bearer(await issue(world.admin, "read_user"))
    )
    assert no_scope.status_code == 403 and no_scope.json()["error"] == "insufficient_scope"
    member = await browser.get("/api/spaces/co-up/memberships", headers=bearer(await issue(world.member)))
    assert member.status_code == 403
    outsider = await browser.get("/api/spaces/co-up/memberships", headers=bearer(await issue(world.outsider)))
    assert outsider.status_code == 403
    on_main = await browser.get("/api/memberships", headers=bearer(admin))
    assert on_main.status_code == 404
    other_space_member = await browser.get(
        f"/api/memberships/{first['id']}",
        headers={**bearer(await issue(world.outsider)), "host": "other.localhost"},
    )
    assert other_space_member.status_code == 404


async def test_space_tokens_never_expire_and_delete_revokes_the_refresh_family(
    browser: Browser, world: World, issue: Any, db: Any, state: Any
) -> None:
    from frontdesk.services import apps
    from tests.oauth_support import TOKEN_URL
    from tests.support import PASSWORD

    app = await apps.get_app(db, world.app.client_id)
    assert app is not None
    await apps.update_app(db, app.client_id, access_token_ttl=600)
    await db.commit()
    granted = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "admin@example.com",
            "password": PASSWORD,
            "client_id": world.app.client_id,
            "client_secret": world.app.client_secret,
            "scope": "read_user",
        },
    )
    body = granted.json()
    assert body["expires_in"] == 600 and "refresh_token" in body
    space = await browser.post(f"/api/access_tokens/{body['access_token']}/space", json={"space_id": "co-up"})
    from sqlalchemy import select

    from frontdesk.store.models import AccessToken

    row = (await db.execute(select(AccessToken).where(AccessToken.grant_type == "space"))).scalar_one()
    assert space.status_code == 201 and row.expires_at is None
    assert (await browser.delete(f"/api/access_tokens/{body['access_token']}")).status_code == 204
    refreshed = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": world.app.client_id,
            "client_secret": world.app.client_secret,
        },
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert (await browser.get("/api/user", headers=bearer(space.json()["token"]))).status_code == 200


async def test_members_follow_their_own_membership_link(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member, scopes="read_user read_memberships")
    link = (await browser.get("/api/user", headers=bearer(token))).json()["memberships"][0]["link"]
    own = await browser.get(
        link.replace("http://co-up.localhost:8000", ""),
        headers={**bearer(token), "host": "co-up.localhost:8000"},
    )
    assert own.status_code == 200 and own.json()["email"] == "member@example.com"
    others = await browser.get("/api/memberships", headers={**bearer(token), "host": "co-up.localhost:8000"})
    assert others.status_code == 403
