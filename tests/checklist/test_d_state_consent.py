"""D. State, CSRF, consent (checklist items 14–16)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.oauth_support import (
    CALLBACK,
    RegisteredApp,
    authorize_params,
    consent,
    get_code,
    query,
    register_app,
)
from tests.support import PASSWORD, Browser, csrf_from

CONSENT_ACTION = 'action="/oauth/authorize"'


def raw_state(location: str) -> str | None:
    """``state`` decoded exactly once, as a client's URL parser would."""
    values = [v for k, v in parse_qsl(urlsplit(location).query, keep_blank_values=True) if k == "state"]
    assert len(values) <= 1, location
    return values[0] if values else None


@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.rfc("6749 4.1.2.1")
@pytest.mark.parametrize("state_value", ["a b&c=d/é%", "%20+%2B", "x?y#z", "😀\u200b\t", "=&=", "a" * 500])
async def test_item_14_state_echoed_exactly(
    logged_in: Browser, registered: RegisteredApp, state_value: str
) -> None:
    """The state comes back byte for byte on success, on denial and on a redirected error."""
    approved = await consent(logged_in, registered, state=state_value)
    assert approved.status_code in (302, 303) and "code" in query(approved.headers["location"])
    assert raw_state(approved.headers["location"]) == state_value
    denied = await consent(
        logged_in,
        registered,
        decision="deny",
        state=state_value,
        scope="read_user read_memberships",
        prompt="consent",
    )
    assert query(denied.headers["location"])["error"] == "access_denied"
    assert raw_state(denied.headers["location"]) == state_value
    error = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered, state=state_value, scope="bogus")
    )
    assert error.status_code == 302 and query(error.headers["location"])["error"] == "invalid_scope"
    assert raw_state(error.headers["location"]) == state_value


@pytest.mark.rfc("6749 4.1.2")
async def test_item_14_no_state_means_no_state(logged_in: Browser, registered: RegisteredApp) -> None:
    approved = await consent(logged_in, registered, state=None)
    assert set(query(approved.headers["location"])) == {"code", "iss"}
    denied = await consent(logged_in, registered, decision="deny", state=None, prompt="consent")
    assert set(query(denied.headers["location"])) == {"error", "error_description", "iss"}
    error = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered, state=None, scope="bogus")
    )
    assert "state" not in query(error.headers["location"])
    # An empty state is an absent parameter (RFC 6749 §3.1): none comes back either.
    empty = await consent(logged_in, registered, state="")
    assert "state" not in query(empty.headers["location"])


async def consent_page(b: Browser, app: RegisteredApp, **extra: str) -> tuple[dict[str, str], str]:
    """Open the consent page; its form fields (without the token) and its token."""
    page = await b.get("/oauth/authorize", params=authorize_params(app, **extra))
    assert page.status_code == 200, page.text
    form = page.text.split(CONSENT_ACTION, 1)[1]
    return {**authorize_params(app, **extra), "decision": "approve"}, csrf_from(form)


@pytest.mark.rfc("6749 10.12")
@pytest.mark.rfc("6819 4.4.1.8")
async def test_item_15_consent_csrf(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    fields, token = await consent_page(logged_in, registered, scope="read_user")
    # No token.
    assert (await logged_in.post("/oauth/authorize", data=fields)).status_code == 403
    # A token from another session (another person's consent page for the same request).
    from tests.oauth_support import make_user

    await make_user(state, db, "sam@example.com", name="Sam")
    other: Browser = new_browser()
    assert (await other.login("sam@example.com")).status_code == 303
    _, other_token = await consent_page(other, registered, scope="read_user")
    assert (
        await logged_in.post("/oauth/authorize", data={**fields, "csrf_token": other_token})
    ).status_code == 403
    # The same person logged in again (a new session) cannot reuse the old page's token.
    again: Browser = new_browser()
    assert (await again.login("pat@example.com")).status_code == 303
    assert (await again.post("/oauth/authorize", data={**fields, "csrf_token": token})).status_code == 403
    # A token issued for client A, used for client B (and for other scopes, state, PKCE).
    app_b = await register_app(state, db, dev, name="App B")
    for changed in (
        authorize_params(app_b, scope="read_user"),
        {"scope": "read_user read_memberships"},
        {"state": "other"},
        {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"},
    ):
        response = await logged_in.post("/oauth/authorize", data={**fields, **changed, "csrf_token": token})
        assert response.status_code == 403, changed
    # Another redirect URI is not even registered: the error page, no redirect.
    other_uri = {**fields, "redirect_uri": CALLBACK + "?x", "csrf_token": token}
    response = await logged_in.post("/oauth/authorize", data=other_uri)
    assert response.status_code == 400 and "location" not in response.headers
    # A cross-site Origin (or Sec-Fetch-Site) is refused even with the right token.
    for headers in (
        {"origin": "https://evil.test"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "null"},  # opaque origin without fetch metadata saying same-origin
        {"origin": "null", "sec-fetch-site": "cross-site"},
    ):
        response = await logged_in.post(
            "/oauth/authorize", data={**fields, "csrf_token": token}, headers=headers
        )
        assert response.status_code == 403, headers
    # GET never grants, even with every field of the approval.
    get_approve = await logged_in.get("/oauth/authorize", params={**fields, "csrf_token": token})
    assert get_approve.status_code == 200 and "code=" not in get_approve.headers.get("location", "")
    # The genuine form works.
    ok = await logged_in.post("/oauth/authorize", data={**fields, "csrf_token": token})
    assert ok.status_code == 303 and "code" in query(ok.headers["location"])


@pytest.mark.rfc("6749 10.12")
@pytest.mark.rfc("6819 4.4.1.8")
async def test_item_15_login_csrf_and_cookie_attributes(
    browser: Browser, person: Any, new_browser: Any
) -> None:
    """The login form has the same protections; session cookies are HttpOnly, SameSite=Lax,
    host-only (see item 43 for Secure and ``__Host-`` over https)."""
    data = {"email": "pat@example.com", "password": PASSWORD}
    assert (await browser.post("/login", data=data)).status_code == 403
    token = await browser.token("/login")
    stranger: Browser = new_browser()
    assert (await stranger.post("/login", data={**data, "csrf_token": token})).status_code == 403
    cross = await browser.post(
        "/login", data={**data, "csrf_token": token}, headers={"origin": "https://evil.test"}
    )
    assert cross.status_code == 403
    ok = await browser.post("/login", data={**data, "csrf_token": token})
    assert ok.status_code == 303
    cookie = next(v for v in ok.headers.get_list("set-cookie") if v.startswith("frontdesk_session="))
    attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attrs
    assert not any(a.startswith("domain") for a in attrs)


@pytest.mark.rfc("6819 5.2.4.1")
@pytest.mark.rfc("6749 10.2")
async def test_item_16_auto_approval_only_for_granted_scopes(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any, person: Any, new_browser: Any
) -> None:
    """After granting ``read_user``: the same or fewer scopes skip the page; more scopes, or
    another host (a space) ask again; an unregistered redirect URI never gets a code."""
    await get_code(logged_in, registered, scope="read_user")
    same = await logged_in.get("/oauth/authorize", params=authorize_params(registered, scope="read_user"))
    assert same.status_code == 302 and "code" in query(same.headers["location"])
    more = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered, scope="read_user read_memberships")
    )
    assert more.status_code == 200 and "Approve" in more.text
    default = await logged_in.get("/oauth/authorize", params=authorize_params(registered))  # the app's scopes
    assert default.status_code == 200 and "Approve" in default.text
    forced = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered, scope="read_user", prompt="consent")
    )
    assert forced.status_code == 200
    unregistered = await logged_in.get(
        "/oauth/authorize",
        params=authorize_params(registered, scope="read_user", redirect_uri="https://evil.test/cb"),
    )
    assert unregistered.status_code == 400 and "location" not in unregistered.headers
    # Consent given on the main site is not consent given in a space.
    from frontdesk.services import spaces

    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    in_space: Browser = new_browser("co-up.localhost:8000")
    assert (await in_space.login("pat@example.com")).status_code == 303
    page = await in_space.get("/oauth/authorize", params=authorize_params(registered, scope="read_user"))
    assert page.status_code == 200 and "Approve" in page.text
