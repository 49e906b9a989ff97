"""The token endpoint's ``redirect_uri`` as OmniAuth sends it (issue 12 §2, docs/decisions.md §8).

OmniAuth-based clients (omniauth_cobot) send as ``redirect_uri`` the URL their callback was
called at, query included: the authorization request's redirect URI plus the ``code``,
``state`` and ``iss`` this server appended. That matches, for every app, with no setting;
nothing else may differ: another parameter, another value of ``code`` or ``iss``, a parameter
twice, an encoded name. The real-server version is tests/e2e/test_omniauth_cobot.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.oauth.redirect_uris import matches_with_appended_response
from tests.oauth_support import (
    RegisteredApp,
    assert_no_store,
    authorize_params,
    decide,
    exchange,
    query,
    register_app,
)
from tests.support import Browser

ISSUER = "http://localhost:8000"
CB = "https://app.example/auth/callback"


async def _approved_location(browser: Browser, app: RegisteredApp, **extra: str | None) -> str:
    """Where the browser is sent back to the app: after Approve (303), or straight from the
    authorization endpoint once consent is on record (302)."""
    page = await browser.get("/oauth/authorize", params=authorize_params(app, **extra))
    if page.status_code != 302:
        assert page.status_code == 200, page.text
        page = await decide(browser, page)
        assert page.status_code == 303, page.text
    location: str = page.headers["location"]
    return location


@pytest.mark.rfc("6749 4.1.3")
async def test_the_callback_url_with_code_state_and_iss_redeems(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    location = await _approved_location(logged_in, registered)
    assert location.startswith(CB + "?code=")
    assert set(query(location)) == {"code", "state", "iss"}
    redeemed = await exchange(logged_in, registered, query(location)["code"], redirect_uri=location)
    assert redeemed.status_code == 200, redeemed.text


@pytest.mark.rfc("6749 4.1.3")
async def test_a_registered_query_is_kept_and_the_appended_parameters_follow_it(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    app = await register_app(state, db, dev, name="Tenant", redirect_uris=[CB + "?tenant=1"])
    location = await _approved_location(logged_in, app)
    assert location.startswith(CB + "?tenant=1&code=")
    redeemed = await exchange(logged_in, app, query(location)["code"], redirect_uri=location)
    assert redeemed.status_code == 200, redeemed.text


def _change(location: str, name: str, value: str) -> str:
    before, _, after = location.partition(f"{name}=")
    rest = after.partition("&")[1] + after.partition("&")[2]
    return f"{before}{name}={value}{rest}"


# Each turns the callback URL the browser was sent to into something that is not it.
NEGATIVE = {
    "another parameter": lambda loc, code: loc + "&x=1",
    "an error parameter": lambda loc, code: loc + "&error=access_denied",
    "another code": lambda loc, code: _change(loc, "code", "not-the-code"),
    "another issuer": lambda loc, code: _change(loc, "iss", "https%3A%2F%2Fevil.example"),
    "code twice": lambda loc, code: loc + f"&code={code}",
    "state twice": lambda loc, code: loc + "&state=xyz",
    "an encoded name": lambda loc, code: loc.replace("&state=", "&%73tate="),
    "an empty piece": lambda loc, code: loc + "&",
    "another path": lambda loc, code: loc.replace("/auth/callback?", "/auth/callback2?"),
    "a fragment": lambda loc, code: loc + "#x",
}


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.parametrize("difference", sorted(NEGATIVE))
async def test_any_other_difference_is_invalid_grant(
    logged_in: Browser, registered: RegisteredApp, difference: str
) -> None:
    location = await _approved_location(logged_in, registered)
    code = query(location)["code"]
    sent = NEGATIVE[difference](location, code)
    assert sent != location
    response = await exchange(logged_in, registered, code, redirect_uri=sent)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    assert_no_store(response)


@pytest.mark.rfc("6749 4.1.3")
async def test_the_code_in_the_redirect_uri_must_be_the_code_exchanged(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    """A client that mixes up two callbacks (or is fed another one) does not redeem."""
    first = await _approved_location(logged_in, registered)
    second = await _approved_location(logged_in, registered)
    response = await exchange(logged_in, registered, query(second)["code"], redirect_uri=first)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.rfc("6749 4.1.3")
async def test_query_tolerant_apps_get_no_other_difference_at_the_token_endpoint(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    """``--allow-redirect-query`` is for the authorization endpoint only: the token request
    still names the authorization request's URI (plus the appended parameters)."""
    app = await register_app(
        state, db, dev, name="Tolerant", redirect_uris=[CB + "?tenant=1"], allow_redirect_query=True
    )
    location = await _approved_location(logged_in, app, redirect_uri=CB + "?tenant=1&origin=a")
    response = await exchange(logged_in, app, query(location)["code"], redirect_uri=CB + "?tenant=1&origin=b")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    location = await _approved_location(logged_in, app, redirect_uri=CB + "?tenant=1&origin=a")
    response = await exchange(logged_in, app, query(location)["code"], redirect_uri=location)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("sent", "registered", "ok"),
    [
        (CB + "?code=c1&state=s&iss=" + "http%3A%2F%2Flocalhost%3A8000", CB, True),
        (CB + "?code=c1&iss=" + "http%3A%2F%2Flocalhost%3A8000", CB, True),  # no state sent
        (CB + "?code=c1", CB, True),  # a client that kept only the code
        (CB + "?state=s&code=c1&iss=http%3A%2F%2Flocalhost%3A8000", CB, True),  # order is free
        (CB + "?a=1&code=c1&state=s&iss=http%3A%2F%2Flocalhost%3A8000", CB + "?a=1", True),
        (CB + "?code=c1&iss=http%3A%2F%2Flocalhost%3A8000", CB + "?", True),
        (CB + "?a=1&code=c1", CB + "?a=1&", True),
        (CB, CB, False),  # equal strings are matched before this check
        (CB + "?a=1", CB, False),
        (CB + "?code=c2", CB, False),
        (CB + "?iss=http%3A%2F%2Fevil.example", CB, False),
        (CB + "?code=c1&code=c1", CB, False),
        (CB + "?Code=c1", CB, False),
        (CB + "?code%5B%5D=c1", CB, False),
        (CB + "?code=c1&error=x", CB, False),
        (CB + "?code=c1&id_token=x", CB, False),
        (CB + "?a=2&code=c1", CB + "?a=1", False),
        (CB + "?code=c1", CB + "?a=1", False),
        (CB + "?code=c1&a=1", CB + "?a=1", True),
    ],
)
def test_what_counts_as_the_appended_parameters(sent: str, registered: str, ok: bool) -> None:
    assert matches_with_appended_response(sent, registered, code="c1", issuer=ISSUER) is ok
