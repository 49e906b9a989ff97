"""Logging in and consenting on a plain-http host that is not ``localhost``: a LAN or staging
name for the platform, and a space's custom domain in development (``members.harbour.test``,
the example app's custom-domain step).

Chromium treats such hosts as insecure origins: with a page policy of
``Referrer-Policy: no-referrer`` it sends ``Origin: null`` and no ``Sec-Fetch-Site`` on the
page's own form posts, and Frontdesk's anti-forgery check (web/csrf.py) refused them. The
pages now keep the origin for same-origin requests (web/middleware.py).

Chromium resolves the ``*.harbour.test`` names to 127.0.0.1 through ``--host-resolver-rules``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.browser.conftest import launch
from tests.browser.support import Person, StaticSite, expect_after_submit, log_in, sign_up, static_site
from tests.e2e.conftest import FRONTDESK, Server, cli, free_port, server_env, start, wait_ready
from tests.support import stop_process

PLATFORM_HOST = "desk.harbour.test"  # the platform on a staging/LAN name
CUSTOM_DOMAIN = "members.harbour.test"  # a space's custom domain


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    yield from launch(playwright, "--host-resolver-rules=MAP *.harbour.test 127.0.0.1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("plain-http")
    port = free_port()
    env = server_env(tmp, port, FRONTDESK_PUBLIC_URL=f"http://{PLATFORM_HOST}:{port}")
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        yield Server(port=port, base=f"http://{PLATFORM_HOST}:{port}", log=tmp / "server.log", env=env)
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def callback_site() -> Iterator[StaticSite]:
    with static_site(
        {"/cb": "<!doctype html><title>Back at the app</title><h1>Back at the app</h1>"}
    ) as site:
        yield site


def test_sign_up_and_log_in_on_a_lan_name(page: Page, server: Server) -> None:
    person = Person.new("Lan")
    sign_up(page, server.base, person)
    page.get_by_role("button", name="Log out").click()
    log_in(page, server.base, person)


def test_log_in_and_consent_on_a_custom_domain(page: Page, server: Server, callback_site: StaticSite) -> None:
    admin = Person.new("Harbour")
    cli(server, "users", "create", admin.email, "--password", admin.password, "--name", admin.name)
    cli(
        server,
        *("spaces", "create", "harbour", "--name", "Harbour Desks", "--admin", admin.email),
        *("--custom-domain", CUSTOM_DOMAIN),
    )
    callback = f"{callback_site.origin}/cb"
    app = cli(
        server,
        *("clients", "create", "Harbour App", "--owner", admin.email),
        *("--redirect-uri", callback, "--scope", "read_user"),
    )
    custom = server.url(CUSTOM_DOMAIN)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": callback,
            "scope": "read_user",
            "state": "s-1",
        }
    )
    page.goto(f"{custom}/oauth/authorize?{query}")
    expect(page).to_have_url(re.compile(rf"^{re.escape(custom)}/login\?"))
    page.get_by_label("Email", exact=True).fill(admin.email)
    page.get_by_label("Password", exact=True).fill(admin.password)
    page.get_by_role("button", name="Log in").click()
    approve = page.get_by_role("button", name="Approve")
    expect_after_submit(page, approve)
    expect(page).to_have_url(re.compile(rf"^{re.escape(custom)}/oauth/authorize\?"))
    approve.click()
    expect_after_submit(page, page.get_by_role("heading", name="Back at the app"))
    back = urlsplit(page.url)
    params = parse_qs(back.query)
    assert f"{back.scheme}://{back.netloc}{back.path}" == callback
    assert params["state"] == ["s-1"] and params["iss"] == [custom] and params["code"][0]
