"""I. Browser-facing headers (checklist items 34–36)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.checklist.support import attributes
from tests.oauth_support import RegisteredApp, authorize_params, consent
from tests.support import PASSWORD, Browser
from tests.web.test_apps_pages import register_ok, shown


def frame_ancestors(response: httpx.Response) -> list[str]:
    csp = response.headers.get("content-security-policy", "")
    directives = [d.strip() for d in csp.split(";")]
    found = [d.split()[1:] for d in directives if d.split()[:1] == ["frame-ancestors"]]
    assert len(found) == 1, csp
    return found[0]


async def people_pages(
    browser: Browser, logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> dict[str, httpx.Response]:
    """The authorization endpoint's pages, login and consent pages, and error pages."""
    anonymous: Browser = new_browser()
    pages = {
        "consent": await logged_in.get("/oauth/authorize", params=authorize_params(registered)),
        "authorize error (unknown client)": await logged_in.get(
            "/oauth/authorize", params=authorize_params(registered, client_id="nope")
        ),
        "authorize error (redirect uri)": await anonymous.get(
            "/oauth/authorize", params=authorize_params(registered, redirect_uri="https://evil.test/")
        ),
        "login": await anonymous.get("/login?next=%2Foauth%2Fauthorize%3Fclient_id%3Dx"),
        "login failed": await anonymous.submit("/login", {"email": "pat@example.com", "password": "nope"}),
        "signup": await anonymous.get("/signup"),
        "not found (a page of another host)": await logged_in.get("/admin/members"),
        "consent forged": await logged_in.post("/oauth/authorize", data=authorize_params(registered)),
        "consent without decision": await logged_in.post("/oauth/authorize", data={}),
        "login forged": await anonymous.post("/login", data={"email": "a", "password": "b"}),
    }
    for name, response in pages.items():
        assert response.headers["content-type"].startswith("text/html"), name
    assert pages["consent"].status_code == 200 and "Approve" in pages["consent"].text
    return pages


@pytest.mark.rfc("9700 4.16")
@pytest.mark.rfc("6749 10.13")
async def test_item_34_clickjacking_headers(
    browser: Browser, logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    """Every authorization-endpoint, login, consent and error page may be framed by its own
    origin only: ``frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN`` (project
    decision 3 instead of the item's preferred ``'none'``/``DENY``).

    The browser half (an attacker's page on another origin frames the consent and login pages
    in headless Chromium, and Chromium refuses to render them) is
    tests/browser/test_clickjacking.py; this test covers every page's headers."""
    for name, response in (await people_pages(browser, logged_in, registered, new_browser)).items():
        assert frame_ancestors(response) == ["'self'"], name
        assert response.headers["x-frame-options"] == "SAMEORIGIN", name


@pytest.mark.rfc("9700 4.16")
@pytest.mark.rfc("6749 10.13")
async def test_item_34_router_errors_are_protected_error_pages(logged_in: Browser) -> None:
    """A 404 for an unknown path and a 405 for a wrong method are error pages like any other:
    HTML, framable by the same origin only."""
    for path in ("/no/such/page", "/logout", "/oauth2_clients/x/reveal"):
        response = await logged_in.get(path)
        assert response.status_code in (404, 405), path
        assert response.headers["content-type"].startswith("text/html"), (path, response.text)
        assert frame_ancestors(response) == ["'self'"], path
        assert response.headers["x-frame-options"] == "SAMEORIGIN", path


@pytest.mark.rfc("9700 4.2.4")
async def test_item_35_no_referer_leakage(
    browser: Browser, logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    """``Referrer-Policy: no-referrer`` on the pages, and every src/href/action on them is
    same-origin: no third-party resources, no links to other sites (the URL holds ``state``
    and ``code_challenge``). The consent page names the app's site as text only."""
    pages = await people_pages(browser, logged_in, registered, new_browser)
    for name, response in pages.items():
        assert response.headers["referrer-policy"] in ("no-referrer", "strict-origin"), name
        base = str(response.request.url)
        for value in attributes(response.text):
            target = urlsplit(urljoin(base, value))
            assert (target.scheme, target.netloc) == ("http", "localhost:8000"), (name, value)
    assert "https://app.example" not in " ".join(attributes(pages["consent"].text))


@pytest.mark.rfc("6749 5.1")
async def test_item_36_no_store_on_secret_bearing_pages(
    browser: Browser, logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    """``Cache-Control: no-store`` on the authorization endpoint and consent page, on the app
    page that shows a client secret and test token (after registration and after a password
    confirmation), on dynamic registration and on space-token creation; the token endpoint's
    answers are item 22."""

    def no_store(response: httpx.Response, what: str) -> None:
        assert "no-store" in response.headers.get("cache-control", ""), (what, response.headers)

    no_store(await logged_in.get("/oauth/authorize", params=authorize_params(registered)), "consent page")
    no_store(
        await logged_in.get("/oauth/authorize", params=authorize_params(registered, client_id="x")),
        "error page",
    )
    no_store(await consent(logged_in, registered), "consent decision")
    dev: Browser = new_browser()
    await dev.signup("developer@example.com")
    client_id, page = await register_ok(dev)
    assert shown(page, "client-secret")
    no_store(page, "app page with the new secret")
    url = f"/oauth2_clients/{client_id}"
    assert (await dev.submit(url, {"password": PASSWORD}, action=f"{url}/reveal")).status_code == 303
    revealed = await dev.get(url)
    assert shown(revealed, "test-access-token")
    no_store(revealed, "app page after the password confirmation")
    no_store(await dev.get("/oauth2_clients"), "app list")
    dynamic = await browser.post("/oauth/register", json={"redirect_uris": ["https://spa.example/cb"]})
    assert dynamic.status_code == 201
    no_store(dynamic, "dynamic registration")
    no_store(await browser.get(f"/api/access_tokens/{shown(revealed, 'test-access-token')}"), "token scope")
