"""What a person does in the browser, and the processes the browser tests run beside Frontdesk.

Everything here clicks and types through Playwright's sync API; nothing posts forms itself.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Frame, Locator, Page, expect

from tests.support import PASSWORD

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
STEP_MS = 15_000  # every wait is bounded: no single step of a person takes longer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_subdomain(prefix: str) -> str:
    """A fresh, valid subdomain (lowercase letters, digits and inner hyphens)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    password: str = PASSWORD

    @classmethod
    def new(cls, first_name: str) -> Person:
        tag = uuid.uuid4().hex[:10]
        return cls(name=f"{first_name} {tag}", email=f"{first_name.lower()}-{tag}@example.com")


def screenshot(page: Page, name: str) -> Path:
    """Keep a picture of a key page under test-artifacts/browser/ (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---- a person on Frontdesk's pages ------------------------------------------------------------


def expect_after_submit(page: Page | Frame, expected: Locator) -> None:
    """Wait for ``expected`` after a form was sent, but fail at once, saying why, if Frontdesk
    refused the form instead (its 403 page "Not allowed")."""
    refused = page.get_by_role("heading", name="Not allowed", exact=True)
    expect(expected.or_(refused).first).to_be_visible()
    if refused.is_visible():
        pytest.fail(
            f"Frontdesk refused the form sent from {page.url}: {page.locator('main').inner_text().strip()!r}",
            pytrace=False,
        )


def fill_account_form(page: Page | Frame, person: Person, *, with_name: bool) -> None:
    if with_name:
        page.get_by_label("Name", exact=True).fill(person.name)
    page.get_by_label("Email", exact=True).fill(person.email)
    page.get_by_label("Password", exact=True).fill(person.password)


def sign_up(page: Page, origin: str, person: Person, *, shot: str | None = None) -> None:
    """Open the front page, follow "Sign up", fill in the form, land on the dashboard."""
    page.goto(origin + "/")
    page.get_by_role("link", name="Sign up").first.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    fill_account_form(page, person, with_name=True)
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Sign up").click()
    expect_after_submit(page, page.get_by_role("heading", name=f"Hello, {person.name}"))


def log_in_here(page: Page | Frame, person: Person) -> None:
    """On a login page already open: type the email and password and press "Log in"."""
    heading = page.get_by_role("heading", name=re.compile(r"^Log in"))
    expect(heading).to_be_visible()
    fill_account_form(page, person, with_name=False)
    page.get_by_role("button", name="Log in").click()
    # Gone from the login page (wherever "next" leads), unless Frontdesk refused the form.
    expect_after_submit(page, page.locator("main h1").filter(has_not_text=re.compile(r"^Log in")))


def log_in(page: Page, origin: str, person: Person) -> None:
    """Open ``origin``'s front page, follow "Log in", log in; ends logged in on that host."""
    page.goto(origin + "/")
    page.get_by_role("link", name="Log in").first.click()
    log_in_here(page, person)
    expect_logged_in(page, person)


def expect_logged_in(page: Page, person: Person) -> None:
    header = page.locator("header.top")
    expect(header.locator(".who")).to_have_text(person.name)
    expect(header.get_by_role("button", name="Log out")).to_be_visible()


def expect_logged_out(page: Page) -> None:
    header = page.locator("header.top")
    expect(header.get_by_role("link", name="Log in")).to_be_visible()
    expect(header.get_by_role("button", name="Log out")).to_have_count(0)
    expect(header.locator(".who")).to_have_count(0)


def create_space(page: Page, origin: str, name: str, subdomain: str) -> None:
    """From the dashboard on the main host: "Create a space", fill in name and subdomain."""
    page.goto(origin + "/")
    page.get_by_role("link", name="Create a space").click()
    expect(page.get_by_role("heading", name="Create a space")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Subdomain", exact=True).fill(subdomain)
    page.get_by_role("button", name="Create space").click()
    expect_after_submit(page, page.get_by_role("status").filter(has_text=f"Created {name}."))
    # The dashboard lists it with its own address.
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text(f"{subdomain}.localhost")


# ---- what runs beside Frontdesk: the example app, an attacker's site --------------------------


@dataclass(frozen=True)
class SpaceApp:
    """``python -m examples.space_app`` running beside the server, registered with the CLI."""

    url: str  # http://localhost:APPPORT; its redirect URI is {url}/auth/callback
    client_id: str
    owner: Person  # who registered it
    log: Path  # its output, for when a test fails


@dataclass
class StaticSite:
    """A tiny http.server on 127.0.0.1 serving fixed HTML pages (another origin than Frontdesk)."""

    port: int
    pages: dict[str, str]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def static_site(pages: dict[str, str]) -> Iterator[StaticSite]:
    site = StaticSite(port=0, pages=pages)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site.pages.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
