"""Headers of the pages people see during authorization (RFC 9700 §4.16, §4.2.4; RFC 6749
§10.13, §5.1): no framing by others, no Referer leaks, nothing secret cached."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.oauth_support import RegisteredApp, attributes, authorize_params, consent
from tests.support import PASSWORD, Browser
from tests.web.test_apps_pages import register_ok, shown


def frame_ancestors(response: httpx.Response) -> list[str]:
    csp = response.headers.get("content-security-policy", "")
    directives = [d.strip() for d in csp.split(";")]
    found = [d.split()[1:] for d in directives if d.split()[:1] == ["frame-ancestors"]]
    assert len(found) == 1, csp
    return found[0]


async def people_pages(
    logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> dict[str, httpx.Response]:
    """The authorization endpoint's pages, login and consent pages, and error pages, each with
    the status it answers."""
    anonymous: Browser = new_browser()
    pages = {
        "consent": (200, await logged_in.get("/oauth/authorize", params=authorize_params(registered))),
        "authorize error (unknown client)": (
            400,
            await logged_in.get("/oauth/authorize", params=authorize_params(registered, client_id="nope")),
        ),
        "authorize error (redirect uri)": (
            400,
            await anonymous.get(
                "/oauth/authorize", params=authorize_params(registered, redirect_uri="https://evil.test/")
            ),
        ),
        "login": (200, await anonymous.get("/login?next=%2Foauth%2Fauthorize%3Fclient_id%3Dx")),
        "login failed": (
            401,
            await anonymous.submit("/login", {"email": "pat@example.com", "password": "nope"}),
        ),
        "signup": (200, await anonymous.get("/signup")),
        "not found (a page of another host)": (404, await logged_in.get("/admin/members")),
        "consent forged": (403, await logged_in.post("/oauth/authorize", data=authorize_params(registered))),
        "consent without decision": (400, await logged_in.post("/oauth/authorize", data={})),
        "login forged": (403, await anonymous.post("/login", data={"email": "a", "password": "b"})),
    }
    for name, (status, response) in pages.items():
        assert response.status_code == status, name
        assert response.headers["content-type"].startswith("text/html"), name
    assert "Approve" in pages["consent"][1].text
    return {name: response for name, (_, response) in pages.items()}


@pytest.mark.rfc("9700 4.16")
@pytest.mark.rfc("6749 10.13")
@pytest.mark.checklist(34)
async def test_pages_may_be_framed_by_their_own_origin_only(
    logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    """Every authorization-endpoint, login, consent and error page may be framed by its own
    origin only: ``frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN`` (project
    decision 3 instead of the item's preferred ``'none'``/``DENY``).

    The browser half (an attacker's page on another origin frames the consent and login pages
    in headless Chromium, and Chromium refuses to render them) is
    tests/browser/test_clickjacking.py; this test covers every page's headers."""
    for name, response in (await people_pages(logged_in, registered, new_browser)).items():
        assert frame_ancestors(response) == ["'self'"], name
        assert response.headers["x-frame-options"] == "SAMEORIGIN", name


@pytest.mark.rfc("9700 4.16")
@pytest.mark.rfc("6749 10.13")
@pytest.mark.checklist(34)
@pytest.mark.parametrize(
    ("path", "status"), [("/no/such/page", 404), ("/logout", 405), ("/oauth2_clients/x/reveal", 405)]
)
async def test_router_errors_are_protected_error_pages(logged_in: Browser, path: str, status: int) -> None:
    """A 404 for an unknown path and a 405 for a wrong method are error pages like any other:
    HTML, framable by the same origin only."""
    response = await logged_in.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html"), response.text
    assert frame_ancestors(response) == ["'self'"]
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


@pytest.mark.rfc("9700 4.2.4")
@pytest.mark.checklist(35)
async def test_no_referer_leakage(logged_in: Browser, registered: RegisteredApp, new_browser: Any) -> None:
    """``Referrer-Policy: same-origin`` on the pages (no Referer to any other origin), and
    every src/href/action on them is same-origin: no third-party resources, no links to other
    sites (the URL holds ``state`` and ``code_challenge``). The consent page names the app's
    site as text only."""
    pages = await people_pages(logged_in, registered, new_browser)
    for name, response in pages.items():
        assert response.headers["referrer-policy"] == "same-origin", name
        base = str(response.request.url)
        for value in attributes(response.text):
            target = urlsplit(urljoin(base, value))
            assert (target.scheme, target.netloc) == ("http", "localhost:8000"), (name, value)
    assert "https://app.example" not in " ".join(attributes(pages["consent"].text))


@pytest.mark.rfc("6749 5.1")
@pytest.mark.rfc("6749 10.3")
@pytest.mark.checklist(36)
async def test_no_store_on_secret_bearing_pages(
    browser: Browser, logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    """``Cache-Control: no-store`` on the authorization endpoint and consent page, on the app
    page that shows a client secret and test token (after registration and after a password
    confirmation), on dynamic registration and on token information; the token endpoint's
    answers are tests/oauth/test_token.py."""

    def no_store(response: httpx.Response, status: int, what: str) -> None:
        assert response.status_code == status, what
        assert response.headers["cache-control"] == "no-store", (what, response.headers)

    no_store(
        await logged_in.get("/oauth/authorize", params=authorize_params(registered)), 200, "consent page"
    )
    no_store(
        await logged_in.get("/oauth/authorize", params=authorize_params(registered, client_id="x")),
        400,
        "error page",
    )
    no_store(await consent(logged_in, registered), 303, "consent decision")
    dev: Browser = new_browser()
    await dev.signup("developer@example.com")
    client_id, page = await register_ok(dev)
    assert shown(page, "client-secret")
    no_store(page, 200, "app page with the new secret")
    url = f"/oauth2_clients/{client_id}"
    assert (await dev.submit(url, {"password": PASSWORD}, action=f"{url}/reveal")).status_code == 303
    revealed = await dev.get(url)
    token = shown(revealed, "test-access-token")
    assert token
    no_store(revealed, 200, "app page after the password confirmation")
    no_store(await dev.get("/oauth2_clients"), 200, "app list")
    dynamic = await browser.post("/oauth/register", json={"redirect_uris": ["https://spa.example/cb"]})
    no_store(dynamic, 201, "dynamic registration")
    no_store(await browser.get(f"/api/access_tokens/{token}"), 200, "token scope")
