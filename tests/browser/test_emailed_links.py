"""Links that arrive by email, followed in the real browser: verification, password reset,
email change and invitations (an existing account and a new one).

The server of this module sends its mail over SMTP to a real server started by the test
(tests/accounts/mailbox.py, aiosmtpd); the email worker runs inside ``frontdesk serve`` as in
production. Each test waits (bounded) for its message, takes the link out of it and opens it
in Chromium, then clicks and types like a person.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.accounts.mailbox import Mailbox, link_in, text_of
from tests.browser.support import (
    STEP_MS,
    Person,
    expect_after_submit,
    expect_logged_in,
    log_in,
    log_in_here,
    screenshot,
    sign_up,
    unique_subdomain,
)
from tests.browser.test_screens import AXE, AXE_MISSING, Screen, check_screen
from tests.e2e.conftest import FRONTDESK, Server, cli, free_port, server_env, start, wait_ready
from tests.support import stop_process


@pytest.fixture(scope="module")
def inbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, inbox: Mailbox) -> Iterator[Server]:
    """``frontdesk serve`` (as tests/browser/conftest.py starts it) sending mail to ``inbox``."""
    tmp = tmp_path_factory.mktemp("emailed-links")
    port = free_port()
    env = server_env(
        tmp,
        port,
        FRONTDESK_SMTP_HOST="127.0.0.1",
        FRONTDESK_SMTP_PORT=str(inbox.port),
        FRONTDESK_SMTP_SECURITY="none",
        FRONTDESK_EMAIL_FROM="Frontdesk <frontdesk@example.com>",
        FRONTDESK_EMAIL_POLL_SECONDS="0.2",
    )
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        yield Server(port=port, base=f"http://localhost:{port}", log=tmp / "server.log", env=env)
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def axe() -> Path:
    """axe-core, as tests/browser/test_screens.py finds it."""
    if not AXE.exists():
        if os.environ.get("FRONTDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(AXE_MISSING, pytrace=False)
        pytest.skip(AXE_MISSING)
    return AXE


def received(inbox: Mailbox, to: str, subject: str) -> EmailMessage:
    """The message with ``subject`` sent to ``to``, once it arrived (bounded wait)."""
    deadline = time.monotonic() + STEP_MS / 1000
    while time.monotonic() < deadline:
        found = [m for m in inbox.to(to) if m["Subject"] == subject]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(
        f"no message {subject!r} to {to} arrived; got {[m['Subject'] for m in inbox.to(to)]}"
    )


def new_user(server: Server, first_name: str) -> Person:
    person = Person.new(first_name)
    cli(server, "users", "create", person.email, "--password", person.password, "--name", person.name)
    return person


def test_sign_up_then_follow_the_verification_link(page: Page, server: Server, inbox: Mailbox) -> None:
    person = Person.new("Vera")
    sign_up(page, server.base, person)
    page.goto(server.base + "/account")
    expect(page.locator("#email-status")).to_have_text("(not verified)")
    link = link_in(received(inbox, person.email, "Confirm your email address"))
    page.goto(link)
    expect(page.get_by_role("heading", name="Verify your email address")).to_be_visible()
    screenshot(page, "emailed-verification")
    page.get_by_role("button", name="Confirm my email address").click()
    expect_after_submit(page, page.locator("#email-verified"))
    page.goto(server.base + "/account")
    expect(page.locator("#email-status")).to_have_text("(verified)")


def test_forgot_password_then_follow_the_reset_link(
    browser_contexts: Callable[[], BrowserContext], server: Server, inbox: Mailbox
) -> None:
    person = new_user(server, "Rosa")
    page = browser_contexts().new_page()
    page.goto(server.base + "/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email", exact=True).fill(person.email)
    page.get_by_role("button", name="Send me a link").click()
    expect_after_submit(page, page.locator("#reset-sent"))
    link = link_in(received(inbox, person.email, "Reset your password"))
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    screenshot(page, "emailed-password-reset")
    page.get_by_label("New password", exact=True).fill("a brand new password 42")
    page.get_by_role("button", name="Set new password").click()
    expect_after_submit(page, page.get_by_role("status").filter(has_text="Your password was changed"))
    expect_logged_in(page, person)
    # Another browser: the old password no longer works, the new one does.
    other = browser_contexts().new_page()
    renewed = Person(name=person.name, email=person.email, password="a brand new password 42")
    log_in(other, server.base, renewed)


def test_change_email_then_follow_the_link_sent_to_the_new_address(
    page: Page, server: Server, inbox: Mailbox
) -> None:
    person = new_user(server, "Cleo")
    new_address = Person.new("Cleo").email
    log_in(page, server.base, person)
    page.goto(server.base + "/account")
    page.get_by_label("New email address", exact=True).fill(new_address)
    page.get_by_label("Your password", exact=True).fill(person.password)
    page.get_by_role("button", name="Send confirmation link").click()
    expect_after_submit(page, page.get_by_role("status").filter(has_text=f"We sent a link to {new_address}"))
    notice = received(inbox, person.email, "Your email address is about to change")
    assert new_address in text_of(notice)
    link = link_in(received(inbox, new_address, "Confirm your new email address"))
    page.goto(link)
    expect(page.locator("#new-email")).to_have_text(new_address)
    screenshot(page, "emailed-email-change")
    page.get_by_role("button", name="Confirm my new address").click()
    expect_after_submit(page, page.locator("#email-changed"))
    page.goto(server.base + "/account")
    expect(page.locator("#email")).to_contain_text(new_address)
    expect(page.locator("#email-status")).to_have_text("(verified)")


def invite(page: Page, space_origin: str, email: str, role: str) -> None:
    page.goto(space_origin + "/admin/members")
    page.get_by_label("Email address", exact=True).fill(email)
    page.locator("#f-invite_role").select_option(role)
    page.get_by_role("button", name="Send invitation").click()
    expect_after_submit(page, page.get_by_role("status").filter(has_text=f"We sent an invitation to {email}"))
    expect(page.locator("#pending-invitations")).to_contain_text(email)


def test_invitations_followed_by_a_new_person_and_by_an_existing_account(
    browser_contexts: Callable[[], BrowserContext], server: Server, inbox: Mailbox
) -> None:
    owner = new_user(server, "Olga")
    subdomain = unique_subdomain("invites")
    cli(server, "spaces", "create", subdomain, "--name", "Invite Coworking", "--admin", owner.email)
    space = f"http://{subdomain}.localhost:{server.port}"
    admin = browser_contexts().new_page()
    log_in(admin, space, owner)

    # Someone without an account: signs up from the invitation, joins as an admin.
    newcomer = Person.new("Nina")
    invite(admin, space, newcomer.email, "admin")
    screenshot(admin, "invitation-pending")
    link = link_in(received(inbox, newcomer.email, "You are invited to Invite Coworking"))
    assert link.startswith(space + "/invitation?token=fdel_")
    page = browser_contexts().new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Invitation to Invite Coworking")).to_be_visible()
    expect(page.locator("#invitation-role")).to_have_text("an admin")
    screenshot(page, "invitation-new-person")
    page.get_by_label("Name", exact=True).fill(newcomer.name)
    page.get_by_label("Password", exact=True).fill(newcomer.password)
    page.get_by_role("button", name="Create account and join").click()
    expect_after_submit(
        page,
        page.get_by_role("status").filter(has_text="Welcome to Invite Coworking: you joined as an admin."),
    )
    expect_logged_in(page, newcomer)
    page.goto(server.base + "/")
    page.get_by_role("link", name="Log in").first.click()
    log_in_here(page, newcomer)
    page.goto(server.base + "/account")
    expect(page.locator("#email-status")).to_have_text("(verified)")

    # Someone with an account: logs in from the invitation, comes back to it and accepts.
    member = new_user(server, "Milo")
    invite(admin, space, member.email, "member")
    link = link_in(received(inbox, member.email, "You are invited to Invite Coworking"))
    page = browser_contexts().new_page()
    page.goto(link)
    page.get_by_role("link", name="Log in to accept").click()
    log_in_here(page, member)
    expect(page.get_by_role("heading", name="Invitation to Invite Coworking")).to_be_visible()
    page.get_by_role("button", name="Accept and join Invite Coworking").click()
    expect_after_submit(
        page,
        page.get_by_role("status").filter(has_text="Welcome to Invite Coworking: you joined as a member."),
    )
    admin.goto(space + "/admin/members")
    expect(admin.locator("table").first).to_contain_text(member.email)
    expect(admin.locator("#no-invitations")).to_be_visible()
    screenshot(admin, "invitation-accepted-members")


def test_the_pages_behind_emailed_links_fit_from_320_px_and_pass_axe(
    chromium: Browser, axe: Path, server: Server, inbox: Mailbox
) -> None:
    """The forms that valid links open (tests/browser/test_screens.py checks the pages without
    a valid link), and the deletion page with its form, at every width, by axe-core."""
    person = new_user(server, "Ada")
    subdomain = unique_subdomain("axe")
    owner = new_user(server, "Otto")
    cli(server, "spaces", "create", subdomain, "--name", "Axe Coworking", "--admin", owner.email)
    space = f"http://{subdomain}.localhost:{server.port}"
    # axe-core is injected into the page: these profiles bypass the pages' CSP (as test_screens's).
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", bypass_csp=True)
    context.set_default_timeout(STEP_MS)
    try:
        page = context.new_page()
        log_in(page, space, owner)
        invitee = Person.new("Ines").email
        invite(page, space, invitee, "member")
        invitation = link_in(received(inbox, invitee, "You are invited to Axe Coworking"))
        log_in(page, server.base, person)
        changed = Person.new("Ada").email
        page.goto(server.base + "/account")
        page.get_by_label("New email address", exact=True).fill(changed)
        page.get_by_label("Your password", exact=True).fill(person.password)
        page.get_by_role("button", name="Send confirmation link").click()
        expect_after_submit(page, page.get_by_role("status").filter(has_text=f"We sent a link to {changed}"))
        confirm = link_in(received(inbox, changed, "Confirm your new email address"))
        problems: list[str] = []
        for screen in (
            Screen("email-change-confirm", confirm, 200, "Confirm your new email address"),
            Screen("account-delete-form", server.base + "/account/delete", 200, "Delete your account"),
            Screen("invitation-logged-in", invitation, 200, "Invitation to Axe Coworking"),
        ):
            problems += check_screen(page, screen, "light", axe)
        # Logged out, with no account for the address: the sign-up form.
        guest = chromium.new_context(bypass_csp=True, locale="en-US")
        guest.set_default_timeout(STEP_MS)
        try:
            screen = Screen("invitation-sign-up", invitation, 200, "Invitation to Axe Coworking")
            problems += check_screen(guest.new_page(), screen, "light", axe)
        finally:
            guest.close()
        assert problems == []
    finally:
        context.close()
