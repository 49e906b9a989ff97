"""examples/space_app installed into a space and used inside the space's iframe.

An admin logs in on the app via Frontdesk and presses its install button (in-space OAuth on
the space's host, where the login redirect has them log in → space token → navigation link).
A member then opens "Space App" in the space's navigation: the iframe shows the app with the
space's members. The in-frame sign-in runs Frontdesk's own pages inside that iframe: allowed,
because the space's page around it is their own origin (frame-ancestors 'self', X-Frame-Options
SAMEORIGIN), the counterpart of test_clickjacking.py, where another origin may not frame them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from playwright.sync_api import BrowserContext, Frame, FrameLocator, Page, Response, expect

from tests.browser.support import (
    Person,
    SpaceApp,
    create_space,
    expect_logged_in,
    log_in,
    log_in_here,
    screenshot,
    sign_up,
    unique_subdomain,
)
from tests.e2e.conftest import Server


@dataclass(frozen=True)
class Installed:
    admin: Person
    space: str  # the space's origin, http://<subdomain>.localhost:PORT
    name: str
    nav_url: str  # the space's page that frames the app


def app_frame(page: Page) -> FrameLocator:
    return page.frame_locator('section.app-frame iframe[title="Space App"]')


def install_space_app(
    page: Page, server: Server, space_app: SpaceApp, *, shot: str | None = None
) -> Installed:
    """A new admin signs up, creates a space, logs in on the app and installs it there; ends on
    the space's page that frames the app (followed from the app's "Installed" page)."""
    admin = Person.new("Ada")
    sign_up(page, server.base, admin)
    sub = unique_subdomain("hub")
    name = f"Hub {sub[-8:]}"
    create_space(page, server.base, name, sub)
    space = server.url(f"{sub}.localhost")

    # Log in on the app via Frontdesk (main host) and approve.
    page.goto(space_app.url + "/")
    page.get_by_role("link", name="Log in with Frontdesk").click()
    expect(page.get_by_role("heading", name="Space App wants access")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"Logged in as {admin.name}")).to_be_visible()

    # Install: in-space OAuth on the space's host; not logged in there yet, so its login first.
    page.get_by_role("button", name=f"Install into {name}").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(space)}/login\?next=%2Foauth%2Fauthorize"))
    expect(page.get_by_role("heading", name=f"Log in to {name}")).to_be_visible()
    log_in_here(page, admin)
    expect(page).to_have_url(re.compile(rf"^{re.escape(space)}/oauth/authorize\?"))
    expect(page.get_by_role("heading", name=f"Space App wants access in {name}")).to_be_visible()
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Installed")).to_be_visible()
    expect(page.get_by_text(f"Space App is installed in {name}")).to_be_visible()

    page.get_by_role("link", name="Space App", exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(space)}/navigation/\w+$"))
    expect(page.locator("nav.space-nav").get_by_role("link", name="Space App")).to_have_attribute(
        "aria-current", "page"
    )
    expect(app_frame(page).get_by_role("heading", name=f"Hello {admin.name} (admin)")).to_be_visible()
    return Installed(admin=admin, space=space, name=name, nav_url=page.url)


def add_member(page: Page, installed: Installed, member: Person) -> None:
    """The admin adds someone by email under "Members and admins" on the space's host."""
    page.goto(installed.space + "/")
    page.get_by_role("link", name="Members and admins").click()
    page.get_by_label("Email of their account").fill(member.email)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(f"{member.email} is now member of {installed.name}.")


def member_opens_space_app(
    new_context: Callable[[], BrowserContext], server: Server, admin_page: Page, installed: Installed
) -> tuple[Person, Page]:
    """A person signs up in their own browser, the admin adds them, they log in on the space's
    host and click "Space App" in its navigation."""
    member = Person.new("Mo")
    page = new_context().new_page()
    sign_up(page, server.base, member)
    add_member(admin_page, installed, member)
    log_in(page, installed.space, member)
    expect(page.get_by_text(f"You are a member of {installed.name}.")).to_be_visible()
    page.get_by_role("link", name="Space App").click()
    expect(page).to_have_url(installed.nav_url)
    expect(app_frame(page).get_by_role("heading", name=f"Hello {member.name} (member)")).to_be_visible()
    return member, page


def test_a_member_sees_the_installed_app_with_the_member_list_in_the_space_iframe(
    browser_contexts: Callable[[], BrowserContext], page: Page, server: Server, space_app: SpaceApp
) -> None:
    installed = install_space_app(page, server, space_app, shot="consent-space-host-install")
    member, member_page = member_opens_space_app(browser_contexts, server, page, installed)

    frame = app_frame(member_page)
    expect(frame.get_by_text(f"Space App in {installed.name}, opened on {installed.space}.")).to_be_visible()
    members = frame.locator("table")
    expect(members.get_by_role("row").filter(has_text=installed.admin.name)).to_contain_text("admin")
    expect(members.get_by_role("row").filter(has_text=member.name)).to_contain_text("member")
    expect(members.get_by_role("row")).to_have_count(3)  # the header and two people
    # The frame is the app, on its own origin, opened with the signed context.
    framed = member_page.frame(url=re.compile(rf"^{re.escape(space_app.url)}/embed\?"))
    assert framed is not None and framed.parent_frame == member_page.main_frame
    assert "frontdesk_context=" in framed.url and "cobot_subdomain=" in framed.url
    screenshot(member_page, "space-navigation-iframe")


def _framed_frontdesk_page(page: Page, space: str) -> Frame | None:
    return next(
        (f for f in page.frames if f.parent_frame is not None and f.url.startswith(space + "/")), None
    )


def test_sign_in_inside_the_space_iframe_on_the_spaces_own_host(
    browser_contexts: Callable[[], BrowserContext], page: Page, server: Server, space_app: SpaceApp
) -> None:
    installed = install_space_app(page, server, space_app)
    member, member_page = member_opens_space_app(browser_contexts, server, page, installed)
    frame = app_frame(member_page)
    framed_answers: list[Response] = []
    member_page.on(
        "response",
        lambda r: (
            r.url.startswith(installed.space + "/")
            and r.frame.parent_frame is not None
            and framed_answers.append(r)
        ),
    )

    frame.get_by_role("link", name="Sign in to Space App inside this frame").click()
    # The person is logged in on this host, so Frontdesk shows its consent page right away,
    # inside the frame (no second login, although Chromium withholds SameSite=Lax cookies from
    # a frame navigation that the app, another site, started: Frontdesk reloads it once from
    # its own origin).
    consent = frame.get_by_role("heading", name=f"Space App wants access in {installed.name}")
    login = frame.get_by_role("heading", name=f"Log in to {installed.name}")
    expect(consent.or_(login).first).to_be_visible()
    if login.is_visible():
        screenshot(member_page, "login-inside-the-space-iframe")
    expect(login, "asked to log in again inside the frame").to_have_count(0)
    expect(frame.get_by_text(f"Signed in as {member.name} ({member.email})")).to_be_visible()
    screenshot(member_page, "consent-inside-the-space-iframe")

    # Frontdesk's page renders inside the frame: framed by its own origin, which it allows.
    framed = _framed_frontdesk_page(member_page, installed.space)
    assert framed is not None, [f.url for f in member_page.frames]
    assert framed.parent_frame == member_page.main_frame
    assert framed.url.startswith(installed.space + "/oauth/authorize?"), framed.url
    html = [r for r in framed_answers if r.headers.get("content-type", "").startswith("text/html")]
    assert html, [r.url for r in framed_answers]
    for response in html:
        assert response.headers.get("x-frame-options") == "SAMEORIGIN", response.url
        assert "frame-ancestors 'self'" in response.headers.get("content-security-policy", ""), response.url

    frame.get_by_role("button", name="Approve").click()
    signed_in = frame.get_by_role("heading", name=f"Signed in inside the frame as {member.email}")
    expect(signed_in).to_be_visible()
    frame.get_by_role("link", name="Back to Space App").click()
    expect(frame.get_by_role("heading", name=f"Hello {member.name} (member)")).to_be_visible()
    expect(frame.get_by_text(re.compile(rf"signed in .*{re.escape(member.email)}", re.I))).to_be_visible()
    expect(frame.get_by_role("link", name="Sign in to Space App inside this frame")).to_have_count(0)

    # All along the person's page stayed the space's page, still logged in.
    expect(member_page).to_have_url(installed.nav_url)
    expect_logged_in(member_page, member)
