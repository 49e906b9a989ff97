"""Issue 11 item 6: a space token sees its own space only.

It acts for its creator while she is an admin of the space, then for the space's owner
(Cobot's documented rule, docs/api.md), but whoever it acts for, ``/api/user``, userinfo and
introspection on it describe that one space: never the person's other spaces.
"""

from __future__ import annotations

from typing import Any

from frontdesk.services import spaces
from tests.api import conftest as api_fixtures
from tests.api.conftest import World
from tests.oauth_support import bearer
from tests.support import Browser

SCOPES = "read_user read_memberships navigation openid email"

# The API tests' fixtures: a space with an owner, an admin and a member; tokens for them.
world = api_fixtures.world
issue = api_fixtures.issue


async def _setup(db: Any, state: Any, world: World) -> None:
    """The owner and the admin are also admins and members of other spaces."""
    owned = await spaces.create_space(
        db, state.settings, subdomain="second", name="Second", owner=world.owner
    )
    await db.commit()
    await spaces.add_member(db, owned, email="admin@example.com", role="admin")
    await db.commit()
    await spaces.add_member(db, world.other_space, email="owner@example.com", role="member")
    await db.commit()
    await spaces.add_member(db, world.other_space, email="admin@example.com", role="member")
    await db.commit()


async def _space_token(browser: Browser, user_token: str) -> str:
    response = await browser.post(f"/api/access_tokens/{user_token}/space", json={"space_id": "co-up"})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def _subdomains(body: dict[str, Any]) -> set[str]:
    return {m["space_subdomain"] for m in body["memberships"]} | {
        a["space_subdomain"] for a in body["admin_of"]
    }


async def _remove_admin(db: Any, world: World) -> None:
    membership = await spaces.membership_of(db, world.space.id, world.admin.id)
    assert membership is not None
    await spaces.remove_member(db, world.space, membership.id)
    await db.commit()


async def test_api_user_on_a_space_token_lists_only_its_space(
    browser: Browser, world: World, issue: Any, db: Any, state: Any
) -> None:
    await _setup(db, state, world)
    user_token = await issue(world.admin, SCOPES)
    # The user token itself sees every space of its user.
    mine = (await browser.get("/api/user", headers=bearer(user_token))).json()
    assert _subdomains(mine) == {"co-up", "second", "other"}

    space_token = await _space_token(browser, user_token)
    response = await browser.get("/api/user", headers=bearer(space_token))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == world.admin.id
    assert body["memberships"] == []
    assert [a["space_subdomain"] for a in body["admin_of"]] == ["co-up"]


async def test_after_the_creator_leaves_the_token_shows_the_owner_in_this_space_only(
    browser: Browser, world: World, issue: Any, db: Any, state: Any
) -> None:
    await _setup(db, state, world)
    space_token = await _space_token(browser, await issue(world.admin, SCOPES))
    await _remove_admin(db, world)

    response = await browser.get("/api/user", headers=bearer(space_token))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == world.owner.id  # Cobot's rule: it now acts for the owner ...
    assert _subdomains(body) == {"co-up"}  # ... in this space only
    assert body["memberships"] == [] and body["admin_of"][0]["space_name"] == "Co-Up"
    assert "second" not in response.text and "other" not in response.text

    info = await browser.get("/api/userinfo", headers=bearer(space_token))
    assert info.status_code == 200
    claims = info.json()
    assert claims["sub"] == world.owner.id
    assert claims["space"] == {"id": world.space.id, "subdomain": "co-up", "role": "admin"}
    assert "second" not in info.text and "other" not in info.text

    # Still no other space's data through the space-scoped endpoints.
    elsewhere = await browser.get("/api/spaces/second/memberships", headers=bearer(space_token))
    assert elsewhere.status_code == 403
    on_other_host = await browser.get(
        "/api/memberships", headers={**bearer(space_token), "host": "second.localhost:8000"}
    )
    assert on_other_host.status_code == 403


async def test_introspection_names_who_the_space_token_acts_for(
    browser: Browser, world: World, issue: Any, db: Any, state: Any
) -> None:
    await _setup(db, state, world)
    space_token = await _space_token(browser, await issue(world.admin, SCOPES))
    auth = {"client_id": world.app.client_id, "client_secret": world.app.client_secret}
    before = await browser.post("/oauth/introspect", data={**auth, "token": space_token})
    assert before.status_code == 200
    assert before.json()["sub"] == world.admin.id and before.json()["space"] == "co-up"

    await _remove_admin(db, world)
    after = await browser.post("/oauth/introspect", data={**auth, "token": space_token})
    assert after.status_code == 200
    body = after.json()
    # The resource server acts on `sub`: the removed admin must no longer be it.
    assert body["active"] is True and body["space"] == "co-up"
    assert body["sub"] == world.owner.id and body["username"] == "owner@example.com"


async def test_space_admins_see_who_minted_each_space_token_and_revoke_it(
    new_browser: Any, world: World, issue: Any, db: Any, state: Any
) -> None:
    api = new_browser()
    space_token = await _space_token(api, await issue(world.admin, SCOPES))
    await _remove_admin(db, world)
    owner = new_browser("co-up.localhost:8000")
    assert (await owner.login("owner@example.com")).status_code == 303
    page = await owner.get("/admin/apps")
    assert page.status_code == 200
    assert "Adam" in page.text and "admin@example.com" in page.text
    revoked = await owner.submit("/admin/apps", {}, action=f"/admin/apps/{world.app.client_id}/revoke")
    assert revoked.status_code == 303
    assert (await api.get("/api/user", headers=bearer(space_token))).status_code == 401
