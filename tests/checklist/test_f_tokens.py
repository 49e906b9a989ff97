"""F. Tokens: issuance, storage, privileges, revocation (checklist items 22–26)."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import inspect, text

from frontdesk.oauth import pkce
from frontdesk.services import apps
from frontdesk.store.models import User
from tests.checklist.support import (
    api_status,
    assert_no_store,
    bearer,
    code_token,
    parse_challenge,
    password_grant,
)
from tests.checklist.test_b_codes import assert_random_secrets
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    authorize_params,
    exchange,
    get_code,
    register_app,
)
from tests.support import PASSWORD, Browser, csrf_from
from tests.web.test_apps_pages import register_ok, shown

# RFC 6749 §5.2: error_description characters.
DESCRIPTION = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$")
ERROR_CODES = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}


def assert_token_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert_no_store(response)
    body = response.json()
    assert body["error"] == error and error in ERROR_CODES
    assert set(body) <= {"error", "error_description", "error_uri"}
    if "error_description" in body:
        assert DESCRIPTION.match(body["error_description"]), body["error_description"]


@pytest.mark.rfc("6749 5.1")
@pytest.mark.rfc("6749 5.2")
async def test_item_22_token_response_format(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    ok = await exchange(logged_in, registered, code)
    assert ok.status_code == 200
    assert_no_store(ok)
    body = ok.json()
    assert set(body) == {"access_token", "token_type", "scope"}  # decision 6: no expires_in
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["scope"], str) and body["scope"] == "read_user read_memberships"
    unknown = await password_grant(logged_in, registered, scope="read_user,bogus_but_unknown")
    assert_token_error(unknown, "invalid_scope")
    # A scope the app may not hold is dropped, and the response says what was granted (§3.3).
    narrowed = await password_grant(logged_in, registered, scope="read_user navigation")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "read_user"
    expiring = await register_app(state, db, dev, name="Expiring", access_token_ttl=600)
    body = (await password_grant(logged_in, expiring)).json()
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= 600
    assert body["refresh_token"].startswith("fdrt_")

    creds = {"client_id": registered.client_id, "client_secret": registered.client_secret or ""}
    no_password = await register_app(state, db, dev, name="No password", password_grant=False)
    assert_token_error(await logged_in.post(TOKEN_URL, data=creds), "invalid_request")
    assert_token_error(
        await logged_in.post(
            TOKEN_URL, data={**creds, "grant_type": "authorization_code", "client_secret": "x"}
        ),
        "invalid_client",
        401,
    )
    assert_token_error(
        await logged_in.post(
            TOKEN_URL, data={**creds, "grant_type": "authorization_code", "code": "fdac_nope"}
        ),
        "invalid_grant",
    )
    assert_token_error(await password_grant(logged_in, no_password), "unauthorized_client")
    assert_token_error(
        await logged_in.post(TOKEN_URL, data={**creds, "grant_type": "client_credentials"}),
        "unsupported_grant_type",
    )
    assert_token_error(await password_grant(logged_in, registered, scope="bogus"), "invalid_scope")

    # POST is mandatory (§3.2).
    for method in ("GET", "PUT", "DELETE"):
        response = await logged_in.http.request(method, TOKEN_URL)
        assert response.status_code in (400, 405)
        assert_no_store(response)
    # A repeated parameter is invalid_request (§3.2).
    code = await get_code(logged_in, registered)
    repeated = await logged_in.post(
        TOKEN_URL,
        content=urlencode(
            [*creds.items(), ("grant_type", "authorization_code"), ("code", code), ("code", "b")]
        ),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_token_error(repeated, "invalid_request")
    # An empty parameter is an absent one (§3.1).
    code = await get_code(logged_in, registered)
    empty = await logged_in.post(
        TOKEN_URL,
        data={
            **creds,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "",
            "code_verifier": "",
        },
    )
    assert empty.status_code == 200, empty.text
    assert_token_error(
        await logged_in.post(TOKEN_URL, data={**creds, "grant_type": "authorization_code", "code": ""}),
        "invalid_request",
    )
    default_scope = await password_grant(logged_in, registered, scope="")
    assert default_scope.json()["scope"] == "read_user read_memberships"


@pytest.mark.rfc("6749 5.2")
@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "pat@example.com", "password": PASSWORD, "scope": "réad"},
        {"grant_type": "password", "username": "pat@example.com", "password": PASSWORD, "scope": 'a"b'},
        {"grant_type": "password", "username": "pat@example.com", "password": PASSWORD, "scope": "a\\b"},
        {"grant_type": "clïent_credentials"},
        {"grant_type": 'x"y'},
    ],
    ids=["non-ascii-scope", "quote-in-scope", "backslash-in-scope", "non-ascii-grant", "quote-in-grant"],
)
async def test_item_22_error_descriptions_use_only_the_allowed_characters(
    browser: Browser, person: Any, registered: RegisteredApp, form: dict[str, str]
) -> None:
    """RFC 6749 §5.2: error_description MUST NOT include characters outside
    %x20-21 / %x23-5B / %x5D-7E, whatever the client sent."""
    creds = {"client_id": registered.client_id, "client_secret": registered.client_secret or ""}
    response = await browser.post(TOKEN_URL, data={**creds, **form})
    assert response.status_code == 400
    description = response.json().get("error_description", "")
    assert DESCRIPTION.match(description), description


@pytest.mark.rfc("6749 10.10")
@pytest.mark.rfc("6819 5.1.4.2.2")
async def test_item_23_token_entropy(
    state: Any, db: Any, dev: Any, browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    """Access tokens, refresh tokens and client secrets: unique, brand-prefixed (``fdat_``,
    ``fdrt_``, ``fdcs_``, so leaked ones can be secret-scanned), 256 random bits each."""
    access = []
    for _ in range(600):
        response = await password_grant(browser, registered)
        assert response.status_code == 200, response.text
        access.append(response.json()["access_token"])
    expiring = await register_app(state, db, dev, name="Expiring", access_token_ttl=600)
    refresh = []
    for _ in range(200):
        body = (await password_grant(browser, expiring)).json()
        access.append(body["access_token"])
        refresh.append(body["refresh_token"])
    owner = await db.get(User, dev.id)
    client_secrets = []
    for i in range(200):
        created = await apps.register_app(
            db,
            state.server_secret,
            owner=owner,
            name=f"App {i}",
            redirect_uris=["https://a.test/cb"],
            scopes="read_user",
        )
        await db.commit()
        assert created.client_secret
        client_secrets.append(created.client_secret)
        access.append(created.test_access_token)
    assert_random_secrets(access, "fdat_")
    assert_random_secrets(refresh, "fdrt_")
    assert_random_secrets(client_secrets, "fdcs_")


# ---- item 24: nothing secret at rest ----------------------------------------------------------


async def dump_database(db: Any) -> str:
    """Every table, every column of every row, as text."""
    conn = await db.connection()
    tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert {"users", "apps", "access_tokens", "refresh_tokens", "authorization_codes", "sessions"} <= set(
        tables
    )
    parts = []
    for table in sorted(tables):
        result = await db.execute(text(f'SELECT * FROM "{table}"'))
        columns = list(result.keys())
        for row in result.all():
            for column, value in zip(columns, row, strict=True):
                if isinstance(value, bytes | bytearray | memoryview):
                    value = bytes(value).hex() + " " + bytes(value).decode("latin-1")
                parts.append(f"{table}.{column}={value}")
    return "\n".join(parts)


def assert_nowhere(haystack: str, secrets_: dict[str, str], where: str) -> None:
    leaks = []
    for label, value in secrets_.items():
        random_part = value.split("_", 1)[1] if re.match(r"^fd[a-z]{2}_", value) else value
        for needle in {value, random_part, random_part[:24]}:
            if needle and needle in haystack:
                leaks.append(label)
    assert not leaks, f"found in {where}: {sorted(set(leaks))}"


async def developer_registers(b: Browser, **form: Any) -> dict[str, str]:
    client_id, page = await register_ok(b, **form)
    secret, token = shown(page, "client-secret"), shown(page, "test-access-token")
    assert secret and token
    return {"client_id": client_id, "client_secret": secret, "test_token": token}


@pytest.mark.rfc("6819 5.1.4.1.3")
@pytest.mark.rfc("6749 10.3")
async def test_item_24_nothing_secret_in_the_database(browser: Browser, new_browser: Any, db: Any) -> None:
    """A full flow through the pages and endpoints, then the whole database (every table and
    column as text) holds none of the raw tokens, codes, refresh tokens, client secrets, test
    tokens, session cookies or passwords."""
    found: dict[str, str] = {}
    dev_password, person_password = (
        "dev password " + secrets.token_hex(4),
        "person pw " + secrets.token_hex(4),
    )
    found["dev password"], found["person password"] = dev_password, person_password
    await browser.signup("dev@example.com", password=dev_password, name="Dev")
    found["dev session"] = browser.http.cookies["frontdesk_session"]
    plain = await developer_registers(browser, scope=["read_user", "read_memberships"])
    found |= {"app secret": plain["client_secret"], "app test token": plain["test_token"]}
    refreshing = await developer_registers(
        browser, name="Refreshing", access_token_ttl="3600", scope=["read_user"]
    )
    found |= {"ttl app secret": refreshing["client_secret"], "ttl app test token": refreshing["test_token"]}

    person: Browser = new_browser()
    await person.signup("pat@example.com", password=person_password, name="Pat")
    found["person session"] = person.http.cookies["frontdesk_session"]
    app = RegisteredApp(
        plain["client_id"], plain["client_secret"], plain["test_token"], "https://example.com/cb"
    )
    ttl_app = RegisteredApp(
        refreshing["client_id"],
        refreshing["client_secret"],
        refreshing["test_token"],
        "https://example.com/cb",
    )
    # Code flow with PKCE.
    verifier = secrets.token_urlsafe(48)
    found["pkce verifier"] = verifier
    code = await get_code(person, app, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    found["code"] = code
    response = await exchange(person, app, code, code_verifier=verifier)
    assert response.status_code == 200, response.text
    found["code flow token"] = response.json()["access_token"]
    # The document's password grant, every parameter in the query string.
    response = await person.post(
        TOKEN_URL
        + "?"
        + urlencode(
            {
                "grant_type": "password",
                "username": "pat@example.com",
                "password": person_password,
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "scope": "read_user read_memberships",
            }
        )
    )
    assert response.status_code == 200, response.text
    user_token = found["password grant token"] = response.json()["access_token"]
    # An app with access_token_ttl: code flow, then refresh.
    code = await get_code(person, ttl_app)
    found["ttl code"] = code
    body = (await exchange(person, ttl_app, code)).json()
    found["ttl access token"], found["refresh token"] = body["access_token"], body["refresh_token"]
    refreshed = await person.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": ttl_app.client_id,
            "client_secret": ttl_app.client_secret,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    found["refreshed access token"] = refreshed.json()["access_token"]
    found["rotated refresh token"] = refreshed.json()["refresh_token"]
    # A space token (Pat creates a space and is its admin).
    assert (
        await person.submit("/spaces/new", {"name": "Co-Up", "subdomain": "co-up", "custom_domain": ""})
    ).status_code == 303
    space = await person.post(f"/api/access_tokens/{user_token}/space", json={"space_id": "co-up"})
    assert space.status_code == 201, space.text
    found["space token"] = space.json()["token"]
    # Revealing the test token again after a password confirmation, a new secret, a new test token.
    url = f"/oauth2_clients/{app.client_id}"
    assert (await browser.submit(url, {"password": dev_password}, action=f"{url}/reveal")).status_code == 303
    page = await browser.get(url)
    assert (
        shown(page, "test-access-token") == app.test_token
        and shown(page, "client-secret") == app.client_secret
    )
    assert (await browser.submit(url, {}, action=f"{url}/secret")).status_code == 303
    found["regenerated secret"] = shown(await browser.get(url), "client-secret") or ""
    assert (await browser.submit(url, {"action": "create"}, action=f"{url}/test_token")).status_code == 303
    found["recreated test token"] = shown(await browser.get(url), "test-access-token") or ""
    assert all(found.values()), [k for k, v in found.items() if not v]
    for token in (
        user_token,
        found["space token"],
        found["recreated test token"],
        found["refreshed access token"],
    ):
        assert await api_status(person, token) == 200

    db.expire_all()
    dump = await dump_database(db)
    assert "fdat_" not in dump and "fdrt_" not in dump and "fdac_" not in dump and "fdcs_" not in dump
    assert_nowhere(dump, found, "the database")
    assert "$argon2id$" in dump  # the passwords are there, as Argon2id hashes


# ---- items 25 and 26 --------------------------------------------------------------------------


@pytest.mark.rfc("9700 2.3")
async def test_item_25_privilege_restriction(
    state: Any, db: Any, dev: Any, browser: Browser, tenants: Any, new_browser: Any
) -> None:
    """Scopes are checked per endpoint (403 ``insufficient_scope`` naming the scope), a space
    token works in its space only, a user token only where its user is a member (an admin for
    admin endpoints). Documented choice: another space's token gets 403."""
    app = await register_app(
        state, db, dev, scopes="read_user read_memberships read_navigation_links write_navigation_links"
    )
    reader = (await password_grant(browser, app, scope="read_user read_navigation_links")).json()[
        "access_token"
    ]
    writer = (await password_grant(browser, app, scope="write_navigation_links")).json()["access_token"]
    co_up: Browser = new_browser("co-up.localhost:8000")
    link = {"section": "members", "label": "Booking", "iframe_url": "https://app.example/embed"}
    assert (await co_up.get("/api/navigation_links", headers=bearer(reader))).status_code == 200
    denied = await co_up.post("/api/navigation_links", json=link, headers=bearer(reader))
    assert denied.status_code == 403
    scheme, params = parse_challenge(denied.headers["www-authenticate"])
    assert scheme == "Bearer" and params["error"] == "insufficient_scope"
    assert params["scope"] == "write_navigation_links" and params["realm"] == "http://co-up.localhost:8000"
    assert (await co_up.post("/api/navigation_links", json=link, headers=bearer(writer))).status_code == 201
    no_user = await browser.get("/api/user", headers=bearer(writer))
    assert no_user.status_code == 403 and 'scope="read_user"' in no_user.headers["www-authenticate"]

    # Space tokens: their own space only.
    members = (await password_grant(browser, app, scope="read_user read_memberships")).json()["access_token"]
    space_token = (
        await browser.post(f"/api/access_tokens/{members}/space", json={"space_id": "co-up"})
    ).json()["token"]
    assert (await co_up.get("/api/memberships", headers=bearer(space_token))).status_code == 200
    harbour: Browser = new_browser("members.harbour.test:8000")
    assert (await harbour.get("/api/memberships", headers=bearer(space_token))).status_code == 403
    assert (
        await browser.get("/api/spaces/harbour/memberships", headers=bearer(space_token))
    ).status_code == 403
    # User tokens: where the user is an admin/member only.
    assert (await harbour.get("/api/memberships", headers=bearer(members))).status_code == 200
    quay: Browser = new_browser("quay.localhost:8000")
    assert (await quay.get("/api/memberships", headers=bearer(members))).status_code == 403
    assert (await browser.get("/api/spaces/quay/memberships", headers=bearer(members))).status_code == 403
    assert (await quay.get("/api/navigation_links", headers=bearer(reader))).status_code == 403


@pytest.mark.rfc("7009 2.1")
@pytest.mark.rfc("7009 2.2")
async def test_item_26_revocation(logged_in: Browser, registered: RegisteredApp, browser: Browser) -> None:
    """RFC 7009 endpoint (200 even for unknown tokens), the people's UI (/account/apps), the
    Cobot API's DELETE, and replayed codes (item 7) all revoke."""
    creds = {"client_id": registered.client_id, "client_secret": registered.client_secret or ""}
    token = (await code_token(logged_in, registered))["access_token"]
    other = (await code_token(logged_in, registered))["access_token"]
    revoked = await logged_in.post("/oauth/revoke", data={**creds, "token": token})
    assert revoked.status_code == 200
    response = await logged_in.get("/api/user", headers=bearer(token))
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]
    assert await api_status(logged_in, other) == 200
    for unknown in ("fdat_" + secrets.token_urlsafe(32), "garbage", token):
        assert (await logged_in.post("/oauth/revoke", data={**creds, "token": unknown})).status_code == 200
    # Cobot API: DELETE /api/access_tokens/<token>.
    assert (await logged_in.delete(f"/api/access_tokens/{other}")).status_code == 204
    assert await api_status(logged_in, other) == 401
    # The person's "Revoke access" on /account/apps: every token of the app stops at once.
    first = (await code_token(logged_in, registered))["access_token"]
    second = (await password_grant(logged_in, registered)).json()["access_token"]
    page = await logged_in.get("/account/apps")
    assert page.status_code == 200 and registered.client_id in page.text
    form = page.text.split(f'action="/account/apps/{registered.client_id}/revoke"', 1)[1]
    response = await logged_in.post(
        f"/account/apps/{registered.client_id}/revoke", data={"csrf_token": csrf_from(form)}
    )
    assert response.status_code == 303
    assert await api_status(logged_in, first) == 401 and await api_status(logged_in, second) == 401
    # And the next authorization asks for consent again.
    again = await logged_in.get("/oauth/authorize", params=authorize_params(registered))
    assert again.status_code == 200 and "Approve" in again.text
