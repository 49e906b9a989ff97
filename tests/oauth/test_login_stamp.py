"""The login stamp of prompt=login and max_age (OpenID Connect Core §3.1.2.1) is bound to its
authorization request and to the session whose login it led to (issue 11, item 10): a stamp
taken anonymously, in another session, or for another request never stands in for a login."""

from __future__ import annotations

from typing import Any

import pytest

from tests.oauth_support import RegisteredApp, authorize_params, consent, query
from tests.support import PASSWORD, Browser

LOGIN_AGAIN = "/login?again=1&next="


async def _log_in_anew(b: Browser) -> Any:
    """Log in again (a new session) without going through any authorization request."""
    fields = {"email": "pat@example.com", "password": PASSWORD}
    return await b.submit("/login?again=1", fields, action="/login")


async def _stamped_way_back(b: Browser, app: RegisteredApp, **extra: str) -> str:
    """Open a prompt=login request and return the way back the login page would follow."""
    asked = await b.get("/oauth/authorize", params=authorize_params(app, prompt="login", **extra))
    assert asked.status_code == 303
    next_url = query(asked.headers["location"])["next"]
    assert "fd_login_after=" in next_url
    return next_url


async def _log_in_through(b: Browser, next_url: str) -> str:
    """Log in on the login page with ``next_url``; return where the login sends the browser."""
    login_page = "/login?again=1&next=" + next_url
    back = await b.submit(
        login_page, {"email": "pat@example.com", "password": PASSWORD, "next": next_url}, action="/login"
    )
    assert back.status_code == 303
    location: str = back.headers["location"]
    assert location.startswith("/oauth/authorize?")
    return location


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_a_stamp_taken_anonymously_does_not_stand_in_for_a_login(
    logged_in: Browser, new_browser: Any, registered: RegisteredApp
) -> None:
    """An attacker opens a prompt=login request logged out and keeps the stamp on its way
    back; the victim, who logged in after that moment for her own reasons, is sent to it. She
    must be asked to log in: the stamp was never followed by a login of hers."""
    assert (await consent(logged_in, registered)).status_code == 303  # consent on record
    attacker = new_browser()
    anonymous = await attacker.get("/oauth/authorize", params=authorize_params(registered, prompt="login"))
    assert anonymous.status_code == 303
    way_back = query(anonymous.headers["location"])["next"]
    assert "fd_login_after=" in way_back
    assert (await _log_in_anew(logged_in)).status_code == 303  # a login after the stamp
    response = await logged_in.get(way_back)
    assert response.status_code == 303
    assert response.headers["location"].startswith(LOGIN_AGAIN)


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_a_stamp_bound_by_one_sessions_login_proves_nothing_in_another(
    logged_in: Browser, new_browser: Any, registered: RegisteredApp
) -> None:
    assert (await consent(logged_in, registered)).status_code == 303
    way_back = await _stamped_way_back(logged_in, registered)
    other = new_browser()
    assert (await other.login("pat@example.com")).status_code == 303  # another session, started later
    bound = await _log_in_through(logged_in, way_back)
    done = await logged_in.get(bound)
    assert done.status_code == 302
    assert "code" in query(done.headers["location"])  # its own session: one login is enough
    elsewhere = await other.get(bound)
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"].startswith(LOGIN_AGAIN)
    # Nor does the stamp as the endpoint first sent it (not yet bound to any login).
    unbound = await other.get(way_back)
    assert unbound.status_code == 303
    assert unbound.headers["location"].startswith(LOGIN_AGAIN)


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_a_bound_stamp_satisfies_only_its_own_request(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    granted = await consent(logged_in, registered, scope="read_user read_memberships")
    assert granted.status_code == 303
    bound = await _log_in_through(
        logged_in, await _stamped_way_back(logged_in, registered, scope="read_user")
    )
    stamp = query(bound)["fd_login_after"]
    other = authorize_params(registered, prompt="login", scope="read_memberships", fd_login_after=stamp)
    moved = await logged_in.get("/oauth/authorize", params=other)
    assert moved.status_code == 303
    assert moved.headers["location"].startswith(LOGIN_AGAIN)
    done = await logged_in.get(bound)
    assert done.status_code == 302
    assert "code" in query(done.headers["location"])


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_max_age_zero_with_a_borrowed_stamp_asks_for_a_login(
    logged_in: Browser, new_browser: Any, registered: RegisteredApp
) -> None:
    assert (await consent(logged_in, registered)).status_code == 303
    attacker = new_browser()
    asked = await attacker.get("/oauth/authorize", params=authorize_params(registered, max_age="0"))
    way_back = query(asked.headers["location"])["next"]
    assert (await _log_in_anew(logged_in)).status_code == 303
    response = await logged_in.get(way_back)
    assert response.status_code == 303
    assert response.headers["location"].startswith(LOGIN_AGAIN)
