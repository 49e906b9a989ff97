"""A developer signs up, creates a space and registers an app, all in the browser; the client
secret and the test token are shown once, hidden later, and shown again (the same ones) after
the developer confirms their password."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.support import Person, create_space, screenshot, sign_up, unique, unique_subdomain
from tests.e2e.conftest import Server

SCOPES = ("read_user", "read_memberships", "navigation")


def test_register_an_app_and_see_its_secrets_again_after_confirming_the_password(
    page: Page, server: Server
) -> None:
    dev = Person.new("Dana")
    sign_up(page, server.base, dev, shot="signup")

    subdomain = unique_subdomain("studio")
    create_space(page, server.base, "Dana's Studio", subdomain)

    # Apps → Register an app: fill the form, tick scopes.
    page.get_by_role("navigation").get_by_role("link", name="Apps", exact=True).click()
    expect(page.get_by_role("heading", name="Your apps")).to_be_visible()
    page.get_by_role("link", name="Register an app").click()
    expect(page.get_by_role("heading", name="Register an app")).to_be_visible()
    app_name = unique("Desk Planner")
    page.get_by_label("Name", exact=True).fill(app_name)
    page.get_by_label("Main URL (optional)").fill("https://planner.example.com/")
    page.get_by_label("Redirect URIs", exact=True).fill(
        "https://planner.example.com/auth/callback\nhttp://localhost:9/cb"
    )
    for scope in SCOPES:
        box = page.locator(f'input[name="scope"][value="{scope}"]')
        box.check()
        expect(box).to_be_checked()
    page.get_by_role("button", name="Register app").click()

    # The app's page: flash, client id, and, this once, the secret and the test token.
    expect(page.get_by_role("heading", name=app_name, level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"Registered {app_name}.")
    client_id = page.locator("#client-id").inner_text()
    secret, token = page.locator("#client-secret"), page.locator("#test-access-token")
    expect(secret).to_be_visible()
    expect(token).to_be_visible()
    first_secret, first_token = secret.inner_text().strip(), token.inner_text().strip()
    assert client_id and len(first_secret) >= 20 and len(first_token) >= 20
    expect(page.get_by_text("Copy these now.")).to_be_visible()
    for scope in SCOPES:
        expect(page.locator(f'input[name="scope"][value="{scope}"]')).to_be_checked()
    screenshot(page, "app-page-with-secrets")

    # Leave (back to the list) and come back: the secrets are hidden, a password form instead.
    page.get_by_role("link", name="Your apps").click()
    expect(page.get_by_role("heading", name="Your apps")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=app_name)).to_contain_text(client_id)
    page.get_by_role("link", name=app_name).click()
    expect(page.get_by_role("heading", name=app_name, level=1)).to_be_visible()
    expect(page.locator("#client-id")).to_have_text(client_id)
    expect(page.locator("#client-secret")).to_have_count(0)
    expect(page.locator("#test-access-token")).to_have_count(0)
    assert first_secret not in page.content() and first_token not in page.content()
    expect(page.get_by_text("Confirm your password to show the secret and test token.")).to_be_visible()
    screenshot(page, "app-page-secrets-hidden")

    # A wrong password shows nothing.
    page.get_by_label("Your password").fill("not the password")
    page.get_by_role("button", name="Show the secret and test token").click()
    expect(page.get_by_text("Wrong password.")).to_be_visible()
    expect(page.locator("#client-secret")).to_have_count(0)

    # The right one shows the same secret and test token again.
    page.get_by_label("Your password").fill(dev.password)
    page.get_by_role("button", name="Show the secret and test token").click()
    expect(page.locator("#client-secret")).to_have_text(first_secret)
    expect(page.locator("#test-access-token")).to_have_text(first_token)
    expect(page.get_by_text("Confirm your password")).to_have_count(0)
    screenshot(page, "app-page-secrets-after-password")
