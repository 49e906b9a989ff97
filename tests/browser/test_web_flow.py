"""The authorization code flow as a person lives it, with examples/space_app as the app.

On the main host: the person presses "Log in with Frontdesk" on the app, logs in (or signs up)
on Frontdesk, approves, and lands back on the app, logged in; a person who presses Deny lands
back on the app, which says it was not allowed. On a space's host: the app's install button
asks for access there; Deny leaves the space without the app, Approve installs it.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.support import (
    Person,
    SpaceApp,
    create_space,
    expect_after_submit,
    expect_logged_in,
    log_in,
    screenshot,
    sign_up,
    unique_subdomain,
)
from tests.e2e.conftest import Server


def expect_consent(page: Page, origin: str, person: Person, heading: str) -> None:
    expect(page).to_have_url(re.compile(rf"^{re.escape(origin)}/oauth/authorize\?"))
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_text(f"Signed in as {person.name} ({person.email})")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    expect(page.get_by_role("button", name="Deny")).to_be_visible()


def test_log_in_on_the_app_via_frontdesk_and_approve(page: Page, server: Server, space_app: SpaceApp) -> None:
    person = Person.new("Pia")
    page.goto(space_app.url + "/")
    expect(page.get_by_role("heading", name="Space App")).to_be_visible()
    page.get_by_role("link", name="Log in with Frontdesk").click()

    # Frontdesk's login page; no account yet: "Sign up" keeps the way back to the request.
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base)}/login\?next=%2Foauth%2Fauthorize"))
    page.get_by_role("main").get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(
        re.compile(rf"^{re.escape(server.base)}/signup\?next=(%2F|/)oauth(%2F|/)authorize")
    )
    page.get_by_label("Name", exact=True).fill(person.name)
    page.get_by_label("Email", exact=True).fill(person.email)
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_role("button", name="Sign up").click()
    expect_after_submit(page, page.get_by_role("heading", name="Space App wants access"))

    expect_consent(page, server.base, person, "Space App wants access")
    scopes = page.locator("ul.scopes")
    for scope in ("read_user", "read_memberships", "navigation", "openid", "email", "profile"):
        expect(scopes).to_contain_text(f"({scope})")
    screenshot(page, "consent-main-host")
    page.get_by_role("button", name="Approve").click()

    # Back on the app, logged in as this person.
    expect(page).to_have_url(space_app.url + "/")
    expect(page.get_by_text(f"Logged in as {person.name} ({person.email})")).to_be_visible()
    expect(page.get_by_role("heading", name="Spaces you administer")).to_be_visible()
    screenshot(page, "space-app-logged-in")

    # Frontdesk lists the app among the person's authorized apps.
    page.goto(server.base + "/")
    page.get_by_role("link", name="Authorized apps").click()
    expect(page.locator("#authorized-apps").get_by_role("row").filter(has_text="Space App")).to_contain_text(
        "read_memberships"
    )


def test_deny_on_the_main_host_and_the_app_says_so(page: Page, server: Server, space_app: SpaceApp) -> None:
    person = Person.new("Dan")
    sign_up(page, server.base, person)  # logged in on Frontdesk already: straight to consent

    page.goto(space_app.url + "/")
    page.get_by_role("link", name="Log in with Frontdesk").click()
    expect_consent(page, server.base, person, "Space App wants access")
    page.get_by_role("button", name="Deny").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(space_app.url)}/auth/callback\?.*error=access_denied"))
    expect(page.get_by_text("You did not allow Space App; nothing changed.")).to_be_visible()
    screenshot(page, "space-app-denied-main-host")
    page.get_by_role("link", name="Back").click()
    expect(page.get_by_role("link", name="Log in with Frontdesk")).to_be_visible()  # still logged out

    page.goto(server.base + "/account/apps")
    expect(page.locator("#no-apps")).to_have_text("No app has access to your account.")


def test_on_a_space_host_deny_then_approve_the_install(
    page: Page, server: Server, space_app: SpaceApp
) -> None:
    admin = Person.new("Sam")
    sign_up(page, server.base, admin)
    sub = unique_subdomain("deck")
    space_name = f"Deck {sub[-8:]}"
    create_space(page, server.base, space_name, sub)
    space = server.url(f"{sub}.localhost")
    log_in(page, space, admin)  # log in on the space's own host first (sessions are per host)

    page.goto(space_app.url + "/")
    page.get_by_role("link", name="Log in with Frontdesk").click()
    expect_consent(page, server.base, admin, "Space App wants access")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"Logged in as {admin.name}")).to_be_visible()

    # Install → the space's host asks, for this space; Deny.
    page.get_by_role("button", name=f"Install into {space_name}").click()
    expect_consent(page, space, admin, f"Space App wants access in {space_name}")
    screenshot(page, "consent-space-host")
    page.get_by_role("button", name="Deny").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(space_app.url)}/auth/callback\?.*error=access_denied"))
    expect(page.get_by_text("You did not allow Space App; nothing changed.")).to_be_visible()
    page.get_by_role("link", name="Back").click()
    expect(page.get_by_role("button", name=f"Install into {space_name}")).to_be_visible()  # not installed

    # The space has no app, and no link in its navigation.
    page.goto(space + "/admin/apps")
    expect(page.get_by_role("main")).not_to_contain_text("Space App")
    page.goto(space + "/")
    expect_logged_in(page, admin)
    expect(page.get_by_role("link", name="Space App")).to_have_count(0)

    # Install again and approve: installed, with its page in the space's navigation.
    page.goto(space_app.url + "/")
    page.get_by_role("button", name=f"Install into {space_name}").click()
    expect_consent(page, space, admin, f"Space App wants access in {space_name}")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Installed")).to_be_visible()
    expect(page.get_by_text(f"Space App is installed in {space_name}")).to_be_visible()
    page.goto(space + "/")
    expect(page.get_by_role("link", name="Space App")).to_be_visible()
    page.get_by_role("link", name="Apps with access").click()
    expect(page.get_by_role("main")).to_contain_text("Space App")
