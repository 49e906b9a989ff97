"""Every kind of page at a phone's, a tablet's and a desktop's width, in light and in dark.

On each page and width: nothing is wider than the window (no sideways scrolling of the whole
page), the page's stylesheet is applied, there is a ``<main id="content">``, a screenshot is
kept under test-artifacts/browser/screens/ (gitignored), and axe-core, run in the page itself,
finds no WCAG 2.0/2.1/2.2 A or AA violation (contrast included). A keyboard test follows:
the first Tab reaches "Skip to content", Enter moves focus to the main content, and a person
logs in and out with the keyboard alone, every focused control showing a visible outline.

axe-core comes from the npm registry, pinned in tests/browser/package-lock.json and installed
into tests/browser/node_modules by ``make test`` (``make browser-js``); it is injected by
Playwright, never served by Frontdesk.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import keep_failure_screenshots
from tests.browser.support import (
    ARTIFACTS,
    STEP_MS,
    Person,
    expect_logged_in,
    expect_logged_out,
    log_in,
    log_in_here,
    unique_subdomain,
)
from tests.e2e.conftest import Server, cli

AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
AXE_MISSING = (
    f"axe-core not installed at {AXE}: run `make browser-js` (npm ci in tests/browser), "
    "which `make test` does first"
)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCREENS = ARTIFACTS / "screens"
WIDTHS = (320, 768, 1280)
HEIGHT = 800
REDIRECT_URI = "http://localhost:9/cb"


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        if os.environ.get("FRONTDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(AXE_MISSING, pytrace=False)
        pytest.skip(AXE_MISSING)
    return AXE


@dataclass(frozen=True)
class Site:
    """What the pages show: one person who administers a space and registered an app."""

    person: Person
    space_origin: str
    client_id: str
    unknown_origin: str

    def consent_url(self, base: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile email read_user",
            "state": "screens",
        }
        return f"{base}/oauth/authorize?{urlencode(query)}"


@pytest.fixture(scope="module")
def site(server: Server) -> Site:
    person = Person.new("Lena")
    cli(server, "users", "create", person.email, "--password", person.password, "--name", person.name)
    subdomain = unique_subdomain("screens")
    cli(server, "spaces", "create", subdomain, "--name", "Screens Coworking", "--admin", person.email)
    # Long unbroken values (a URL, a client id) are what used to widen pages.
    app = cli(
        server,
        *("clients", "create", "Screen Test App With A Rather Long Name", "--owner", person.email),
        *("--redirect-uri", REDIRECT_URI, "--scope", "read_user read_memberships navigation"),
        *("--main-url", "https://a-very-long-subdomain-name.example.com/with/a/long/path/to/the/app"),
    )
    return Site(
        person=person,
        space_origin=f"http://{subdomain}.localhost:{server.port}",
        client_id=app["client_id"],
        unknown_origin=f"http://nowhere-served.localhost:{server.port}",
    )


@dataclass(frozen=True)
class Screen:
    name: str
    url: str
    status: int
    heading: str  # a part of the page's h1, to know the right page is shown


def screens(server: Server, site: Site) -> tuple[list[Screen], list[Screen], list[Screen]]:
    """(anonymous, logged in on the main host, logged in on the space's host)."""
    base, space = server.base, site.space_origin
    anonymous = [
        Screen("home", base + "/", 200, "Frontdesk"),
        Screen("login", base + "/login", 200, "Log in"),
        Screen("signup", base + "/signup", 200, "Create your account"),
        Screen("password-forgot", base + "/password/forgot", 200, ""),
        # An emailed link that is not (or no longer) valid: the page says so.
        Screen("email-change-link", base + "/account/email/confirm?token=fdel_x", 404, "Confirm your new"),
        Screen("error-404", base + "/no-such-page", 404, "Not found"),
        Screen("logged-out", base + "/oauth/logout", 200, "You are signed out"),
        Screen("unknown-host", site.unknown_origin + "/", 404, "Unknown host"),
    ]
    main = [
        Screen("dashboard", base + "/", 200, "Hello"),
        Screen("consent", site.consent_url(base), 200, "wants access"),
        Screen(
            "oauth-error",
            f"{base}/oauth/authorize?response_type=code&client_id=no-such-app&state=s",
            400,
            "",
        ),
        Screen("apps-list", base + "/oauth2_clients", 200, "Your apps"),
        Screen("apps-new", base + "/oauth2_clients/new", 200, "Register an app"),
        Screen("apps-show", f"{base}/oauth2_clients/{site.client_id}", 200, "Screen Test App"),
        Screen("account", base + "/account", 200, ""),
        Screen("account-two-factor", base + "/account/two-factor", 200, "Two-step login"),
        Screen("account-passkeys", base + "/account/passkeys", 200, "Passkeys"),
        Screen("account-apps", base + "/account/apps", 200, ""),
        Screen("account-sessions", base + "/account/sessions", 200, "Where you're signed in"),
        # The end-session endpoint with no id_token_hint: it asks first.
        Screen("logout-confirm", base + "/oauth/logout", 200, "Sign out?"),
        Screen("account-activity", base + "/account/activity", 200, ""),
        Screen("account-delete", base + "/account/delete", 200, "Delete your account"),
        Screen("api-docs", base + "/docs", 200, ""),
    ]
    on_space = [
        Screen("space-home", space + "/", 200, ""),
        Screen("space-members", space + "/admin/members", 200, "Members of Screens Coworking"),
        Screen("invitation-link", space + "/invitation?token=fdel_x", 404, "Invitation to Screens Coworking"),
        Screen("space-settings", space + "/admin/settings", 200, ""),
        Screen("space-apps", space + "/admin/apps", 200, ""),
    ]
    return anonymous, main, on_space


# The width the page's content needs, against the window's: the page must never scroll sideways.
FITS = "() => [document.documentElement.scrollWidth, window.innerWidth]"
# Frontdesk's stylesheet is applied (linked, or inline on the unknown-host page): its skip link
# is out of sight until focused.
STYLED = "() => getComputedStyle(document.querySelector('a.skip-link')).position === 'absolute'"
RUN_AXE = """async (tags) => {
    const only = {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']};
    const result = await axe.run(document, only);
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map(
            n => n.target.join(' ') + ': ' + n.failureSummary.replace(/\\s+/g, ' ')),
    }));
}"""


def check_screen(page: Page, screen: Screen, scheme: str, axe: Path) -> list[str]:
    """Visit ``screen`` at every width; returns what is wrong, one line each."""
    problems: list[str] = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        response = page.goto(screen.url)
        where = f"{screen.name} at {width} px ({scheme})"
        assert response is not None
        if response.status != screen.status:
            problems.append(f"{where}: status {response.status}, expected {screen.status}")
        expect(page.locator("main#content h1")).to_contain_text(screen.heading)
        if not page.evaluate(STYLED):
            problems.append(f"{where}: Frontdesk's stylesheet is not applied")
        scroll_width, inner_width = page.evaluate(FITS)
        if scroll_width > inner_width:
            problems.append(f"{where}: the page is {scroll_width} px wide in a {inner_width} px window")
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / f"{screen.name}-{width}-{scheme}.png"), full_page=True)
        page.add_script_tag(path=str(axe))
        for v in page.evaluate(RUN_AXE, AXE_TAGS):
            problems.append(f"{where}: axe {v['id']} ({v['impact']}): {v['help']}: {json.dumps(v['nodes'])}")
    return problems


@pytest.fixture
def scheme_contexts(
    chromium: Browser, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], BrowserContext]]:
    """Fresh profiles in a colour scheme, closed after the test (a failed test's pages are kept
    under test-artifacts/browser/failures/). The pages' CSP allows no inline script
    (web/middleware.py); these profiles bypass it so axe-core can be injected."""
    made: list[BrowserContext] = []

    def make(scheme: str) -> BrowserContext:
        context = chromium.new_context(
            viewport={"width": WIDTHS[-1], "height": HEIGHT},
            locale="en-US",
            color_scheme="dark" if scheme == "dark" else "light",
            bypass_csp=True,
        )
        context.set_default_timeout(STEP_MS)
        context.set_default_navigation_timeout(STEP_MS)
        made.append(context)
        return context

    try:
        yield make
    finally:
        keep_failure_screenshots(request, made)
        for context in made:
            context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_fits_from_320_px_and_passes_axe(
    scheme: str,
    axe_script: Path,
    server: Server,
    site: Site,
    scheme_contexts: Callable[[str], BrowserContext],
) -> None:
    anonymous, main, on_space = screens(server, site)
    problems: list[str] = []

    page = scheme_contexts(scheme).new_page()
    # emulate_media as well as the context's setting: what the page sees is the scheme asked for.
    page.emulate_media(color_scheme="dark" if scheme == "dark" else "light")
    dark = page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
    assert dark == (scheme == "dark")
    for screen in anonymous:
        problems += check_screen(page, screen, scheme, axe_script)

    log_in(page, server.base, site.person)
    for screen in main:
        problems += check_screen(page, screen, scheme, axe_script)

    log_in(page, site.space_origin, site.person)
    for screen in on_space:
        problems += check_screen(page, screen, scheme, axe_script)

    assert not problems, f"screenshots in {SCREENS}\n" + "\n".join(problems)


def test_german_pages_fit_and_pass_axe(
    axe_script: Path, chromium: Browser, server: Server, site: Site, request: pytest.FixtureRequest
) -> None:
    """The pages in German (issue 13): from the browser's language (a de-DE profile) before
    logging in, then from the footer's chooser; ``<html lang>`` follows, and the longer German
    words still fit at 320 px."""
    base = server.base
    # A person of its own: choosing German sets the account's language, which then follows
    # the person to every host they log in on, and the module's other tests log in as site's.
    person = Person.new("Lea")
    cli(server, "users", "create", person.email, "--password", person.password, "--name", person.name)
    subdomain = unique_subdomain("german")
    cli(server, "spaces", "create", subdomain, "--name", "Screens Coworking", "--admin", person.email)
    space_origin = f"http://{subdomain}.localhost:{server.port}"
    german = chromium.new_context(
        viewport={"width": WIDTHS[-1], "height": HEIGHT}, locale="de-DE", bypass_csp=True
    )
    english = chromium.new_context(
        viewport={"width": WIDTHS[-1], "height": HEIGHT}, locale="en-US", bypass_csp=True
    )
    problems: list[str] = []
    try:
        for context in (german, english):
            context.set_default_timeout(STEP_MS)
            context.set_default_navigation_timeout(STEP_MS)
        page = german.new_page()
        for screen in (
            Screen("de-login", base + "/login", 200, "Anmelden"),
            Screen("de-signup", base + "/signup", 200, "Konto erstellen"),
            Screen("de-error-404", base + "/no-such-page", 404, "Nicht gefunden"),
        ):
            problems += check_screen(page, screen, "light", axe_script)
            assert page.evaluate("() => document.documentElement.lang") == "de"
        # Logged in with an English browser, German chosen in the footer.
        page = english.new_page()
        log_in(page, base, person)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.get_by_label("Language").select_option("de")
        page.get_by_role("button", name="Change").click()
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.locator("main#content h1")).to_contain_text("Hallo")
        for screen in (
            Screen("de-consent", site.consent_url(base), 200, "möchte Zugriff"),
            Screen("de-account", base + "/account", 200, "Ihr Konto"),
            Screen("de-apps-new", base + "/oauth2_clients/new", 200, "App registrieren"),
            Screen("de-account-two-factor", base + "/account/two-factor", 200, "Anmeldung in zwei Schritten"),
            Screen("de-account-passkeys", base + "/account/passkeys", 200, "Passkeys"),
            Screen("de-account-sessions", base + "/account/sessions", 200, "Wo Sie angemeldet sind"),
            Screen("de-account-delete", base + "/account/delete", 200, "Ihr Konto löschen"),
        ):
            problems += check_screen(page, screen, "light", axe_script)
        # Logged in on the space's host too: the language chosen is the account's.
        page.goto(space_origin + "/login")
        log_in_here(page, person)
        expect(page.locator("html")).to_have_attribute("lang", "de")
        for screen in (
            Screen("de-space-members", space_origin + "/admin/members", 200, "Mitglieder von"),
            Screen("de-space-settings", space_origin + "/admin/settings", 200, ""),
            Screen("de-space-apps", space_origin + "/admin/apps", 200, ""),
        ):
            problems += check_screen(page, screen, "light", axe_script)
    finally:
        keep_failure_screenshots(request, [german, english])
        german.close()
        english.close()
    assert not problems, f"screenshots in {SCREENS}\n" + "\n".join(problems)


def test_dark_and_light_pages_differ(
    server: Server, site: Site, scheme_contexts: Callable[[str], BrowserContext]
) -> None:
    """The dark scheme is really dark and the light one light (the unknown-host page too)."""
    for url in (server.base + "/login", site.unknown_origin + "/"):
        backgrounds = {}
        for scheme in ("light", "dark"):
            page = scheme_contexts(scheme).new_page()
            page.goto(url)
            backgrounds[scheme] = page.evaluate(
                "() => getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
            )
        assert sum(backgrounds["light"]) > 3 * 200, (url, backgrounds)
        assert sum(backgrounds["dark"]) < 3 * 60, (url, backgrounds)


# ---- the keyboard alone ------------------------------------------------------------------------

FOCUSED = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return {
        tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || '').trim(),
        href: el.getAttribute('href'), name: el.getAttribute('name'),
        inMain: !!el.closest('main'),
        outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
        visible: (() => { const r = el.getBoundingClientRect();
                          return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0
                                 && r.bottom <= innerHeight && r.right <= innerWidth; })(),
    };
}"""


def tab(page: Page) -> dict[str, object]:
    page.keyboard.press("Tab")
    focused: dict[str, object] = page.evaluate(FOCUSED)
    return focused


def tab_to(page: Page, matches: Callable[[dict[str, object]], bool], limit: int = 30) -> dict[str, object]:
    """Press Tab until ``matches`` the focused element; every stop on the way shows an outline."""
    for _ in range(limit):
        focused = tab(page)
        assert focused["outline"], f"no visible focus outline on {focused}"
        if matches(focused):
            return focused
    pytest.fail(f"not reached with {limit} presses of Tab on {page.url}")


@pytest.mark.parametrize("width", [320, 1280])
def test_the_first_tab_reaches_skip_to_content_and_enter_moves_to_the_main_content(
    width: int, server: Server, site: Site, scheme_contexts: Callable[[str], BrowserContext]
) -> None:
    context = scheme_contexts("light")
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": HEIGHT})
    # (page, whether its main content has a link or a field to go on to)
    for url, goes_on in (
        (server.base + "/", True),
        (server.base + "/login", True),
        (site.unknown_origin + "/", False),
    ):
        page.goto(url)
        first = tab(page)
        assert (first["tag"], first["text"], first["href"]) == ("a", "Skip to content", "#content"), url
        assert first["visible"] and first["outline"], first
        page.keyboard.press("Enter")
        focused = page.evaluate(FOCUSED)
        assert (focused["tag"], focused["id"]) == ("main", "content"), (url, focused)
        if goes_on:
            # The next Tab continues inside the main content, past the header.
            after = tab(page)
            assert after["inMain"], (url, after)


def test_log_in_and_out_with_the_keyboard_alone(
    server: Server, site: Site, scheme_contexts: Callable[[str], BrowserContext]
) -> None:
    page = scheme_contexts("dark").new_page()
    page.set_viewport_size({"width": 320, "height": HEIGHT})
    page.goto(server.base + "/")
    tab_to(page, lambda f: f["text"] == "Log in" and not f["inMain"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(r"^Log in"))).to_be_visible()
    tab_to(page, lambda f: f["name"] == "email")
    page.keyboard.type(site.person.email)
    tab_to(page, lambda f: f["name"] == "password")
    page.keyboard.type(site.person.password)
    page.keyboard.press("Enter")
    expect_logged_in(page, site.person)

    focused = tab_to(page, lambda f: f["text"] == "Log out")
    assert focused["visible"], focused  # not cut off at 320 px
    page.keyboard.press("Enter")
    expect_logged_out(page)
