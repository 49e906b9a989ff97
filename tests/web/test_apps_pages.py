"""Registering apps at /oauth2_clients: credentials shown once, then behind a password."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from frontdesk.store.models import AccessToken, App, LoginSession
from frontdesk.store.sql_storage import SqlStorage
from frontdesk.store.types import utcnow
from tests.oauth_support import TOKEN_URL, api_status, bearer
from tests.support import PASSWORD, Browser

CONFIRM = "Confirm your password to show the secret and test token"


@pytest.fixture
async def dev(browser: Browser) -> Browser:
    await browser.signup("dev@example.com", name="Dev Eloper")
    return browser


def form(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "My App",
        "name_in_space": "",
        "main_url": "",
        "redirect_uris": "https://example.com/cb",
        "scope": ["read_user"],
        "password_grant": "1",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


async def register(b: Browser, **overrides: Any) -> httpx.Response:
    return await b.submit("/oauth2_clients/new", form(**overrides))


async def register_ok(b: Browser, **overrides: Any) -> tuple[str, httpx.Response]:
    """Register an app and open its page (the one view that shows the credentials)."""
    response = await register(b, **overrides)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    match = re.fullmatch(r"/oauth2_clients/([0-9a-f]{32})", location)
    assert match, location
    page = await b.get(location)
    assert page.status_code == 200
    return match.group(1), page


def shown(page: httpx.Response, what: str) -> str | None:
    match = re.search(rf'id="{what}">([^<]+)<', page.text)
    return match.group(1) if match else None


@pytest.mark.rfc("9700 2.6")
@pytest.mark.checklist(44)
async def test_register_shows_credentials_once(dev: Browser, db: Any, state: Any) -> None:
    client_id, page = await register_ok(dev, scope=["read_user", "navigation"], main_url="https://x.example/")
    assert page.headers["cache-control"] == "no-store"
    assert shown(page, "client-id") == client_id
    secret, token = shown(page, "client-secret"), shown(page, "test-access-token")
    assert secret and secret.startswith("fdcs_") and token and token.startswith("fdat_")
    assert "Registered My App." in page.text and CONFIRM not in page.text

    storage = SqlStorage(db, state.server_secret)
    client = await storage.get_client(client_id)
    assert client is not None and client.scopes == ("read_user", "navigation")
    assert client.main_url == "https://x.example/" and client.password_grant
    assert await storage.check_client_secret(client, secret)
    info = await storage.lookup_token(token)
    # The test token holds the umbrella's scopes too (oauth/scopes.token_scopes).
    assert (
        info is not None
        and info.grant_type == "test"
        and info.scopes == ("read_user", "navigation", "read_navigation_links", "write_navigation_links")
    )

    again = await dev.get(f"/oauth2_clients/{client_id}")
    assert again.status_code == 200 and again.headers["cache-control"] == "no-store"
    assert shown(again, "client-id") == client_id
    assert secret not in again.text and token not in again.text
    assert shown(again, "client-secret") is None and CONFIRM in again.text

    listing = await dev.get("/oauth2_clients")
    assert f'<a href="/oauth2_clients/{client_id}">My App</a>' in listing.text
    assert secret not in listing.text


@pytest.mark.checklist(44)
async def test_password_confirmation_reveals_the_same_values(dev: Browser, db: Any) -> None:
    client_id, page = await register_ok(dev)
    secret, token = shown(page, "client-secret"), shown(page, "test-access-token")
    url = f"/oauth2_clients/{client_id}"
    wrong = await dev.submit(url, {"password": "not my password"}, action=f"{url}/reveal")
    assert wrong.status_code == 401
    assert 'id="e-password"' in wrong.text and "Wrong password." in wrong.text
    assert secret not in wrong.text  # type: ignore[operator]

    right = await dev.submit(url, {"password": PASSWORD}, action=f"{url}/reveal")
    assert right.status_code == 303 and right.headers["location"] == url
    for _ in range(2):  # not once: for the next ten minutes
        page = await dev.get(url)
        assert shown(page, "client-secret") == secret and shown(page, "test-access-token") == token
        assert CONFIRM not in page.text and page.headers["cache-control"] == "no-store"

    # Ten minutes later the password is asked for again.
    await db.execute(update(LoginSession).values(reauthenticated_at=utcnow() - timedelta(minutes=11)))
    await db.commit()
    page = await dev.get(url)
    assert shown(page, "client-secret") is None and CONFIRM in page.text


@pytest.mark.parametrize("settings_overrides", [{"login_failures_per_account": "2/15 minutes"}])
async def test_password_confirmation_is_throttled(dev: Browser, new_browser: Any) -> None:
    client_id, _ = await register_ok(dev)
    url = f"/oauth2_clients/{client_id}"
    for _ in range(2):
        response = await dev.submit(url, {"password": "guess"}, action=f"{url}/reveal")
        assert response.status_code == 401
    response = await dev.submit(url, {"password": PASSWORD}, action=f"{url}/reveal")
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert "Too many failed attempts" in response.text
    # The failures count against logging in to the account as well.
    assert (await new_browser().login("dev@example.com")).status_code == 429


@pytest.mark.checklist(44)
async def test_regenerate_secret(dev: Browser, db: Any, state: Any) -> None:
    client_id, page = await register_ok(dev)
    old = shown(page, "client-secret")
    old_digest = (await db.execute(select(App.secret_digest))).scalar_one()
    url = f"/oauth2_clients/{client_id}"
    response = await dev.submit(url, {"confirm": "1"}, action=f"{url}/secret")
    assert response.status_code == 303 and response.headers["location"] == url
    page = await dev.get(url)
    new = shown(page, "client-secret")
    assert new and old and new != old and "the old one no longer works" in page.text
    assert shown((await dev.get(url)), "client-secret") is None  # once
    new_digest = (await db.execute(select(App.secret_digest))).scalar_one()
    assert new_digest != old_digest
    storage = SqlStorage(db, state.server_secret)
    client = await storage.get_client(client_id)
    assert client is not None
    assert not await storage.check_client_secret(client, old)
    assert await storage.check_client_secret(client, new)
    # At the token endpoint: the old secret is invalid_client, the new one works.
    grant = {"grant_type": "password", "username": "dev@example.com", "password": PASSWORD}
    refused = await dev.post(TOKEN_URL, data={**grant, "client_id": client_id, "client_secret": old})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    accepted = await dev.post(TOKEN_URL, data={**grant, "client_id": client_id, "client_secret": new})
    assert accepted.status_code == 200, accepted.text


@pytest.mark.checklist(44)
async def test_test_token_revoke_and_create(dev: Browser, db: Any, state: Any) -> None:
    client_id, page = await register_ok(dev)
    old = shown(page, "test-access-token")
    assert old is not None
    assert await api_status(dev, old) == 200
    url = f"/oauth2_clients/{client_id}"
    assert "Revoke the test token" in (await dev.get(url)).text
    response = await dev.submit(url, {"action": "revoke"}, action=f"{url}/test_token")
    assert response.status_code == 303
    page = await dev.get(url)
    assert "Revoked the test token." in page.text and "Revoke the test token" not in page.text
    storage = SqlStorage(db, state.server_secret)
    info = await storage.lookup_token(old)
    assert info is not None and info.revoked
    row = (await db.execute(select(AccessToken.revoked_at).where(AccessToken.id == info.id))).scalar_one()
    assert row is not None
    assert await api_status(dev, old) == 401

    response = await dev.submit(url, {"action": "create"}, action=f"{url}/test_token")
    assert response.status_code == 303
    page = await dev.get(url)
    new = shown(page, "test-access-token")
    assert new and new != old and "Created a new test token" in page.text
    info = await storage.lookup_token(new)
    assert info is not None and not info.revoked and info.client_id == client_id
    assert await api_status(dev, new) == 200
    response = await dev.submit(url, {"action": "explode"}, action=f"{url}/test_token")
    assert response.status_code == 400


@pytest.mark.rfc("9700 2.6")
@pytest.mark.checklist(44)
async def test_the_test_token_is_an_ordinary_token_of_the_developer(dev: Browser) -> None:
    """A user-scoped, non-expiring token of the developer with the app's scopes: the API knows
    who it is, and introspection names the app and no expiry."""
    client_id, page = await register_ok(dev, scope=["read_user"])
    secret, token = shown(page, "client-secret"), shown(page, "test-access-token")
    assert secret and token
    me = await dev.get("/api/user", headers=bearer(token))
    assert me.status_code == 200 and me.json()["email"] == "dev@example.com"
    info = await dev.get(f"/api/access_tokens/{token}")
    assert info.status_code == 200 and info.json() == {"scope": ["read_user"]}
    introspection = await dev.post(
        "/oauth/introspect", data={"client_id": client_id, "client_secret": secret, "token": token}
    )
    assert introspection.status_code == 200, introspection.text
    body = introspection.json()
    assert body["active"] is True and body["client_id"] == client_id and body["scope"] == "read_user"
    assert body["username"] == "dev@example.com" and "exp" not in body


@pytest.mark.rfc("9700 4.15")
@pytest.mark.checklist(44)
async def test_client_ids_are_assigned_by_the_server(dev: Browser) -> None:
    """Neither the registration form nor dynamic registration (RFC 7591) lets a client pick
    its id (it could collide with a user identifier, RFC 9700 §4.15): a chosen id is ignored."""
    ids = []
    for _ in range(3):
        client_id, _page = await register_ok(dev, client_id="dev@example.com")
        ids.append(client_id)
    dynamic = await dev.post(
        "/oauth/register", json={"redirect_uris": ["https://spa.example/cb"], "client_id": "dev@example.com"}
    )
    assert dynamic.status_code == 201, dynamic.text
    ids.append(dynamic.json()["client_id"])
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


async def test_prefill_from_a_link(dev: Browser) -> None:
    page = await dev.get("/oauth2_clients/new?scope=read_user+navigation&link=https://x.example")
    assert page.status_code == 200
    checked = set(re.findall(r'name="scope" value="([a-z_]+)" checked', page.text))
    assert checked == {"read_user", "navigation"}
    assert 'name="main_url" type="url" value="https://x.example"' in page.text
    assert re.search(r'name="password_grant" value="1" checked', page.text)
    # Restricted scopes are listed but cannot be chosen.
    assert re.search(r'name="scope" value="signin" disabled>', page.text)
    assert "(trusted apps only)" in page.text


@pytest.mark.rfc("6749 3.1.2")
@pytest.mark.rfc("9700 2.6")
@pytest.mark.checklist(2)
@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("/callback", "must be absolute"),
        ("/cb", "must be absolute"),
        ("//evil.test/cb", "must be absolute"),
        ("https://example.com/cb#frag", "fragment"),
        ("https://app.test/cb#", "fragment"),
        ("http://example.com/cb", "Use https"),
        ("http://10.0.0.1/cb", "Use https"),
        ("javascript:alert(1)", "javascript: scheme"),
        ("data:text/html,hi", "data: scheme"),
        ("file:///etc/passwd", "file: scheme"),
        ("vbscript:msgbox", "vbscript: scheme"),
        ("myapp:/cb", "reverse-domain"),
        ("https://user@example.com/cb", "user information"),
        ("https:///cb", "host"),
    ],
)
async def test_redirect_uris_refused(dev: Browser, db: Any, uri: str, message: str) -> None:
    """The registration form and dynamic registration (RFC 7591) refuse fragments, plain http
    except loopback, script-capable and dotless schemes, relative URIs and user information.
    Beyond https, reverse-domain private-use schemes (``com.example.app:/cb``) are accepted for
    native apps (RFC 8252 §7.1): a deliberate exception, tested below."""
    response = await register(dev, redirect_uris=f"https://ok.example/cb\n{uri}")
    assert response.status_code == 422
    error = re.search(r'<small class="error" id="e-redirect_uris">([^<]*)</small>', response.text)
    assert error and message in error.group(1), error and error.group(1)
    assert 'aria-describedby="e-redirect_uris"' in response.text
    assert "https://ok.example/cb\n" in response.text  # what was typed is kept
    dynamic = await dev.post("/oauth/register", json={"redirect_uris": [uri]})
    assert dynamic.status_code == 400 and dynamic.json()["error"] == "invalid_redirect_uri", dynamic.text
    assert (await db.execute(select(App))).first() is None


@pytest.mark.rfc("6749 3.1.2")
@pytest.mark.rfc("8252 7.1")
@pytest.mark.checklist(2)
@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/auth/callback",
        "http://localhost:1234/cb",
        "http://127.0.0.1/cb",
        "http://[::1]/cb",
        "com.example.app:/cb",
    ],
)
async def test_redirect_uris_accepted(dev: Browser, db: Any, uri: str) -> None:
    response = await register(dev, redirect_uris=f"  {uri}  \r\n\r\n")
    assert response.status_code == 303
    assert (await db.execute(select(App.redirect_uris))).scalar_one() == [uri]


@pytest.mark.rfc("6749 3.1.2")
@pytest.mark.checklist(2)
async def test_several_good_redirect_uris_are_registered_in_order(dev: Browser, db: Any) -> None:
    uris = [
        "https://app.test/cb",
        "https://app.test/other?tenant=1",
        "http://localhost:3000/cb",
        "http://127.0.0.1/cb",
        "http://[::1]/cb",
        "com.example.app:/oauth",
    ]
    response = await register(dev, redirect_uris="\n".join(uris))
    assert response.status_code == 303, response.text
    assert (await db.execute(select(App.redirect_uris))).scalar_one() == uris


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (["read_user", "bogus"], "Unknown scope"),
        (["signin"], "trusted apps only"),
        ([], "at least one scope"),
    ],
)
async def test_scopes_refused(dev: Browser, db: Any, scopes: list[str], message: str) -> None:
    response = await register(dev, scope=scopes)
    assert response.status_code == 422
    error = re.search(r'<small class="error" id="e-scopes">([^<]*)</small>', response.text)
    assert error and message in error.group(1)
    assert (await db.execute(select(App))).first() is None


async def test_name_required(dev: Browser) -> None:
    response = await register(dev, name=" ")
    assert response.status_code == 422 and 'id="e-name"' in response.text


async def test_public_app(dev: Browser, db: Any) -> None:
    client_id, page = await register_ok(dev, public="1")  # password_grant=1 is turned off
    assert shown(page, "client-secret") is None and "this is a public app" in page.text
    assert shown(page, "test-access-token")
    row = (await db.execute(select(App))).scalar_one()
    assert row.public and not row.password_grant and row.secret_digest is None and row.secret_sealed is None
    assert "Regenerate client secret" not in page.text
    response = await dev.submit(
        f"/oauth2_clients/{client_id}", {}, action=f"/oauth2_clients/{client_id}/secret"
    )
    assert response.status_code == 303
    assert "Public apps have no client secret." in (await dev.get(f"/oauth2_clients/{client_id}")).text


async def test_edit_settings(dev: Browser, db: Any, state: Any) -> None:
    client_id, page = await register_ok(dev)
    token = shown(page, "test-access-token")
    assert token is not None
    url = f"/oauth2_clients/{client_id}"
    response = await dev.submit(
        url,
        form(
            name="Renamed",
            name_in_space="Invoices",
            redirect_uris="https://example.com/cb\nhttp://localhost:9000/cb",
            scope=["read_user", "read_memberships"],
            password_grant=None,
            allow_redirect_query="1",
        ),
    )
    assert response.status_code == 303 and response.headers["location"] == url
    page = await dev.get(url)
    assert "Settings saved." in page.text and "<h1>Renamed</h1>" in page.text
    row = (await db.execute(select(App))).scalar_one()
    assert row.name == "Renamed" and row.name_in_space == "Invoices"
    assert row.redirect_uris == ["https://example.com/cb", "http://localhost:9000/cb"]
    assert row.scopes == "read_user read_memberships"
    assert not row.password_grant and row.allow_redirect_query
    # Tokens keep the scopes they were issued with.
    info = await SqlStorage(db, state.server_secret).lookup_token(token)
    assert info is not None and info.scopes == ("read_user",)

    bad = await dev.submit(url, form(name="Other", redirect_uris="http://insecure.example/cb"))
    assert bad.status_code == 422 and 'id="e-redirect_uris"' in bad.text
    assert 'value="Other"' in bad.text  # what was typed is kept
    db.expire_all()
    assert (await db.execute(select(App.name))).scalar_one() == "Renamed"


async def test_delete_app(dev: Browser, db: Any) -> None:
    client_id, _ = await register_ok(dev)
    url = f"/oauth2_clients/{client_id}"
    response = await dev.submit(url, {}, action=f"{url}/delete")
    assert response.status_code == 303 and response.headers["location"] == url
    assert (await db.execute(select(App.client_id))).scalar_one() == client_id
    response = await dev.submit(url, {"confirm": "1"}, action=f"{url}/delete")
    assert response.status_code == 303 and response.headers["location"] == "/oauth2_clients"
    assert "Deleted My App" in (await dev.get("/oauth2_clients")).text
    assert (await db.execute(select(App))).first() is None
    assert (await db.execute(select(AccessToken))).first() is None
    assert (await dev.get(url)).status_code == 404


async def test_only_the_owner_sees_an_app(dev: Browser, new_browser: Any) -> None:
    client_id, _ = await register_ok(dev)
    url = f"/oauth2_clients/{client_id}"
    other = new_browser()
    await other.signup("other@example.com")
    assert (await other.get(url)).status_code == 404
    token = (await other.get("/oauth2_clients")).text
    assert client_id not in token
    for action, data in (
        (url, form(name="Hijacked")),
        (f"{url}/reveal", {"password": PASSWORD}),
        (f"{url}/secret", {}),
        (f"{url}/test_token", {"action": "create"}),
        (f"{url}/delete", {"confirm": "1"}),
    ):
        response = await other.submit("/oauth2_clients", data, action=action)
        assert response.status_code == 404, action
    assert (await other.get("/oauth2_clients/not-an-id")).status_code == 404


async def test_login_required_and_main_host_only(dev: Browser, new_browser: Any) -> None:
    response = await new_browser().get("/oauth2_clients/new?scope=read_user")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Foauth2_clients%2Fnew%3Fscope%3Dread_user"
    await dev.submit("/spaces/new", {"name": "Co-Up", "subdomain": "co-up", "custom_domain": ""})
    space = new_browser("co-up.localhost:8000")
    assert (await space.login("dev@example.com")).status_code == 303
    assert (await space.get("/oauth2_clients")).status_code == 404
    page = await dev.get("/")
    assert '<a href="/oauth2_clients">Apps</a>' in page.text
    assert '<a href="/oauth2_clients">Apps</a>' not in (await space.get("/")).text


async def test_forms_need_the_anti_forgery_token(dev: Browser, db: Any) -> None:
    response = await dev.post("/oauth2_clients/new", data=form())
    assert response.status_code == 403
    assert (await db.execute(select(App))).first() is None
    client_id, _ = await register_ok(dev)
    url = f"/oauth2_clients/{client_id}"
    for action, data in (
        (url, form(name="Forged")),
        (f"{url}/reveal", {"password": PASSWORD}),
        (f"{url}/secret", {}),
        (f"{url}/test_token", {"action": "revoke"}),
        (f"{url}/delete", {"confirm": "1"}),
    ):
        assert (await dev.post(action, data=data)).status_code == 403, action
    assert CONFIRM in (await dev.get(url)).text  # the forged reveal did nothing
