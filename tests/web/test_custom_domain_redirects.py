"""A space's subdomain sends authorization requests and its login pages to the space's verified
custom domain, every parameter kept (issue 12 §2; docs/compatibility.md, "Custom domains").

Programs are not moved: the API, the token endpoint and discovery keep answering on the
subdomain, and a pending (unverified) domain moves nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.services import spaces
from tests.oauth_support import RegisteredApp, bearer, make_user, password_grant, register_app
from tests.support import PASSWORD, Browser

SUB = "harbour.localhost:8000"
CUSTOM = "members.harbour.example"
PENDING_SUB = "quay.localhost:8000"


@pytest.fixture
async def owner(state: Any, db: Any) -> Any:
    return await make_user(state, db, "owner@example.com", name="Olivia Owner")


@pytest.fixture
async def harbour(state: Any, db: Any, owner: Any) -> Any:
    """Verified custom domain (the operator vouched for it, like `frontdesk spaces create`)."""
    space = await spaces.create_space(
        db,
        state.settings,
        subdomain="harbour",
        name="Harbour",
        owner=owner,
        custom_domain=CUSTOM,
        domain_verified=True,
    )
    await db.commit()
    return space


@pytest.fixture
async def quay(state: Any, db: Any, owner: Any) -> Any:
    """A custom domain asked for but not proven yet: not served, so nobody is sent there."""
    space = await spaces.create_space(
        db, state.settings, subdomain="quay", name="Quay", owner=owner, custom_domain="members.quay.example"
    )
    await db.commit()
    assert space.custom_domain is None
    return space


@pytest.fixture
async def app_(state: Any, db: Any, owner: Any) -> RegisteredApp:
    return await register_app(state, db, owner, scopes="read_user read_memberships")


# Raw query strings, sent as they are: repeated names, encodings, an empty value, UTF-8.
QUERIES = [
    "response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fa%3D1%26b%3D2"
    "&state=s%20t+u&scope=read_user+read_memberships",
    "client_id=abc&scope=a&scope=b&empty=&flag&caf%C3%A9=%E2%9C%93",
    "",
]


@pytest.mark.parametrize("path", ["/oauth/authorize", "/login", "/signup"])
@pytest.mark.parametrize("raw_query", QUERIES)
async def test_browser_entry_pages_move_to_the_custom_domain_with_every_parameter(
    harbour: Any, new_browser: Any, path: str, raw_query: str
) -> None:
    browser: Browser = new_browser(SUB)
    target = path + (f"?{raw_query}" if raw_query else "")
    for method in ("GET", "HEAD"):
        response = await browser.http.request(method, target)
        assert response.status_code == 302, response.text
        assert response.headers["location"] == f"http://{CUSTOM}:8000{target}"
        assert response.headers["cache-control"] == "no-store"


async def test_the_whole_flow_then_happens_on_the_custom_domain(
    harbour: Any, app_: RegisteredApp, new_browser: Any
) -> None:
    at_sub: Browser = new_browser(SUB)
    params = {"response_type": "code", "client_id": app_.client_id, "redirect_uri": app_.redirect_uri}
    moved = await at_sub.get("/oauth/authorize", params=params)
    assert moved.status_code == 302
    location = moved.headers["location"]
    assert location.startswith(f"http://{CUSTOM}:8000/oauth/authorize?")
    at_custom: Browser = new_browser(f"{CUSTOM}:8000")
    assert (await at_custom.login("owner@example.com")).status_code == 303
    consent = await at_custom.get(location.split(":8000", 1)[1])
    assert consent.status_code == 200
    assert "Harbour" in consent.text


async def test_api_token_endpoint_discovery_and_posts_stay_on_the_subdomain(
    harbour: Any, app_: RegisteredApp, new_browser: Any
) -> None:
    at_sub: Browser = new_browser(SUB)
    token = await password_grant(
        at_sub, app_, "owner@example.com", PASSWORD, scope="read_user read_memberships"
    )
    assert token.status_code == 200, token.text
    raw = token.json()["access_token"]
    members = await at_sub.get("/api/memberships", headers=bearer(raw))
    assert members.status_code == 200, members.text
    assert (await at_sub.get("/api/user", headers=bearer(raw))).status_code == 200
    discovery = await at_sub.get("/.well-known/openid-configuration")
    assert discovery.status_code == 200
    assert discovery.json()["issuer"] == "http://harbour.localhost:8000"
    # A form posted on the subdomain is answered there (here: refused for its missing
    # anti-forgery token, not sent elsewhere).
    login_post = await at_sub.post("/login", data={"email": "owner@example.com", "password": PASSWORD})
    assert login_post.status_code == 403
    assert "location" not in login_post.headers
    home = await at_sub.get("/")
    assert home.status_code == 200


async def test_pending_domains_the_domain_itself_and_plain_spaces_move_nothing(
    harbour: Any, quay: Any, app_: RegisteredApp, new_browser: Any
) -> None:
    for host in (PENDING_SUB, f"{CUSTOM}:8000", "localhost:8000"):
        browser: Browser = new_browser(host)
        login = await browser.get("/login")
        assert login.status_code == 200, (host, login.headers.get("location"))
        params = {"response_type": "code", "client_id": app_.client_id, "redirect_uri": app_.redirect_uri}
        authorize = await browser.get("/oauth/authorize", params=params)
        assert authorize.status_code == 303, host
        assert authorize.headers["location"].startswith("/login?next="), host
