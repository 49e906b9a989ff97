"""/admin/apps on a space's host: the apps holding space tokens for that space, and revoking."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from frontdesk import events
from frontdesk.services import audit, spaces
from tests.oauth_support import TOKEN_URL, RegisteredApp, make_user, register_app
from tests.support import PASSWORD, Browser, csrf_from

CO_UP = "co-up.localhost:8000"
OTHER = "other.localhost:8000"


@dataclass
class World:
    app: RegisteredApp
    other_app: RegisteredApp
    owner: Any
    admin: Any
    member: Any
    other_admin: Any
    space: Any
    other: Any


@pytest.fixture
async def world(state: Any, db: Any) -> World:
    owner = await make_user(state, db, "owner@example.com", "Olivia Owner")
    admin = await make_user(state, db, "admin@example.com", "Adam Admin")
    member = await make_user(state, db, "member@example.com", "Mia Member")
    other_admin = await make_user(state, db, "oscar@example.com", "Oscar Other")
    dev = await make_user(state, db, "dev@example.com", "Dev")
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    other = await spaces.create_space(db, state.settings, subdomain="other", name="Other", owner=other_admin)
    await db.commit()
    await spaces.add_member(db, space, email="admin@example.com", role="admin")
    await db.commit()
    await spaces.add_member(db, space, email="member@example.com", role="member")
    await db.commit()
    app = await register_app(state, db, dev, name="Booking Tool", scopes="read_user read_memberships")
    other_app = await register_app(state, db, dev, name="Invoicer", scopes="read_user")
    return World(app, other_app, owner, admin, member, other_admin, space, other)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def user_token(browser: Browser, app: RegisteredApp, email: str) -> str:
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": email,
            "password": PASSWORD,
            "client_id": app.client_id,
            "client_secret": app.client_secret or "",
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def space_token(browser: Browser, token: str, space: str) -> str:
    response = await browser.post(f"/api/access_tokens/{token}/space", json={"space_id": space})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def logged_in(new_browser: Any, host: str, email: str) -> Browser:
    b: Browser = new_browser(host)
    assert (await b.login(email)).status_code == 303
    return b


def app_row(html: str, client_id: str) -> str | None:
    match = re.search(rf'<tr id="app-{client_id}">(.*?)</tr>', html, re.S)
    return match.group(1) if match else None


async def token_status(browser: Browser, token: str) -> int:
    """200 while the token is alive, 401 once revoked."""
    return (await browser.get(f"/api/access_tokens/{token}")).status_code


async def test_admins_see_and_revoke_their_spaces_tokens(
    browser: Browser, new_browser: Any, world: World, db: Any
) -> None:
    admin_token = await user_token(browser, world.app, "admin@example.com")
    first = await space_token(browser, admin_token, "co-up")
    second = await space_token(browser, admin_token, "co-up")
    owner_token = await user_token(browser, world.other_app, "owner@example.com")
    invoicer = await space_token(browser, owner_token, "co-up")
    # Another space's token for the same app.
    oscar_token = await user_token(browser, world.app, "oscar@example.com")
    elsewhere = await space_token(browser, oscar_token, "other")

    admin = await logged_in(new_browser, CO_UP, "admin@example.com")
    home = await admin.get("/")
    assert 'href="/admin/apps"' in home.text
    page = await admin.get("/admin/apps")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    row = app_row(page.text, world.app.client_id)
    assert row is not None and "Booking Tool" in row and "2 tokens" in row
    assert "<code>read_user</code>" in row and "<code>read_memberships</code>" in row
    assert "Adam Admin" in row and "admin@example.com" in row and "Oscar" not in row
    assert "never" in row  # last used: not tracked yet
    invoicer_row = app_row(page.text, world.other_app.client_id)
    assert invoicer_row is not None and "Olivia Owner" in invoicer_row and "1 token" in invoicer_row

    # Revoke the Booking Tool for Co-Up: both its space tokens stop, nothing else does.
    response = await admin.post(
        f"/admin/apps/{world.app.client_id}/revoke", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin/apps"
    assert await token_status(browser, first) == 401 and await token_status(browser, second) == 401
    assert await token_status(browser, invoicer) == 200 and await token_status(browser, elsewhere) == 200
    assert await token_status(browser, admin_token) == 200  # the admin's own user token is no space token
    after = await admin.get("/admin/apps")
    assert "Revoked Booking Tool" in after.text
    assert app_row(after.text, world.app.client_id) is None
    assert app_row(after.text, world.other_app.client_id) is not None

    [event] = await audit.search(db, event=events.SPACE_TOKEN_REVOKED)
    assert (event.user_id, event.app_id, event.space_id) == (
        world.admin.id,
        world.app.client_id,
        world.space.id,
    )
    assert event.detail["count"] == 2 and len(event.detail["token_ids"]) == 2

    # Again: nothing left for this app here.
    again = await admin.post(
        f"/admin/apps/{world.app.client_id}/revoke", data={"csrf_token": csrf_from(after.text)}
    )
    assert again.status_code == 404


async def test_other_spaces_tokens_are_invisible_and_untouchable(
    browser: Browser, new_browser: Any, world: World, db: Any
) -> None:
    oscar_token = await user_token(browser, world.other_app, "oscar@example.com")
    elsewhere = await space_token(browser, oscar_token, "other")
    admin = await logged_in(new_browser, CO_UP, "admin@example.com")
    page = await admin.get("/admin/apps")
    assert 'id="no-apps"' in page.text and app_row(page.text, world.other_app.client_id) is None
    response = await admin.post(
        f"/admin/apps/{world.other_app.client_id}/revoke", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 404
    assert await token_status(browser, elsewhere) == 200
    assert await audit.search(db, event=events.SPACE_TOKEN_REVOKED) == []

    # Other's admin sees it on Other's host.
    oscar = await logged_in(new_browser, OTHER, "oscar@example.com")
    assert app_row((await oscar.get("/admin/apps")).text, world.other_app.client_id) is not None


async def test_only_admins_on_the_space_host(browser: Browser, new_browser: Any, world: World) -> None:
    admin_token = await user_token(browser, world.app, "admin@example.com")
    token = await space_token(browser, admin_token, "co-up")

    member = await logged_in(new_browser, CO_UP, "member@example.com")
    assert (await member.get("/admin/apps")).status_code == 403
    assert 'href="/admin/apps"' not in (await member.get("/")).text
    forbidden = await member.post(
        f"/admin/apps/{world.app.client_id}/revoke",
        data={"csrf_token": csrf_from((await member.get("/")).text)},
    )
    assert forbidden.status_code == 403
    # An admin of another space is nobody here.
    oscar = await logged_in(new_browser, CO_UP, "oscar@example.com")
    assert (await oscar.get("/admin/apps")).status_code == 403
    assert await token_status(browser, token) == 200

    anonymous = new_browser(CO_UP)
    response = await anonymous.get("/admin/apps")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    # Not on the main host.
    main = await logged_in(new_browser, "localhost:8000", "admin@example.com")
    assert (await main.get("/admin/apps")).status_code == 404

    # The form token is checked.
    admin = await logged_in(new_browser, CO_UP, "admin@example.com")
    forged = await admin.post(f"/admin/apps/{world.app.client_id}/revoke", data={"csrf_token": "nope"})
    assert forged.status_code == 403
    assert await token_status(browser, token) == 200


async def test_former_admins_tokens_stay_listed(
    browser: Browser, new_browser: Any, world: World, db: Any
) -> None:
    """A space token outlives its creator's admin role; the remaining admins still manage it."""
    admin_token = await user_token(browser, world.app, "admin@example.com")
    token = await space_token(browser, admin_token, "co-up")
    membership = await spaces.membership_of(db, world.space.id, world.admin.id)
    await spaces.change_role(db, world.space, membership.id, "member")
    await db.commit()
    owner = await logged_in(new_browser, CO_UP, "owner@example.com")
    page = await owner.get("/admin/apps")
    row = app_row(page.text, world.app.client_id)
    assert row is not None and "Adam Admin" in row
    response = await owner.post(
        f"/admin/apps/{world.app.client_id}/revoke", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 303 and await token_status(browser, token) == 401
    [event] = await audit.search(db, event="space_token")
    assert event.user_id == world.owner.id and event.detail["count"] == 1
