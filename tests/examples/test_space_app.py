"""Space App end to end: log in, install into a space, the page in the space's iframe, and the
in-frame sign-in — against a live Frontdesk, playing the browser."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from frontdesk.client import Client, NavigationLinkSpec, RetryPolicy
from tests.client.conftest import Browser, LoopbackTransport, form_fields, query_of
from tests.e2e.conftest import FRONTDESK
from tests.examples.conftest import (
    APP_URL,
    PASSWORDS,
    Deployment,
    app_client,
    core,
    ensure_installed,
    iframe_src,
    install,
    log_in,
)

pytestmark = pytest.mark.e2e
SCOPE = "openid profile email read_user navigation read_memberships"
SIGNIN_RE = re.compile(r"<a href='(/embed/signin\?[^']+)'>Sign in to Space App inside this frame")
PAGE_SIGNIN_RE = re.compile(r"<a href='(/embed/signin\?[^']+&amp;on=page)' target='_top'>")


def library(deployment: Deployment, client_id: str, secret: str) -> Client:
    """``frontdesk.client`` as another program would use it, to look at what the app did."""
    return Client(
        client_id,
        secret,
        issuer=deployment.server.base,
        transport=LoopbackTransport(deployment.port),
        retry=RetryPolicy(retries=0),
    )


def frame_ancestors(response: httpx.Response) -> list[str]:
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";")
    )
    return policy["frame-ancestors"].split()


def signin_link(page: str) -> str:
    """The href of the "Sign in to Space App inside this frame" link."""
    match = SIGNIN_RE.search(page)
    assert match, page
    return html.unescape(match.group(1))


def with_params(url: str, change: Callable[[dict[str, str]], object]) -> str:
    """``url`` with its query parameters changed by ``change``."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    change(params)
    return parts._replace(query=urlencode(params)).geturl()


# ---- registration and login -------------------------------------------------------------------


def test_register_script_prints_the_settings(deployment: Deployment) -> None:
    env = deployment.env
    assert env["FRONTDESK_URL"] == deployment.server.base
    assert env["SPACE_APP_URL"] == APP_URL
    assert len(env["SPACE_APP_SECRET"]) >= 32
    shown = subprocess.run(
        [FRONTDESK, "clients", "show", env["SPACE_APP_CLIENT_ID"], "--json"],
        env=deployment.server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    app = json.loads(shown.stdout)
    assert app["name"] == "Space App"
    assert app["redirect_uris"] == [f"{APP_URL}/auth/callback"]
    assert set(app["scopes"]) == set(SCOPE.split())


async def test_log_in_with_frontdesk(
    app_browser: httpx.AsyncClient, alice: Browser, deployment: Deployment
) -> None:
    landing = await app_browser.get("/")
    assert "Log in with Frontdesk" in landing.text
    assert landing.headers["x-frame-options"] == "DENY"
    assert frame_ancestors(landing) == ["'none'"]

    start = await app_browser.get("/login")
    authorize = start.headers["location"]
    assert authorize.startswith(f"{deployment.server.base}/oauth/authorize?")  # the main host
    params = query_of(authorize)
    assert params["code_challenge_method"] == "S256"
    assert params["state"] and params["nonce"] and params["code_challenge"]
    assert params["scope"] == SCOPE
    cookie = start.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # http dev

    callback = alice.authorize(authorize)
    done = await app_browser.get(callback)
    assert done.status_code == 303
    home = await app_browser.get("/")
    assert "Alice Admin" in home.text and "alice@example.com" in home.text
    assert "Install into Co-Up" in home.text
    assert "Harbour" not in home.text  # alice does not administer it


async def test_a_login_callback_in_another_browser_is_refused(
    app_browser: httpx.AsyncClient, space_app: Starlette, alice: Browser
) -> None:
    start = await app_browser.get("/login")
    callback = alice.authorize(start.headers["location"])
    async with app_client(space_app) as stranger:  # no session cookie: not who started it
        refused = await stranger.get(callback)
    assert refused.status_code == 400
    assert "another browser" in refused.text
    assert (await app_browser.get(callback)).status_code == 303  # the real browser still can


async def test_log_out(app_browser: httpx.AsyncClient, space_app: Starlette, alice: Browser) -> None:
    await log_in(app_browser, alice)
    refused = await app_browser.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 303
    assert "Log out" in (await app_browser.get("/")).text  # a forged logout does nothing

    home = await app_browser.get("/")
    done = await app_browser.post("/logout", data=form_fields(home.text, "/logout"))
    assert done.status_code == 303
    assert "Log in with Frontdesk" in (await app_browser.get("/")).text


# ---- installation -----------------------------------------------------------------------------


async def test_install_into_a_space(
    app_browser: httpx.AsyncClient, space_app: Starlette, alice: Browser, deployment: Deployment
) -> None:
    response = await install(app_browser, alice)
    assert response.status_code == 200, response.text
    assert "Installed" in response.text
    assert deployment.space_origin("co-up.localhost") in response.text  # a link to the space

    installation = core(space_app).installations.get("co-up")
    assert installation is not None
    token = installation.space_token
    assert token.space_subdomain == "co-up"
    assert token.client_id == deployment.env["SPACE_APP_CLIENT_ID"]
    assert {"navigation", "read_memberships"} <= set(token.scope)

    client = library(
        deployment, deployment.env["SPACE_APP_CLIENT_ID"], deployment.env["SPACE_APP_CLIENT_SECRET"]
    )
    with client, client.api(token) as api:
        (link,) = api.list_navigation_links("co-up")
    assert (link.section, link.label, link.iframe_url) == ("members", "Space App", f"{APP_URL}/embed")
    assert link.id == installation.link_id
    assert installation.link_url == f"{deployment.space_origin('co-up.localhost')}/navigation/{link.id}"
    assert "Installed" in (await app_browser.get("/")).text


async def test_install_runs_oauth_on_the_space_host_and_is_idempotent(
    app_browser: httpx.AsyncClient, space_app: Starlette, alice: Browser, deployment: Deployment
) -> None:
    await log_in(app_browser, alice)
    home = await app_browser.get("/")
    started = await app_browser.post("/install/co-up", data=form_fields(home.text, "/install/co-up"))
    assert started.headers["location"].startswith(
        f"{deployment.space_origin('co-up.localhost')}/oauth/authorize?"
    )
    assert (await app_browser.get(alice.authorize(started.headers["location"]))).status_code == 200
    first = core(space_app).installations.get("co-up")
    assert (await install(app_browser, alice)).status_code == 200
    second = core(space_app).installations.get("co-up")
    assert first is not None and second is not None
    assert first.link_id == second.link_id

    client = library(
        deployment, deployment.env["SPACE_APP_CLIENT_ID"], deployment.env["SPACE_APP_CLIENT_SECRET"]
    )
    with client, client.api(second.space_token) as api:
        links = api.list_navigation_links("co-up")
    assert [link.id for link in links] == [second.link_id]


async def test_install_needs_the_anti_forgery_token(app_browser: httpx.AsyncClient, alice: Browser) -> None:
    await log_in(app_browser, alice)
    refused = await app_browser.post("/install/co-up", data={"csrf_token": "forged"})
    assert refused.status_code == 403


# ---- the page in the space's iframe -----------------------------------------------------------


async def test_a_member_sees_the_members_inside_the_frame(
    space_app: Starlette, alice: Browser, bob: Browser, deployment: Deployment
) -> None:
    installation = await ensure_installed(space_app, alice)
    src = iframe_src(bob, installation.link_url)  # bob logs in on co-up's host
    space_home = bob.open(f"{deployment.space_origin('co-up.localhost')}/")
    assert f'href="/navigation/{installation.link_id}">Space App</a>' in space_home.text

    assert src.startswith(f"{APP_URL}/embed?")
    params = query_of(src)
    assert params["cobot_subdomain"] == "co-up" and params["frontdesk_context"]

    async with app_client(space_app) as frame:  # a third-party iframe: no cookies at all
        page = await frame.get(src)
    assert page.status_code == 200, page.text
    assert "Hello Bob Member (member)" in page.text
    for name in ("Alice Admin", "Bob Member", "Carol Cofounder"):
        assert name in page.text
    assert "Sign in to Space App inside this frame" in page.text
    assert "x-frame-options" not in page.headers
    assert frame_ancestors(page) == [deployment.space_origin("co-up.localhost")]


async def test_an_admin_is_greeted_as_admin(space_app: Starlette, alice: Browser) -> None:
    installation = await ensure_installed(space_app, alice)
    async with app_client(space_app) as frame:
        page = await frame.get(iframe_src(alice, installation.link_url))
    assert "Hello Alice Admin (admin)" in page.text


def _tamper_role(params: dict[str, str]) -> None:
    """Bob rewrites his context to say he is an admin (without the space's key)."""
    header, payload, signature = params["frontdesk_context"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    params["frontdesk_context"] = f"{header}.{forged}.{signature}"


Change = Callable[[dict[str, str]], object]
# What is wrong with the iframe URL → what the 403 page says.
UNTRUSTED: dict[str, tuple[Change, str]] = {
    "missing": (lambda p: p.pop("frontdesk_context"), "from your space"),
    "garbage": (lambda p: p.update(frontdesk_context="not-a-jwt"), "not a signed JWT"),
    "tampered": (_tamper_role, "signature is not valid"),
    "someone else's user id": (lambda p: p.update(cobot_user_id="u-alice"), "do not match its signed"),
    "another space": (lambda p: p.update(cobot_subdomain="harbour"), "the context was issued by"),
    "unknown space": (lambda p: p.update(cobot_subdomain="nowhere"), "There is no space"),
}


@pytest.mark.parametrize("path", ["/embed", "/embed/signin"])
@pytest.mark.parametrize("case", list(UNTRUSTED))
async def test_an_untrusted_context_gets_403(
    space_app: Starlette, alice: Browser, bob: Browser, case: str, path: str
) -> None:
    installation = await ensure_installed(space_app, alice)
    change, reason = UNTRUSTED[case]
    src = with_params(iframe_src(bob, installation.link_url), change)
    async with app_client(space_app) as frame:
        page = await frame.get(src.replace("/embed?", f"{path}?", 1))
    assert page.status_code == 403, page.text
    assert "Not allowed" in page.text and reason in page.text
    assert "Bob Member" not in page.text


async def test_an_expired_context_gets_403(
    space_app: Starlette, alice: Browser, bob: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    installation = await ensure_installed(space_app, alice)
    src = iframe_src(bob, installation.link_url)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)  # the context lives ~5 minutes
    async with app_client(space_app) as frame:
        page = await frame.get(src)
    monkeypatch.undo()
    assert page.status_code == 403
    assert "the JWT expired" in page.text


async def test_a_context_for_another_app_gets_403(
    space_app: Starlette, alice: Browser, deployment: Deployment
) -> None:
    await ensure_installed(space_app, alice)
    sandbox = library(deployment, "sandbox-app", "sandbox-app-secret-for-local-development-only")
    with sandbox:
        token = sandbox.password_grant("alice@example.com", PASSWORDS["alice@example.com"], "navigation")
        spec = NavigationLinkSpec("members", "Sandbox", f"{APP_URL}/embed?from=sandbox")
        with sandbox.api(token) as api:
            (link,) = api.install_navigation_links("co-up", [spec])
    async with app_client(space_app) as frame:
        page = await frame.get(iframe_src(alice, link.user_url))
    assert page.status_code == 403
    assert "not meant for this app" in page.text


async def test_a_space_without_the_app_says_so_on_its_custom_domain(
    space_app: Starlette, bob: Browser, deployment: Deployment
) -> None:
    """carol links Space App into harbour by hand, but never installed it through the app."""
    env = deployment.env
    with library(deployment, env["SPACE_APP_CLIENT_ID"], env["SPACE_APP_CLIENT_SECRET"]) as client:
        token = client.password_grant("carol@example.com", PASSWORDS["carol@example.com"], "navigation")
        with client.api(token) as api:
            (link,) = api.install_navigation_links(
                "harbour", [NavigationLinkSpec("members", "Space App", f"{APP_URL}/embed")]
            )
    custom = deployment.space_origin("members.harbour.test")
    assert link.user_url.startswith(f"{custom}/navigation/")
    src = iframe_src(bob, link.user_url)
    async with app_client(space_app) as frame:
        page = await frame.get(src)
    assert page.status_code == 404, page.text  # the context checked out: signed by the custom domain
    assert "not installed in this space (harbour)" in page.text
    assert custom in frame_ancestors(page)


# ---- the app's own OAuth inside the frame -----------------------------------------------------


async def test_sign_in_inside_the_frame(
    space_app: Starlette, alice: Browser, bob: Browser, deployment: Deployment
) -> None:
    installation = await ensure_installed(space_app, alice)
    space = deployment.space_origin("co-up.localhost")
    src = iframe_src(bob, installation.link_url)
    async with app_client(space_app) as frame:  # every step inside the iframe: no cookies
        page = await frame.get(src)
        link = signin_link(page.text)
        started = await frame.get(link)
        assert started.status_code == 303
        authorize = started.headers["location"]
        assert authorize.startswith(f"{space}/oauth/authorize?")  # the host the frame is on
        assert query_of(authorize)["scope"] == "openid email"
        assert frame_ancestors(started) == [space]

        callback = bob.authorize(authorize)
        assert callback.startswith(f"{APP_URL}/auth/callback?")
        done = await frame.get(callback)
        assert done.status_code == 200, done.text
        assert "Signed in inside the frame as bob@example.com" in done.text
        assert "x-frame-options" not in done.headers
        assert frame_ancestors(done) == [space]
        assert "set-cookie" not in done.headers

        again = await frame.get(src)
        assert "You are signed in to Space App as bob@example.com" in again.text


async def test_sign_in_on_the_whole_page_comes_back_to_the_space(
    space_app: Starlette, alice: Browser, bob: Browser, deployment: Deployment
) -> None:
    """The fallback for browsers that do not pass the space's login into the frame."""
    installation = await ensure_installed(space_app, alice)
    space = deployment.space_origin("co-up.localhost")
    src = iframe_src(bob, installation.link_url)
    async with app_client(space_app) as frame:
        page = await frame.get(src)
    match = PAGE_SIGNIN_RE.search(page.text)
    assert match, page.text
    async with app_client(space_app) as top:  # a top-level navigation (target=_top)
        started = await top.get(html.unescape(match.group(1)))
        assert started.status_code == 303
        assert started.headers["location"].startswith(f"{space}/oauth/authorize?")
        assert frame_ancestors(started) == ["'none'"]
        done = await top.get(bob.authorize(started.headers["location"]))
    assert done.status_code == 303
    assert done.headers["location"] == installation.link_url  # the space's page with the app
    async with app_client(space_app) as frame:
        again = await frame.get(iframe_src(bob, done.headers["location"]))
    assert "You are signed in to Space App as bob@example.com" in again.text


async def test_the_frame_sign_in_must_be_the_person_in_the_context(
    space_app: Starlette, alice: Browser, bob: Browser
) -> None:
    installation = await ensure_installed(space_app, alice)
    async with app_client(space_app) as frame:
        page = await frame.get(iframe_src(bob, installation.link_url))
        started = await frame.get(signin_link(page.text))
        callback = alice.authorize(started.headers["location"])  # alice approves bob's sign-in
        refused = await frame.get(callback)
    assert refused.status_code == 403
    assert "someone else" in refused.text
    assert not core(space_app).frame_tokens


async def test_an_unknown_callback_is_refused(space_app: Starlette) -> None:
    async with app_client(space_app) as frame:
        page = await frame.get("/auth/callback?code=x&state=nobody-started-this")
    assert page.status_code == 400
