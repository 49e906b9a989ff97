"""Deleting one's own account on /account/delete: the page spells out what goes first, the
password and a typed confirmation are required, the deletion goes through
services/accounts.delete_user (apps registered deleted with their users' tokens, tokens given
to apps revoked, memberships ended; refused while the person owns spaces) and logs out."""

from __future__ import annotations

from typing import Any

from frontdesk.services import accounts, spaces
from tests.oauth_support import api_status, code_token, make_user, register_app
from tests.support import PASSWORD, Browser

PAGE = "/account/delete"


async def delete(browser: Browser, password: str = PASSWORD, confirmation: str = "delete") -> Any:
    return await browser.submit(PAGE, {"password": password, "confirmation": confirmation})


async def test_the_page_says_what_goes_then_the_account_goes_with_it(
    browser: Browser, new_browser: Any, state: Any, db: Any
) -> None:
    owner = await make_user(state, db, "owner@example.com", name="Olivia")
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    other_app = await register_app(state, db, owner, name="Other App")
    await browser.signup("ada@example.com", name="Ada")
    ada = await accounts.find_by_email(db, "ada@example.com")
    assert ada is not None
    await spaces.add_member(db, space, email="ada@example.com")
    await db.commit()
    adas_app = await register_app(state, db, ada, name="Ada's App")
    given = await code_token(browser, other_app)  # a token Ada gave an app
    bob = new_browser()
    await bob.signup("bob@example.com")
    held = await code_token(bob, adas_app)  # a token Ada's app holds for Bob

    page = await browser.get(PAGE)
    assert page.status_code == 200
    assert 'id="no-owned-spaces"' in page.text
    assert '<ul id="memberships">' in page.text and "Co-Up" in page.text
    assert "<li>Ada&#39;s App</li>" in page.text  # registered: deleted
    assert "<li>Other App</li>" in page.text  # authorized: revoked

    wrong = await delete(browser, password="not my password")
    assert wrong.status_code == 422
    assert "That is not your password." in wrong.text
    unconfirmed = await delete(browser, confirmation="yes")
    assert unconfirmed.status_code == 422
    assert "Type your email address" in unconfirmed.text
    assert await api_status(browser, given["access_token"]) == 200

    done = await delete(browser, confirmation="ADA@example.com")
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    assert "Your account was deleted." in (await browser.get("/")).text
    assert (await browser.get("/account")).status_code == 303  # logged out
    assert (await new_browser().login("ada@example.com")).status_code == 401
    assert await api_status(browser, given["access_token"]) == 401
    assert await api_status(bob, held["access_token"]) == 401
    assert [m.user.email for m in await spaces.list_members(db, space.id)] == ["owner@example.com"]


async def test_an_owner_of_spaces_is_told_and_refused(
    browser: Browser, new_browser: Any, state: Any, db: Any
) -> None:
    await browser.signup("olivia@example.com", name="Olivia")
    olivia = await accounts.find_by_email(db, "olivia@example.com")
    assert olivia is not None
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=olivia)
    await db.commit()
    page = await browser.get(PAGE)
    assert page.status_code == 200
    assert '<ul id="owned-spaces">' in page.text and "Co-Up" in page.text
    assert 'id="owned-spaces-block"' in page.text
    assert 'action="/account/delete"' not in page.text  # no form to send
    refused = await browser.post(
        PAGE,
        data={"csrf_token": await browser.token("/account"), "password": PASSWORD, "confirmation": "delete"},
    )
    assert refused.status_code == 409
    assert "You own Co-Up" in refused.text
    assert (await new_browser().login("olivia@example.com")).status_code == 303
