"""Navigation links on a space's host (Cobot API 1) and the iframe page that shows them."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.api.conftest import World
from tests.support import Browser

SPACE = {"host": "co-up.localhost:8000"}
LINK = {"section": "members", "label": "Room booking", "iframe_url": "https://app.example/embed?x=1"}


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **SPACE}


async def test_create_list_delete(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin, scopes="navigation")
    created = await browser.post("/api/navigation_links", json=LINK, headers=auth(token))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["section"] == "members" and body["label"] == "Room booking" and body["user_editable"] is True
    assert body["url"] == f"http://co-up.localhost:8000/api/navigation_links/{body['id']}"
    assert body["user_url"] == f"http://co-up.localhost:8000/navigation/{body['id']}"
    listed = await browser.get("/api/navigation_links", headers=auth(token))
    assert [link["id"] for link in listed.json()] == [body["id"]]
    assert (
        await browser.delete(f"/api/navigation_links/{body['id']}", headers=auth(token))
    ).status_code == 204
    assert (await browser.get("/api/navigation_links", headers=auth(token))).json() == []


async def test_form_encoded_creation(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin, scopes="navigation")
    created = await browser.post(
        "/api/navigation_links", data={**LINK, "user_editable": "false"}, headers=auth(token)
    )
    assert created.status_code == 201 and created.json()["user_editable"] is False


async def test_links_belong_to_the_app_that_made_them(
    browser: Browser, world: World, issue: Any, state: Any, db: Any
) -> None:
    from tests.oauth_support import register_app

    token = await issue(world.admin, scopes="navigation")
    link = (await browser.post("/api/navigation_links", json=LINK, headers=auth(token))).json()
    other_app = await register_app(state, db, world.owner, name="Other app", scopes="navigation")
    other = other_app.test_token  # the owner's test token: an admin of co-up, another app
    assert (await browser.get("/api/navigation_links", headers=auth(other))).json() == []
    assert (
        await browser.delete(f"/api/navigation_links/{link['id']}", headers=auth(other))
    ).status_code == 404
    assert (await browser.get(f"/api/navigation_links/{link['id']}", headers=auth(other))).status_code == 404


async def test_rights(browser: Browser, world: World, issue: Any) -> None:
    no_scope = await issue(world.admin, scopes="read_user")
    response = await browser.post("/api/navigation_links", json=LINK, headers=auth(no_scope))
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    member = await issue(world.member, scopes="navigation")
    assert (await browser.post("/api/navigation_links", json=LINK, headers=auth(member))).status_code == 403
    admin = await issue(world.admin, scopes="navigation")
    on_main = await browser.post(
        "/api/navigation_links", json=LINK, headers={"authorization": f"Bearer {admin}"}
    )
    assert on_main.status_code == 404
    other_space = await browser.post(
        "/api/navigation_links",
        json=LINK,
        headers={"authorization": f"Bearer {admin}", "host": "other.localhost"},
    )
    assert other_space.status_code == 403


async def test_validation(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin, scopes="navigation")
    for bad in (
        {**LINK, "section": "sidebar"},
        {**LINK, "label": ""},
        {**LINK, "iframe_url": "http://app.example/"},
        {**LINK, "iframe_url": "javascript:alert(1)"},
    ):
        response = await browser.post("/api/navigation_links", json=bad, headers=auth(token))
        assert response.status_code == 422, bad
    assert (
        await browser.post(
            "/api/navigation_links", content=b"[", headers={**auth(token), "content-type": "application/json"}
        )
    ).status_code == 400


async def test_space_token_can_install_links(browser: Browser, world: World, issue: Any) -> None:
    admin = await issue(world.admin, scopes="navigation")
    space_token = (
        await browser.post(f"/api/access_tokens/{admin}/space", json={"space_id": "co-up"})
    ).json()["token"]
    assert (
        await browser.post("/api/navigation_links", json=LINK, headers=auth(space_token))
    ).status_code == 201


async def test_the_space_shows_links_in_an_iframe_with_context(
    world: World, issue: Any, new_browser: Any, browser: Browser
) -> None:
    admin = await issue(world.admin, scopes="navigation")
    members_link = (await browser.post("/api/navigation_links", json=LINK, headers=auth(admin))).json()
    admin_link = (
        await browser.post(
            "/api/navigation_links",
            json={**LINK, "section": "admin/manage", "label": "Reports"},
            headers=auth(admin),
        )
    ).json()
    member: Browser = new_browser("co-up.localhost:8000")
    await member.login("member@example.com")
    home = (await member.get("/")).text
    assert "Room booking" in home and "Reports" not in home
    page = await member.get(f"/navigation/{members_link['id']}")
    assert page.status_code == 200
    src = page.text.split('<iframe src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert src.startswith("https://app.example/embed?x=1&")
    params = {k: v[0] for k, v in parse_qs(urlsplit(src).query).items()}
    assert params["cobot_embed"] == "true" and params["cobot_subdomain"] == "co-up"
    assert params["cobot_user_id"] == world.member.id and params["cobot_locale"] == "en"
    await assert_context(member, params["frontdesk_context"], world, role="member")
    assert "frame-src 'self' https://app.example" in page.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert "fdat_" not in page.text  # no token in the page or the iframe URL
    assert (await member.get(f"/navigation/{admin_link['id']}")).status_code == 403
    adm: Browser = new_browser("co-up.localhost:8000")
    await adm.login("admin@example.com")
    assert "Reports" in (await adm.get("/")).text
    assert (await adm.get(f"/navigation/{admin_link['id']}")).status_code == 200
    outsider: Browser = new_browser("co-up.localhost:8000")
    await outsider.login("out@example.com")
    assert (await outsider.get(f"/navigation/{members_link['id']}")).status_code == 403
    anonymous = await new_browser("co-up.localhost:8000").get(f"/navigation/{members_link['id']}")
    assert anonymous.status_code == 303


async def assert_context(browser: Browser, context: str, world: World, role: str) -> None:
    """The iframe context verifies with the space host's JWKS and says who is looking."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    jwks = (await browser.get("/jwks.json")).json()
    token = jwt.decode(context, KeySet.import_key_set(jwks), algorithms=["RS256"])
    claims = token.claims
    assert claims["iss"] == "http://co-up.localhost:8000" and claims["aud"] == world.app.client_id
    assert claims["sub"] == world.member.id and claims["role"] == role
    assert claims["space"] == {"id": world.space.id, "subdomain": "co-up"}
    assert 0 < claims["exp"] - claims["iat"] <= 300


async def test_cobot_locale_follows_the_persons_language(
    world: World, issue: Any, new_browser: Any, browser: Browser
) -> None:
    admin = await issue(world.admin, scopes="navigation")
    link = (await browser.post("/api/navigation_links", json=LINK, headers=auth(admin))).json()
    member: Browser = new_browser("co-up.localhost:8000")
    await member.login("member@example.com")
    page = await member.get(f"/navigation/{link['id']}", headers={"accept-language": "de-CH, en;q=0.5"})
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    src = page.text.split('<iframe src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(src).query)["cobot_locale"] == ["de"]
