"""The password grant, Cobot's "app flow" (RFC 6749 §4.3, project decision 4)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.oauth_support import TOKEN_URL, RegisteredApp, bearer, password_grant, register_app
from tests.support import PASSWORD, Browser


def doc_request(
    app: RegisteredApp,
    username: str = "pat@example.com",
    password: str = PASSWORD,
    scope: str = "read_user read_memberships",
) -> str:
    """Exactly the document's request: every parameter in the query string of a POST."""
    return (
        TOKEN_URL
        + "?"
        + urlencode(
            {
                "scope": scope,
                "grant_type": "password",
                "username": username,
                "password": password,
                "client_id": app.client_id,
                "client_secret": app.client_secret or "",
            }
        )
    )


@pytest.mark.rfc("6749 4.3.2")
async def test_the_documents_app_flow(browser: Browser, registered: RegisteredApp, person: Any) -> None:
    response = await browser.post(doc_request(registered))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["scope"] == "read_user read_memberships"
    assert "expires_in" not in body and "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    me = await browser.get("/api/user", params={"access_token": body["access_token"]})
    assert me.json()["email"] == "pat@example.com"


async def test_form_body_and_default_scope(browser: Browser, registered: RegisteredApp, person: Any) -> None:
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "PAT@example.com",
            "password": PASSWORD,
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        },
    )
    assert response.status_code == 200 and response.json()["scope"] == "read_user read_memberships"


async def test_comma_separated_scopes_are_tolerated(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    response = await browser.post(doc_request(registered, scope="read_user,read_memberships"))
    assert response.json()["scope"] == "read_user read_memberships"


def count_hashes(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count Argon2 verifications (counted rather than timed: medians on a shared 2-core
    machine are noise)."""
    passwords = app.state.frontdesk.passwords
    calls = [0]
    original = passwords._verify_sync

    def counting(stored: str, password: str) -> tuple[bool, bool]:
        calls[0] += 1
        return original(stored, password)  # type: ignore[no-any-return]

    monkeypatch.setattr(passwords, "_verify_sync", counting)
    return calls


@pytest.mark.rfc("6749 5.2")
@pytest.mark.rfc("6819 4.4.3.6")
@pytest.mark.checklist(32)
async def test_wrong_password_and_unknown_user_are_the_same_invalid_grant(
    app: Any, browser: Browser, registered: RegisteredApp, person: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown users and wrong passwords answer alike and cost the same hashing work (one
    Argon2 verification each: the dummy hash for ghosts)."""
    hashes = count_hashes(app, monkeypatch)
    wrong = await browser.post(doc_request(registered, password="nope"))
    unknown = await browser.post(doc_request(registered, username="ghost@example.com", password="nope"))
    assert wrong.status_code == unknown.status_code == 400
    assert (
        wrong.json()
        == unknown.json()
        == {"error": "invalid_grant", "error_description": "invalid username or password"}
    )
    assert hashes[0] == 2


@pytest.mark.rfc("6749 5.2")
@pytest.mark.checklist(32)
async def test_apps_without_the_grant_are_unauthorized_clients(
    state: Any, db: Any, dev: Any, browser: Browser, person: Any
) -> None:
    off = await register_app(state, db, dev, name="No password", password_grant=False)
    response = await browser.post(doc_request(off))
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    public = await register_app(state, db, dev, name="Public", public=True)
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "pat@example.com",
            "password": PASSWORD,
            "client_id": public.client_id,
        },
    )
    assert response.status_code == 400 and response.json() == {
        "error": "unauthorized_client",
        "error_description": "this app may not use the password grant",
    }


@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.rfc("6819 4.4.3.6")
@pytest.mark.checklist(32)
async def test_failures_are_limited_per_account_before_hashing(
    app: Any,
    browser: Browser,
    new_browser: Any,
    registered: RegisteredApp,
    person: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """20 wrong passwords from one address: the 11th and later are throttled (429
    ``invalid_grant`` with Retry-After) before any hashing, the right password from there too;
    from an address that has not been failing it works (tests/oauth/test_throttles.py)."""
    hashes = count_hashes(app, monkeypatch)
    statuses = []
    for _ in range(20):
        response = await password_grant(browser, registered, password="wrong password")
        assert response.json()["error"] == "invalid_grant"
        statuses.append(response.status_code)
    assert statuses == [400] * 10 + [429] * 10
    assert int(response.headers["retry-after"]) > 0
    assert hashes[0] == 10  # the throttled attempts were refused before hashing
    right = await password_grant(browser, registered)
    assert right.status_code == 429 and right.json()["error"] == "invalid_grant"
    assert hashes[0] == 10
    elsewhere: Browser = new_browser(client_ip="203.0.113.99")
    assert (await password_grant(elsewhere, registered)).status_code == 200


@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.checklist(32)
@pytest.mark.parametrize("settings_overrides", [{"login_failures_per_address": "5/15 minutes"}])
async def test_failures_are_limited_per_address_too(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    """Spraying one password over many accounts from one address is throttled as well."""
    statuses = [
        (
            await password_grant(browser, registered, username=f"user{i}@example.com", password="Winter2026")
        ).status_code
        for i in range(8)
    ]
    assert statuses == [400] * 5 + [429] * 3


@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.checklist(33)
@pytest.mark.parametrize("settings_overrides", [{"hash_concurrency": 1, "hash_queue_limit": 3}])
async def test_hashing_is_capped_and_the_api_keeps_answering(
    app: Any,
    browser: Browser,
    new_browser: Any,
    person: Any,
    registered: RegisteredApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not a load test (that is the benchmark's): hashes run one at a time off the event loop,
    at most ``hash_queue_limit`` wait (the rest get 503 ``temporarily_unavailable`` at once),
    and the API answers while every hashing slot is busy."""
    token = (await password_grant(browser, registered)).json()["access_token"]
    passwords = app.state.frontdesk.passwords
    original = passwords._verify_sync
    release = threading.Event()
    lock = threading.Lock()
    running = [0]
    peak = [0]
    started = [0]
    threads: set[int] = set()
    loop_thread = threading.get_ident()

    def slow(stored: str, password: str) -> tuple[bool, bool]:
        threads.add(threading.get_ident())
        with lock:
            running[0] += 1
            started[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(20)
        with lock:
            running[0] -= 1
        return original(stored, password)  # type: ignore[no-any-return]

    monkeypatch.setattr(passwords, "_verify_sync", slow)
    clients = [new_browser(client_ip=f"203.0.113.{i}") for i in range(6)]
    grants = [asyncio.create_task(password_grant(c, registered)) for c in clients]
    for _ in range(1000):  # until the first hash is running and the queue is full
        await asyncio.sleep(0.01)
        if started[0] == 1 and sum(t.done() for t in grants) == 3:
            break
    assert started[0] == 1
    busy = [t.result() for t in grants if t.done()]
    assert len(busy) == 3
    for response in busy:
        assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
        assert int(response.headers["retry-after"]) > 0
    # While the only hashing slot is taken and the queue is full, the API still answers.
    api = await asyncio.wait_for(browser.get("/api/user", headers=bearer(token)), timeout=10)
    assert api.status_code == 200
    release.set()
    done = await asyncio.wait_for(asyncio.gather(*grants), timeout=20)
    assert sorted(r.status_code for r in done) == [200, 200, 200, 503, 503, 503]
    assert peak[0] == 1  # one at a time
    assert loop_thread not in threads


@pytest.mark.parametrize("settings_overrides", [{"password_grant": False}])
async def test_the_password_grant_can_be_switched_off_globally(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    response = await browser.post(doc_request(registered))
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    metadata = (await browser.get("/.well-known/oauth-authorization-server")).json()
    assert "password" not in metadata["grant_types_supported"]
