"""A code burned by a failed exchange stays burned (RFC 9700 §4.5.3, RFC 6749 §4.1.2), and the
next exchange says what really happened (issue 11, item 18): no tokens were issued, so none
"are revoked"."""

from __future__ import annotations

from typing import Any

import pytest

from tests.oauth_support import RegisteredApp, exchange, get_code
from tests.support import Browser

PRESENTED = "this authorization code was already presented"
REVOKED = "the authorization code was already used; its tokens are revoked"


def _refused(response: Any) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_grant"
    description: str = body["error_description"]
    return description


@pytest.mark.rfc("6749 4.1.2")
async def test_a_code_burned_by_a_wrong_redirect_uri_says_it_was_presented(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    _refused(await exchange(logged_in, registered, code, redirect_uri="https://app.example/other"))
    assert _refused(await exchange(logged_in, registered, code)) == PRESENTED


@pytest.mark.rfc("6749 4.1.2")
async def test_a_code_burned_at_another_host_says_it_was_presented(
    tenants: Any, new_browser: Any, registered: RegisteredApp
) -> None:
    co_up: Browser = new_browser("co-up.localhost:8000")
    assert (await co_up.login("pat@example.com")).status_code == 303
    code = await get_code(co_up, registered)
    _refused(await exchange(new_browser("quay.localhost:8000"), registered, code))
    assert _refused(await exchange(co_up, registered, code)) == PRESENTED


@pytest.mark.rfc("6749 10.5")
async def test_a_replayed_code_that_issued_tokens_says_they_are_revoked(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    token = (await exchange(logged_in, registered, code)).json()["access_token"]
    assert _refused(await exchange(logged_in, registered, code)) == REVOKED
    assert (await logged_in.get("/api/user", headers={"authorization": f"Bearer {token}"})).status_code == 401
    # Nothing is left to revoke the next time: it says only that the code was presented.
    assert _refused(await exchange(logged_in, registered, code)) == PRESENTED
