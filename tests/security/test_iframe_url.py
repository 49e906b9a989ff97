"""Issue 11 item 14: a navigation link's iframe_url never writes the page's CSP.

It is validated as a URL (https; plain http for localhost in development only), stored with an
IDNA host, and the ``frame-src`` source is built from the parsed origin; rows stored before
these checks do not make the page a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from frontdesk.store.models import NavigationLink
from tests.api import conftest as api_fixtures
from tests.api.conftest import World
from tests.support import Browser

SPACE = {"host": "co-up.localhost:8000"}
INJECTED = "https://nav.example *; report-uri https://evil.example/r; sandbox allow-scripts;/embed"

# The API tests' fixtures: a space with an owner, an admin and a member; tokens for them.
world = api_fixtures.world
issue = api_fixtures.issue


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **SPACE}


async def _create(browser: Browser, token: str, url: str) -> Any:
    link = {"section": "members", "label": "Booking", "iframe_url": url}
    return await browser.post("/api/navigation_links", json=link, headers=auth(token))


async def _member_page(new_browser: Any, link_id: str) -> Any:
    member: Browser = new_browser("co-up.localhost:8000")
    assert (await member.login("member@example.com")).status_code == 303
    return await member.get(f"/navigation/{link_id}")


@pytest.mark.parametrize(
    "url",
    [
        INJECTED,
        "https://nav.example;report-uri=https://evil.example/r",
        "https://nav.example/\r\nX-Injected: 1",
        "https://nav.example/a\nb",
        'https://nav.example/"onload="x',
        "https://nav.example/'x'",
        "https://nav.example*.evil.example/",
        "http://nav.example/",  # plain http only for localhost
        "javascript:alert(1)",
        "https://user:pw@nav.example/",
    ],
)
async def test_bad_iframe_urls_are_refused(browser: Browser, world: World, issue: Any, url: str) -> None:
    token = await issue(world.admin, scopes="navigation")
    response = await _create(browser, token, url)
    assert response.status_code == 422
    assert (
        response.json()["error"] == "invalid_request" and "iframe_url" in response.json()["error_description"]
    )


async def test_an_idn_host_is_stored_in_idna_form_and_framed(
    browser: Browser, world: World, issue: Any, new_browser: Any
) -> None:
    token = await issue(world.admin, scopes="navigation")
    response = await _create(browser, token, "https://Bücher.example/embed?x=1")
    assert response.status_code == 201
    assert response.json()["iframe_url"] == "https://xn--bcher-kva.example/embed?x=1"
    page = await _member_page(new_browser, response.json()["id"])
    assert page.status_code == 200
    assert page.headers["content-security-policy"].endswith(
        "; frame-src 'self' https://xn--bcher-kva.example"
    )


async def test_a_stored_bad_url_never_reaches_the_header_nor_gives_a_500(
    browser: Browser, world: World, issue: Any, new_browser: Any, db: Any
) -> None:
    token = await issue(world.admin, scopes="navigation")
    created = await _create(browser, token, "https://nav.example/embed")
    assert created.status_code == 201
    link_id = created.json()["id"]
    page = await _member_page(new_browser, link_id)
    assert page.headers["content-security-policy"].endswith("; frame-src 'self' https://nav.example")

    for stored in (INJECTED, "https://例え.テスト/embed", "https://nav.example:99999/"):
        await db.execute(update(NavigationLink).where(NavigationLink.id == link_id).values(iframe_url=stored))
        await db.commit()
        page = await _member_page(new_browser, link_id)
        if stored.startswith("https://例え"):
            # An IDN stored before the checks: framed by its ASCII origin.
            assert page.status_code == 200
            assert page.headers["content-security-policy"].endswith(
                "frame-src 'self' https://xn--r8jz45g.xn--zckzah"
            )
        else:
            assert page.status_code == 404
            assert "report-uri" not in page.headers["content-security-policy"]
            assert "not a valid https URL" in page.text


async def test_app_main_url_is_checked_and_normalised(state: Any, db: Any) -> None:
    from frontdesk.errors import FieldError
    from frontdesk.services import apps

    assert apps.validate_main_url("https://Bücher.example/x") == "https://xn--bcher-kva.example/x"
    for bad in ("https://a.example/\r\nSet-Cookie: x=1", "https://a.example/'", "https://a b.example/"):
        with pytest.raises(FieldError):
            apps.validate_main_url(bad)
