"""Sessions are per host: logging in on one space's host logs nobody in on another space's host
or on the main host, because Frontdesk's cookies are host-only."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.support import (
    Person,
    create_space,
    expect_logged_in,
    expect_logged_out,
    log_in,
    sign_up,
    unique_subdomain,
)
from tests.e2e.conftest import Server

SESSION = "frontdesk_session"


def test_a_space_hosts_session_cookie_is_not_sent_to_another_space_or_the_main_host(
    context: BrowserContext, page: Page, server: Server
) -> None:
    owner = Person.new("Ada")
    sign_up(page, server.base, owner)
    a, b = unique_subdomain("a"), unique_subdomain("b")
    create_space(page, server.base, "Space A", a)
    create_space(page, server.base, "Space B", b)
    host_a, host_b = f"{a}.localhost", f"{b}.localhost"
    origin_a, origin_b = server.url(host_a), server.url(host_b)

    # Start over with no cookies at all, then log in on space A's host only.
    context.clear_cookies()
    log_in(page, origin_a, owner)
    expect(page.get_by_role("heading", name="Space A", level=1)).to_be_visible()
    expect(page.get_by_text("You are an admin of Space A.")).to_be_visible()

    sessions = [c for c in context.cookies() if c["name"] == SESSION]
    assert len(sessions) == 1, sessions
    cookie = sessions[0]
    # Host-only: Playwright reports a cookie set without a Domain attribute under the bare host
    # name; one set with Domain=… would show a leading dot and reach every subdomain.
    assert cookie["domain"] == host_a, cookie
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/", cookie
    # Nothing at all the browser holds would be sent to B's host or to the main host.
    assert context.cookies(origin_b) == [], context.cookies(origin_b)
    assert context.cookies(server.base) == [], context.cookies(server.base)

    # Space B's host: logged out, although the same person is logged in on A.
    page.goto(origin_b + "/")
    expect(page.get_by_role("heading", name="Space B", level=1)).to_be_visible()
    expect(page.get_by_text("Log in to see this space.")).to_be_visible()
    expect_logged_out(page)
    page.goto(origin_b + "/admin/members")
    expect(page).to_have_url(f"{origin_b}/login?next=%2Fadmin%2Fmembers")

    # The main host: logged out too.
    page.goto(server.base + "/")
    expect(page.get_by_role("heading", name="Frontdesk", level=1)).to_be_visible()
    expect_logged_out(page)

    # And A still is logged in: nothing above disturbed its session.
    page.goto(origin_a + "/")
    expect_logged_in(page, owner)
    assert [c["domain"] for c in context.cookies() if c["name"] == SESSION] == [host_a]
