"""H. Password grant (checklist items 32–33)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.checklist.support import bearer, password_grant
from tests.oauth_support import RegisteredApp, register_app
from tests.support import Browser


def count_hashes(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    passwords = app.state.frontdesk.passwords
    calls = [0]
    original = passwords._verify_sync

    def counting(stored: str, password: str) -> tuple[bool, bool]:
        calls[0] += 1
        return original(stored, password)  # type: ignore[no-any-return]

    monkeypatch.setattr(passwords, "_verify_sync", counting)
    return calls


@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.rfc("6819 4.4.3.6")
async def test_item_32_password_grant_brute_force(
    app: Any,
    state: Any,
    db: Any,
    dev: Any,
    browser: Browser,
    new_browser: Any,
    person: Any,
    registered: RegisteredApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """20 wrong passwords are throttled (429 ``invalid_grant`` with Retry-After) before any
    hashing; the right password waits too; unknown users and wrong passwords answer alike
    and cost the same hashing work (one Argon2 verification each, counted rather than timed:
    medians on a shared 2-core machine are noise); apps without the grant are
    ``unauthorized_client``."""
    hashes = count_hashes(app, monkeypatch)
    wrong = await password_grant(browser, registered, password="wrong password")
    unknown = await password_grant(
        browser, registered, username="ghost@example.com", password="wrong password"
    )
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json() and wrong.json()["error"] == "invalid_grant"
    assert hashes[0] == 2  # one Argon2 verification each: equal work (the dummy hash for ghosts)

    statuses = [wrong.status_code]
    for _ in range(19):
        response = await password_grant(browser, registered, password="wrong password")
        statuses.append(response.status_code)
    assert set(statuses) <= {400, 429} and 429 in statuses
    first = statuses.index(429)
    assert first <= 10 and set(statuses[first:]) == {429}
    assert response.json()["error"] == "invalid_grant" and int(response.headers["retry-after"]) > 0
    hashed_before = hashes[0]
    elsewhere: Browser = new_browser(client_ip="203.0.113.99")
    right = await password_grant(elsewhere, registered)
    assert right.status_code == 429  # per account, whatever the address
    assert hashes[0] == hashed_before  # refused before hashing

    no_grant = await register_app(state, db, dev, name="No password grant", password_grant=False)
    refused = await password_grant(
        new_browser(client_ip="203.0.113.98"), no_grant, username="dev@example.com"
    )
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    public = await register_app(state, db, dev, name="Public", public=True)
    refused = await password_grant(new_browser(client_ip="203.0.113.97"), public, username="dev@example.com")
    assert refused.status_code in (400, 401) and refused.json()["error"] in (
        "unauthorized_client",
        "invalid_client",
    )


@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.parametrize("settings_overrides", [{"login_failures_per_address": "5/15 minutes"}])
async def test_item_32_failures_are_limited_per_address_too(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    """Spraying one password over many accounts from one address is throttled as well."""
    statuses = [
        (
            await password_grant(browser, registered, username=f"user{i}@example.com", password="Winter2026")
        ).status_code
        for i in range(8)
    ]
    assert statuses[:5] == [400] * 5 and set(statuses[5:]) == {429}


@pytest.mark.rfc("6749 4.3.2")
@pytest.mark.parametrize("settings_overrides", [{"hash_concurrency": 1, "hash_queue_limit": 3}])
async def test_item_33_hashing_concurrency_cap(
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
    assert started[0] == 1 and running[0] == 1
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
    assert peak[0] == 1
    assert loop_thread not in threads
