"""The token endpoint (RFC 6749 §3.2, §4.1.3, §5) and the authorization code grant."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from frontdesk.oauth import pkce
from frontdesk.services import apps
from frontdesk.store.models import AccessToken, AuditEvent, AuthorizationCode, User
from tests.oauth_support import (
    CALLBACK,
    TOKEN_URL,
    RegisteredApp,
    api_status,
    assert_no_store,
    assert_random_secrets,
    basic,
    bearer,
    exchange,
    get_code,
    password_grant,
    register_app,
)
from tests.support import PASSWORD, Browser, make_settings

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
CODE_PREFIX = "fdac_"
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


def s256(verifier: str = VERIFIER) -> dict[str, str]:
    return {"code_challenge": pkce.s256(verifier), "code_challenge_method": "S256"}


def assert_token_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert_no_store(response)
    body = response.json()
    assert body["error"] == error and error in ERROR_CODES
    assert set(body) <= {"error", "error_description", "error_uri"}
    if "error_description" in body:
        assert DESCRIPTION.match(body["error_description"]), body["error_description"]


def encode_all(value: str) -> str:
    """Percent-encode every character, unreserved ones included (as oauth4webapi does)."""
    return "".join(f"%{b:02X}" for b in value.encode())


def basic_raw(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---- the answer (checklist items 22 and 23) ---------------------------------------------------


@pytest.mark.rfc("6749 5.1")
@pytest.mark.checklist(22)
async def test_token_response_format(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    # Exactly the body the source document shows: no redirect_uri (decision 7).
    response = await logged_in.post(
        TOKEN_URL,
        content=(
            f"client_id={registered.client_id}&client_secret={registered.client_secret}"
            f"&grant_type=authorization_code&code={code}"
        ),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope"}  # decision 6: no expires_in
    assert body["token_type"] == "bearer" and body["scope"] == "read_user read_memberships"
    assert body["access_token"].startswith("fdat_") and len(body["access_token"]) == 5 + 43
    me = await logged_in.get("/api/user", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["email"] == "pat@example.com"
    # Apps that opted in to expiring tokens get expires_in and a refresh token.
    expiring = await register_app(state, db, dev, name="Expiring", access_token_ttl=600)
    response = await password_grant(logged_in, expiring)
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope", "expires_in", "refresh_token"}
    assert body["expires_in"] == 600 and body["refresh_token"].startswith("fdrt_")


@pytest.mark.rfc("6749 3.3")
@pytest.mark.rfc("6749 5.1")
@pytest.mark.checklist(22)
async def test_the_answer_names_the_granted_scope(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    # A scope the app may not hold is dropped, and the response says what was granted (§3.3).
    narrowed = await password_grant(browser, registered, scope="read_user navigation")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "read_user"
    # An empty scope is an absent one (§3.1): the app's scopes.
    default_scope = await password_grant(browser, registered, scope="")
    assert default_scope.status_code == 200
    assert default_scope.json()["scope"] == "read_user read_memberships"


@pytest.mark.rfc("6749 5.2")
@pytest.mark.rfc("6749 3.2")
@pytest.mark.checklist(22)
async def test_token_error_responses(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    """Each error with its status, as JSON that is never cached, with only the allowed members
    and description characters."""
    creds = {"client_id": registered.client_id, "client_secret": registered.client_secret or ""}
    assert_token_error(await logged_in.post(TOKEN_URL, data=creds), "invalid_request")
    assert_token_error(
        await logged_in.post(TOKEN_URL, data={**creds, "grant_type": "authorization_code"}), "invalid_request"
    )
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
    no_password = await register_app(state, db, dev, name="No password", password_grant=False)
    assert_token_error(await password_grant(logged_in, no_password), "unauthorized_client")
    assert_token_error(
        await logged_in.post(TOKEN_URL, data={**creds, "grant_type": "implicit"}),
        "unsupported_grant_type",
    )
    assert_token_error(await password_grant(logged_in, registered, scope="bogus"), "invalid_scope")
    assert_token_error(
        await password_grant(logged_in, registered, scope="read_user,bogus_but_unknown"), "invalid_scope"
    )

    # POST is mandatory (§3.2).
    for method in ("GET", "PUT", "DELETE"):
        response = await logged_in.http.request(method, TOKEN_URL)
        assert_token_error(response, "invalid_request", 405)
        assert response.headers["allow"] == "POST"
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
    assert_token_error(
        await logged_in.post(TOKEN_URL, data={**creds, "grant_type": "authorization_code", "code": ""}),
        "invalid_request",
    )
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
    assert empty.status_code == 200, empty.text  # the repeated parameter did not burn the code


@pytest.mark.rfc("6749 5.2")
@pytest.mark.checklist(22)
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
async def test_error_descriptions_use_only_the_allowed_characters(
    browser: Browser, person: Any, registered: RegisteredApp, form: dict[str, str]
) -> None:
    """RFC 6749 §5.2: error_description MUST NOT include characters outside
    %x20-21 / %x23-5B / %x5D-7E, whatever the client sent."""
    creds = {"client_id": registered.client_id, "client_secret": registered.client_secret or ""}
    response = await browser.post(TOKEN_URL, data={**creds, **form})
    error = "invalid_scope" if form["grant_type"] == "password" else "unsupported_grant_type"
    assert_token_error(response, error)
    assert response.json()["error_description"]


@pytest.mark.rfc("6749 10.10")
@pytest.mark.rfc("6819 5.1.4.2.2")
@pytest.mark.checklist(23)
async def test_tokens_and_secrets_are_random(
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
        response = await password_grant(browser, expiring)
        assert response.status_code == 200, response.text
        access.append(response.json()["access_token"])
        refresh.append(response.json()["refresh_token"])
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
    assert {len(t) for t in access} == {5 + 43}


# ---- client authentication (checklist items 17–21) --------------------------------------------


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.checklist(17)
async def test_supported_client_authentication_methods(logged_in: Browser, registered: RegisteredApp) -> None:
    """Basic with raw and with form-urlencoded credentials, and credentials in the body, all
    work. ``client_secret`` in the query string is accepted by default (project decision 2;
    the strict-mode test checks the checklist's refusal)."""
    secret = registered.client_secret
    assert secret
    for user, password in (
        (registered.client_id, secret),
        (encode_all(registered.client_id), encode_all(secret)),
    ):
        code = await get_code(logged_in, registered)
        response = await logged_in.post(
            TOKEN_URL,
            data={"grant_type": "authorization_code", "code": code},
            headers=basic_raw(user, password),
        )
        assert response.status_code == 200, response.text
    code = await get_code(logged_in, registered)
    assert (await exchange(logged_in, registered, code)).status_code == 200  # client_secret_post
    code = await get_code(logged_in, registered)
    in_query = await logged_in.post(
        TOKEN_URL + "?" + urlencode({"client_id": registered.client_id, "client_secret": secret}),
        data={"grant_type": "authorization_code", "code": code},
    )
    assert in_query.status_code == 200, in_query.text  # decision 2


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.rfc("6749 3.2")
@pytest.mark.checklist(17)
@pytest.mark.parametrize("settings_overrides", [{"strict_mode": True}])
async def test_strict_mode_refuses_parameters_in_the_query(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    secret = registered.client_secret
    assert secret
    code = await get_code(logged_in, registered)
    for query in (
        {"client_secret": secret},
        {"client_id": registered.client_id, "client_secret": secret},
        {"code": code},
    ):
        response = await logged_in.post(
            TOKEN_URL + "?" + urlencode(query),
            data={"grant_type": "authorization_code", "code": code, "client_id": registered.client_id},
        )
        assert_token_error(response, "invalid_request")
        assert "query string" in response.json()["error_description"], query
    ok = await logged_in.post(
        TOKEN_URL,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": registered.redirect_uri},
        headers=basic(registered.client_id, secret),
    )
    assert ok.status_code == 200, ok.text  # the code was not burned by the refused requests


@pytest.mark.rfc("6749 2.3")
@pytest.mark.checklist(18)
async def test_one_authentication_method_per_request(logged_in: Browser, registered: RegisteredApp) -> None:
    secret = registered.client_secret
    assert secret
    code = await get_code(logged_in, registered)
    both = await logged_in.post(
        TOKEN_URL,
        data={"grant_type": "authorization_code", "code": code, "client_secret": secret},
        headers=basic(registered.client_id, secret),
    )
    assert_token_error(both, "invalid_request")
    both_in_query = await logged_in.post(
        TOKEN_URL + "?" + urlencode({"client_secret": secret}),
        data={"grant_type": "authorization_code", "code": code},
        headers=basic(registered.client_id, secret),
    )
    assert_token_error(both_in_query, "invalid_request")
    other_id = await logged_in.post(
        TOKEN_URL,
        data={"grant_type": "authorization_code", "code": code, "client_id": "someone-else"},
        headers=basic(registered.client_id, secret),
    )
    assert_token_error(other_id, "invalid_request")


@pytest.mark.rfc("6749 5.2")
@pytest.mark.checklist(19)
async def test_invalid_client_looks_the_same_for_unknown_and_wrong(
    browser: Browser, registered: RegisteredApp
) -> None:
    """401 ``invalid_client``; ``WWW-Authenticate: Basic realm=…`` when the header was used
    (none otherwise); an unknown client and a wrong secret are indistinguishable."""
    form = {"grant_type": "authorization_code", "code": "fdac_x"}
    wrong = await browser.post(
        TOKEN_URL, data={**form, "client_id": registered.client_id, "client_secret": "fdcs_x"}
    )
    unknown = await browser.post(TOKEN_URL, data={**form, "client_id": "f" * 32, "client_secret": "fdcs_x"})
    for response in (wrong, unknown):
        assert_token_error(response, "invalid_client", 401)
        assert "www-authenticate" not in response.headers
    assert (
        wrong.json()
        == unknown.json()
        == {"error": "invalid_client", "error_description": "client authentication failed"}
    )

    wrong_basic = await browser.post(TOKEN_URL, data=form, headers=basic(registered.client_id, "fdcs_x"))
    unknown_basic = await browser.post(TOKEN_URL, data=form, headers=basic("f" * 32, "fdcs_x"))
    malformed = await browser.post(TOKEN_URL, data=form, headers={"authorization": "Basic !!!"})
    no_colon = await browser.post(
        TOKEN_URL, data=form, headers={"authorization": "Basic " + base64.b64encode(b"nocolon").decode()}
    )
    for response in (wrong_basic, unknown_basic, malformed, no_colon):
        assert_token_error(response, "invalid_client", 401)
        challenge = response.headers["www-authenticate"]
        assert re.match(r'^Basic realm="[^"]+"', challenge), challenge
    assert wrong_basic.json() == unknown_basic.json()
    assert wrong_basic.headers["www-authenticate"] == unknown_basic.headers["www-authenticate"]


@pytest.mark.rfc("6749 5.2")
@pytest.mark.checklist(19)
@pytest.mark.parametrize("path", ["/oauth/access_token", "/oauth/revoke", "/oauth/introspect"])
async def test_non_ascii_basic_credentials_are_invalid_client(app: Any, path: str) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
        response = await http.post(
            path,
            data={"grant_type": "authorization_code", "code": "x", "token": "x"},
            headers={"authorization": "Basic \xe9t\xe9".encode("latin-1")},
        )
    assert response.status_code == 401, response.status_code
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic realm=")


@pytest.mark.rfc("6749 5.2")
@pytest.mark.parametrize("path", ["/oauth/access_token", "/oauth/revoke", "/oauth/introspect"])
@pytest.mark.parametrize("client_id", ["fdrt_x", "fdat_x"])
async def test_a_client_id_that_looks_like_a_token_is_invalid_client(
    app: Any, path: str, client_id: str
) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
        response = await http.post(
            path, data={"grant_type": "authorization_code", "code": "x", "token": "x", "client_id": client_id}
        )
    assert response.status_code == 401, response.status_code
    assert response.json()["error"] == "invalid_client"


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.rfc("6819 5.2.3.7")
@pytest.mark.checklist(20)
async def test_client_authentication_brute_force_is_throttled(
    browser: Browser, new_browser: Any, registered: RegisteredApp
) -> None:
    """50 bad secrets for one client_id from one address: the 21st and later are throttled
    (429 + Retry-After), and the right secret from there waits too; from an address that has
    not been failing it works (the owner is not locked out: tests/oauth/test_throttles.py)."""
    statuses = []
    for i in range(50):
        response = await browser.post(
            TOKEN_URL,
            data={
                "grant_type": "authorization_code",
                "code": "x",
                "client_id": registered.client_id,
                "client_secret": f"fdcs_guess{i}",
            },
        )
        statuses.append(response.status_code)
        assert_no_store(response)
        assert response.json()["error"] == "invalid_client"
    assert statuses == [401] * 20 + [429] * 30
    assert int(response.headers["retry-after"]) > 0
    right = {
        "grant_type": "authorization_code",
        "code": "x",
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
    }
    assert_token_error(await browser.post(TOKEN_URL, data=right), "invalid_client", 429)
    other_address: Browser = new_browser(client_ip="203.0.113.50")
    # Authenticated: the unknown code is what fails now.
    assert_token_error(await other_address.post(TOKEN_URL, data=right), "invalid_grant", 400)


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.checklist(20)
async def test_client_authentication_brute_force_is_recorded(
    browser: Browser, registered: RegisteredApp, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The checklist asks for "an alert or log event" too: every failure is an audit event
    naming the app, and every throttled attempt a warning naming the client."""
    caplog.set_level(logging.INFO)
    for i in range(30):
        await browser.post(
            TOKEN_URL,
            data={
                "grant_type": "authorization_code",
                "code": "x",
                "client_id": registered.client_id,
                "client_secret": f"fdcs_guess{i}",
            },
        )
    failures = (
        (await db.execute(select(AuditEvent).where(AuditEvent.event == "client_auth.failed"))).scalars().all()
    )
    assert len(failures) == 20
    assert all(
        e.app_id == registered.client_id and e.detail == {"client_id": registered.client_id} for e in failures
    )
    throttled = [
        r
        for r in caplog.records
        if r.name.startswith("frontdesk")
        and r.levelno == logging.WARNING
        and registered.client_id in r.getMessage()
        and "throttled" in r.getMessage()
    ]
    assert len(throttled) == 10


# ---- the authorization code (checklist items 3, 7–12) ----------------------------------------


@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.rfc("6749 10.5")
@pytest.mark.checklist(7)
async def test_a_code_works_once_and_replay_revokes_its_token(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    first = await exchange(logged_in, registered, code)
    assert first.status_code == 200
    token = first.json()["access_token"]
    assert await api_status(logged_in, token) == 200
    second = await exchange(logged_in, registered, code)
    assert_token_error(second, "invalid_grant")
    replayed = await logged_in.get("/api/user", headers=bearer(token))
    assert replayed.status_code == 401 and 'error="invalid_token"' in replayed.headers["www-authenticate"]
    third = await exchange(logged_in, registered, code)
    assert_token_error(third, "invalid_grant")


@pytest.mark.rfc("6749 4.1.3")
async def test_concurrent_redemptions_yield_one_token(
    logged_in: Browser, registered: RegisteredApp, new_browser: Any, db: Any
) -> None:
    code = await get_code(logged_in, registered)
    clients = [new_browser() for _ in range(6)]
    responses = await asyncio.gather(*(exchange(c, registered, code) for c in clients))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400, 400, 400, 400, 400], [r.text for r in responses]
    issued = (
        await db.execute(select(AccessToken).where(AccessToken.grant_type == "authorization_code"))
    ).scalars()
    assert len(list(issued)) == 1
    # The losers were replays that waited for the winner's transaction, so they revoked its token.
    winner = next(r for r in responses if r.status_code == 200).json()["access_token"]
    assert (await logged_in.get("/api/user", headers=bearer(winner))).status_code == 401


@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.checklist(8)
async def test_codes_expire_after_a_minute(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any
) -> None:
    """Codes live 60 s by default (at most 600 s can be configured); after that, invalid_grant."""
    assert state.settings.code_ttl_seconds == 60
    code = await get_code(logged_in, registered)
    row = (await db.execute(select(AuthorizationCode))).scalar_one()
    assert 59 < (row.expires_at - row.created_at).total_seconds() <= 60
    later = state.oauth.config.clock() + timedelta(seconds=61)
    state.oauth.token.config = dataclasses.replace(state.oauth.token.config, clock=lambda: later)
    expired = await exchange(logged_in, registered, code)
    assert_token_error(expired, "invalid_grant")
    assert expired.json() == {"error": "invalid_grant", "error_description": "the authorization code expired"}
    for ttl in (0, 601, 3600):
        with pytest.raises(ValidationError):
            make_settings("sqlite:///x.db", code_ttl_seconds=ttl)


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.checklist(9)
async def test_code_bound_to_the_client_and_burned(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    """App B's credentials cannot redeem app A's code, and the attempt burns it."""
    other = await register_app(state, db, dev, name="App B")
    code = await get_code(logged_in, registered)
    stolen = await exchange(logged_in, other, code)
    assert_token_error(stolen, "invalid_grant")
    burned = await exchange(logged_in, registered, code)
    assert_token_error(burned, "invalid_grant")
    public = await register_app(state, db, dev, name="Public B", public=True)
    code = await get_code(logged_in, registered)
    as_public = await logged_in.post(
        TOKEN_URL, data={"grant_type": "authorization_code", "code": code, "client_id": public.client_id}
    )
    assert_token_error(as_public, "invalid_grant")
    assert_token_error(await exchange(logged_in, registered, code), "invalid_grant")


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.rfc("6749 10.6")
@pytest.mark.checklist(3)
async def test_code_bound_to_redirect_uri(state: Any, db: Any, dev: Any, logged_in: Browser) -> None:
    """A code obtained with ``redirect_uri=A`` is refused with B. Omitting it is accepted by
    default (project decision 7: the source document's exchange omits it); see the strict test."""
    other = "https://app.example/other"
    app = await register_app(state, db, dev, redirect_uris=[CALLBACK, other])
    code = await get_code(logged_in, app, redirect_uri=CALLBACK)
    wrong = await exchange(logged_in, app, code, redirect_uri=other)
    assert_token_error(wrong, "invalid_grant")
    assert_token_error(await exchange(logged_in, app, code, redirect_uri=CALLBACK), "invalid_grant")
    for sent in (CALLBACK + "/", CALLBACK + "?x=1", "https://APP.example/auth/callback"):
        code = await get_code(logged_in, app, redirect_uri=CALLBACK)
        response = await exchange(logged_in, app, code, redirect_uri=sent)
        assert_token_error(response, "invalid_grant")
    code = await get_code(logged_in, app, redirect_uri=CALLBACK)
    assert (await exchange(logged_in, app, code, redirect_uri=CALLBACK)).status_code == 200
    code = await get_code(logged_in, app, redirect_uri=CALLBACK)
    assert (await exchange(logged_in, app, code)).status_code == 200  # decision 7


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.rfc("6749 10.6")
@pytest.mark.checklist(3)
@pytest.mark.parametrize("settings_overrides", [{"strict_mode": True}])
async def test_code_bound_to_redirect_uri_strict_mode(logged_in: Browser, registered: RegisteredApp) -> None:
    """Strict mode: redemption with the redirect URI omitted or different → invalid_grant."""
    code = await get_code(logged_in, registered)
    assert_token_error(await exchange(logged_in, registered, code), "invalid_grant")
    code = await get_code(logged_in, registered)
    other = await exchange(logged_in, registered, code, redirect_uri="https://app.example/other")
    assert_token_error(other, "invalid_grant")
    code = await get_code(logged_in, registered)
    assert (
        await exchange(logged_in, registered, code, redirect_uri=registered.redirect_uri)
    ).status_code == 200


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.checklist(3)
async def test_query_tolerant_apps_still_bind_the_path(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    """Decision 8: an app that opted in to query-tolerant matching may add its own query at the
    authorization endpoint; the token request then names that same URI (issue 12: no other
    difference at the token endpoint, whatever the app's settings), and scheme, host and path
    stay bound."""
    app = await register_app(state, db, dev, allow_redirect_query=True)
    sent = CALLBACK + "?origin=%2Fdashboard"
    code = await get_code(logged_in, app, redirect_uri=sent)
    changed = await exchange(logged_in, app, code, redirect_uri=CALLBACK + "?origin=x")
    assert_token_error(changed, "invalid_grant")
    code = await get_code(logged_in, app, redirect_uri=sent)
    assert (await exchange(logged_in, app, code, redirect_uri=sent)).status_code == 200
    code = await get_code(logged_in, app, redirect_uri=sent)
    moved = await exchange(logged_in, app, code, redirect_uri="https://app.example/elsewhere?origin=x")
    assert_token_error(moved, "invalid_grant")


@pytest.mark.rfc("6749 10.10")
@pytest.mark.rfc("6819 5.1.4.2.3")
@pytest.mark.checklist(10)
async def test_guessed_codes_fail_and_guessing_is_throttled(
    browser: Browser, registered: RegisteredApp
) -> None:
    """100 random codes redeemed with valid client credentials all fail, and after 30
    failures guessing is throttled (429 with Retry-After)."""
    statuses = []
    for _ in range(100):
        response = await exchange(browser, registered, CODE_PREFIX + secrets.token_urlsafe(32))
        assert response.json()["error"] == "invalid_grant", response.text
        assert_no_store(response)
        statuses.append(response.status_code)
    assert statuses == [400] * 30 + [429] * 70
    assert int(response.headers["retry-after"]) > 0


# ---- PKCE (checklist items 11 and 12) ---------------------------------------------------------


@pytest.mark.rfc("7636 4.6")
@pytest.mark.rfc("9700 2.1.1")
@pytest.mark.checklist(11)
async def test_pkce_at_the_token_endpoint(logged_in: Browser, registered: RegisteredApp) -> None:
    metadata = (await logged_in.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["code_challenge_methods_supported"] == ["S256"]

    code = await get_code(logged_in, registered, **s256())
    ok = await exchange(logged_in, registered, code, code_verifier=VERIFIER)
    assert ok.status_code == 200, ok.text

    code = await get_code(logged_in, registered, **s256())
    wrong = await exchange(logged_in, registered, code, code_verifier="x" + VERIFIER[1:])
    assert_token_error(wrong, "invalid_grant")
    code = await get_code(logged_in, registered, **s256())
    missing = await exchange(logged_in, registered, code)
    assert_token_error(missing, "invalid_grant")
    # Verifier syntax (RFC 7636 §4.1): 43–128 of [A-Za-z0-9-._~].
    for bad in (VERIFIER[:42], "a" * 129, "a" * 42 + "+", "a" * 42 + "=", "a" * 42 + " ", "é" * 43):
        code = await get_code(logged_in, registered, **s256(bad if bad.isascii() else "b" * 43))
        response = await exchange(logged_in, registered, code, code_verifier=bad)
        assert_token_error(response, "invalid_grant")
        assert response.json()["error_description"] == "malformed code_verifier", bad
    for good in ("a" * 43, "a" * 128, "Az09-._~" * 6):
        code = await get_code(logged_in, registered, **s256(good))
        assert (await exchange(logged_in, registered, code, code_verifier=good)).status_code == 200, good


@pytest.mark.rfc("9700 4.8.2")
@pytest.mark.checklist(12)
async def test_pkce_downgrade_is_refused(logged_in: Browser, registered: RegisteredApp) -> None:
    """A code issued without ``code_challenge`` refuses any ``code_verifier``; an empty one is
    an absent parameter (RFC 6749 §3.1) and does not count."""
    for verifier in ("a" * 43, VERIFIER):
        code = await get_code(logged_in, registered)
        assert_token_error(
            await exchange(logged_in, registered, code, code_verifier=verifier), "invalid_grant"
        )
    code = await get_code(logged_in, registered)
    assert (await exchange(logged_in, registered, code, code_verifier="")).status_code == 200


# ---- hosts and scopes -------------------------------------------------------------------------


@pytest.mark.rfc("9700 4.4")
@pytest.mark.checklist(42)
async def test_a_space_host_code_redeems_on_its_own_host_and_the_main_host_only(
    tenants: Any, new_browser: Any, person: Any, registered: RegisteredApp
) -> None:
    """A code minted on space A cannot be redeemed at space B's token endpoint (subdomain or
    custom domain), and the attempt burns it; the main host redeems it, like omniauth_cobot."""
    co_up: Browser = new_browser("co-up.localhost:8000")
    assert (await co_up.login("pat@example.com")).status_code == 303
    for other in ("quay.localhost:8000", "members.harbour.test:8000", "harbour.localhost:8000"):
        code = await get_code(co_up, registered)
        stolen = await exchange(new_browser(other), registered, code)
        assert_token_error(stolen, "invalid_grant")
        burned = await exchange(co_up, registered, code)
        assert_token_error(burned, "invalid_grant")
    code = await get_code(co_up, registered)
    assert (await exchange(new_browser(), registered, code)).status_code == 200  # main host
    code = await get_code(co_up, registered)
    assert (await exchange(co_up, registered, code)).status_code == 200  # its own issuer


async def test_users_other_tokens_are_unaffected_by_scope_changes(
    state: Any, db: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    old = (await exchange(logged_in, registered, code)).json()["access_token"]
    app = await apps.get_app(db, registered.client_id)
    assert app is not None
    await apps.update_app(db, app.client_id, scopes="read_user read_memberships navigation")
    await db.commit()
    info = await logged_in.get(f"/api/access_tokens/{old}")
    assert info.json() == {"scope": ["read_user", "read_memberships"]}
    code = await get_code(logged_in, registered, scope="read_user navigation")
    new = (await exchange(logged_in, registered, code)).json()
    # The umbrella comes with what it includes (oauth/scopes.token_scopes).
    assert new["scope"] == "read_user navigation read_navigation_links write_navigation_links"
