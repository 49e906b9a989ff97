"""Host resolution: main site, space subdomains, custom domains, nothing else."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from frontdesk.web.hosts import normalize_host
from tests.support import Browser


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("LocalHost:8000", "localhost"),
        ("co-up.localhost.", "co-up.localhost"),
        ("CO-UP.LOCALHOST.:8000", "co-up.localhost"),
        ("[::1]:8000", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("", ""),
    ],
)
def test_normalize_host(raw: str, expected: str) -> None:
    assert normalize_host(raw) == expected


@pytest.fixture
async def spaces(state: Any, db: Any, passwords: Any) -> None:
    from frontdesk.services import accounts, spaces

    owner = await accounts.create_user(db, passwords, email="owner@example.com", password="owner-password")
    await db.commit()
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    await spaces.create_space(
        db,
        state.settings,
        subdomain="harbour",
        name="Harbour",
        owner=owner,
        custom_domain="members.harbour.test",
    )
    await db.commit()


async def title(browser: Browser, host: str, **headers: str) -> tuple[int, str]:
    response = await browser.get("/", headers={"host": host, **headers})
    brand = (
        response.text.split('class="brand" href="/">', 1)[-1].split("<", 1)[0]
        if response.status_code == 200
        else ""
    )
    return response.status_code, brand


@pytest.mark.parametrize(
    "host", ["localhost:8000", "www.localhost:8000", "127.0.0.1:8000", "LOCALHOST.", "localhost:1234"]
)
async def test_main_site_answers_on_its_hosts(spaces: None, browser: Browser, host: str) -> None:
    assert await title(browser, host) == (200, "Frontdesk")


@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(40)
@pytest.mark.parametrize(
    "host",
    [
        "co-up.localhost:8000",
        "CO-UP.localhost",
        "co-up.localhost.:8000",
        "CO-UP.localhost.",
        "Co-Up.LocalHost.:8000",
        "co-up.localhost:1",
    ],
)
async def test_subdomain_resolves_to_space(spaces: None, browser: Browser, host: str) -> None:
    assert await title(browser, host) == (200, "Co-Up")


@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(40)
@pytest.mark.parametrize(
    "host",
    [
        "members.harbour.test:8000",
        "Members.Harbour.Test.",
        "MEMBERS.Harbour.TEST.:8000",
        "members.harbour.test",
        "harbour.localhost",
        "harbour.localhost:8000",
    ],
)
async def test_custom_domain_and_subdomain_resolve(spaces: None, browser: Browser, host: str) -> None:
    assert await title(browser, host) == (200, "Harbour")


UNKNOWN_HOSTS = [
    "evil.test",
    "nope.localhost:8000",
    "a.co-up.localhost",
    "localhost.evil.test",
    "co-up.localhost.evil.test",
    "",
]


@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(40)
@pytest.mark.parametrize("host", UNKNOWN_HOSTS)
async def test_unknown_hosts_get_404_not_a_fallback(spaces: None, browser: Browser, host: str) -> None:
    """Anything but the main host, ``<space>.<base>`` and registered custom domains is 404,
    never a default tenant: pages, metadata and the token endpoint alike."""
    response = await browser.get("/", headers={"host": host})
    assert response.status_code == 404
    for name in ("Frontdesk", "Co-Up", "Harbour"):
        assert name not in response.text
    metadata = await browser.get("/.well-known/oauth-authorization-server", headers={"host": host})
    assert metadata.status_code == 404
    token = await browser.post("/oauth/access_token", data={"grant_type": "x"}, headers={"host": host})
    assert token.status_code == 404


@pytest.mark.checklist(40)
async def test_unknown_host_404_applies_to_every_path(spaces: None, browser: Browser) -> None:
    for path in ("/login", "/signup", "/static/frontdesk.css", "/admin/members"):
        assert (await browser.get(path, headers={"host": "evil.test"})).status_code == 404


async def test_unknown_host_page_has_the_pages_style_inline_allowed_by_its_hash(browser: Browser) -> None:
    """The unknown-host page is a page like the others (skip link, ``<main id="content">``,
    Frontdesk's stylesheet with its dark scheme), although /static is not served there: the
    stylesheet is inline and the page's CSP allows that one style element by its hash."""
    response = await browser.get("/", headers={"host": "evil.test"})
    assert response.status_code == 404
    page = response.text
    assert '<a class="skip-link" href="#content">Skip to content</a>' in page
    assert '<main id="content" tabindex="-1">' in page and "<h1>Unknown host</h1>" in page
    assert "/static/" not in page
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "@media (prefers-color-scheme: dark)" in style and ".skip-link:focus" in style
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    csp = response.headers["content-security-policy"]
    assert f"style-src 'sha256-{digest}'" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp


@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(40)
async def test_spoofed_forwarded_host_is_ignored_from_untrusted_peers(spaces: None, browser: Browser) -> None:
    assert await title(browser, "localhost:8000", **{"x-forwarded-host": "co-up.localhost"}) == (
        200,
        "Frontdesk",
    )
    for forwarded in ("localhost", "co-up.localhost"):
        response = await browser.get("/", headers={"host": "evil.test", "x-forwarded-host": forwarded})
        assert response.status_code == 404
    metadata = await browser.get(
        "/.well-known/oauth-authorization-server", headers={"x-forwarded-host": "co-up.localhost:8000"}
    )
    assert metadata.status_code == 200 and metadata.json()["issuer"] == "http://localhost:8000"


@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(40)
@pytest.mark.parametrize("settings_overrides", [{"trusted_proxies": ["198.51.100.0/24"]}])
async def test_forwarded_headers_count_from_trusted_proxies(spaces: None, browser: Browser) -> None:
    # The Browser's peer address 198.51.100.7 is inside the trusted network.
    assert await title(browser, "internal:8000", **{"x-forwarded-host": "co-up.localhost"}) == (200, "Co-Up")
    assert await title(browser, "internal:8000", **{"x-forwarded-host": "CO-UP.localhost.:8000"}) == (
        200,
        "Co-Up",
    )
    # The proxy's word is normalised and checked like any Host header: unknown is 404.
    unknown = await browser.get("/", headers={"host": "localhost:8000", "x-forwarded-host": "evil.test"})
    assert unknown.status_code == 404


async def test_healthz_answers_on_any_host(browser: Browser) -> None:
    response = await browser.get("/healthz", headers={"host": "10.1.2.3"})
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_space_only_pages_are_not_on_the_main_host(spaces: None, browser: Browser) -> None:
    assert (await browser.get("/admin/members")).status_code == 404


async def test_main_only_pages_are_not_on_space_hosts(spaces: None, new_browser: Any) -> None:
    b = new_browser("co-up.localhost:8000")
    assert (await b.get("/spaces/new")).status_code == 404


async def test_domain_check_for_on_demand_tls(spaces: None, browser: Browser) -> None:
    for domain, served in [
        ("localhost", True),
        ("co-up.localhost", True),
        ("members.harbour.test", True),
        ("MEMBERS.harbour.test.", True),
        ("nope.localhost", False),
        ("evil.test", False),
        # Not host names at all: refused without a lookup.
        ("co-up.localhost/x", False),
        ("", False),
    ]:
        response = await browser.get(
            "/healthz/domain", params={"domain": domain}, headers={"host": "10.0.0.1"}
        )
        assert response.status_code == (200 if served else 404), domain
    # A NUL character (PostgreSQL refuses it) is refused at the edge, web/limits.py.
    for domain in ("\x00", "members.harbour.test\x00"):
        response = await browser.get(
            "/healthz/domain", params={"domain": domain}, headers={"host": "10.0.0.1"}
        )
        assert response.status_code == 400, domain
