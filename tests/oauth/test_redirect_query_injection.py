"""Query-tolerant redirect URIs cannot smuggle response parameters, and loopback ports are
ports (issue 11, items 7 and 16; docs/decisions.md §8, RFC 9700 §4.1.3, RFC 8252 §7.3)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from frontdesk.errors import FieldError
from frontdesk.services import apps
from tests.oauth_support import (
    RegisteredApp,
    assert_no_store,
    authorize_params,
    consent,
    exchange,
    get_code,
    query,
    register_app,
)
from tests.support import Browser

TENANT_CB = "https://q.example/cb?tenant=1"

INJECTED = [
    TENANT_CB + "&iss=https%3A%2F%2Fevil.example&code=ATTACKER&state=evil",
    TENANT_CB + "&code=ATTACKER",
    TENANT_CB + "&state=evil",
    TENANT_CB + "&iss=https%3A%2F%2Fevil.example",
    TENANT_CB + "&error=access_denied",
    TENANT_CB + "&error_description=x",
    TENANT_CB + "&error_uri=https%3A%2F%2Fevil.example",
    TENANT_CB + "&id_token=x",
    TENANT_CB + "&session_state=x",
    TENANT_CB + "&%63ode=ATTACKER",  # percent-encoded name
    TENANT_CB + "&code%5B%5D=ATTACKER",  # code[]: an array named code to Rack and PHP
    TENANT_CB + "&origin=x;code=ATTACKER",  # ; still separates parameters for some servers
    "https://q.example/cb?code=ATTACKER&tenant=1",
    # A registered parameter repeated or changed.
    "https://q.example/cb?tenant=2&tenant=1",
    "https://q.example/cb?tenant=1&tenant=2",
    "https://q.example/cb?tenant=1&tenant=1",
    "https://q.example/cb?tenant=2",
    "https://q.example/cb?origin=x",
    "https://q.example/cb",
]


@pytest.fixture
async def tolerant(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, redirect_uris=[TENANT_CB], allow_redirect_query=True)


def _pairs(location: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(location).query, keep_blank_values=True)


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.rfc("9207 2")
@pytest.mark.parametrize("uri", INJECTED)
async def test_extra_query_parameters_never_carry_response_parameters(
    logged_in: Browser, tolerant: RegisteredApp, uri: str
) -> None:
    response = await logged_in.get("/oauth/authorize", params=authorize_params(tolerant, redirect_uri=uri))
    assert response.status_code == 400, response.headers.get("location")
    assert "location" not in response.headers
    assert "not registered" in response.text


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.rfc("9207 2")
async def test_harmless_extra_parameters_still_work_and_the_response_has_one_of_each(
    logged_in: Browser, tolerant: RegisteredApp
) -> None:
    sent = TENANT_CB + "&origin=%2Fdashboard"
    approved = await consent(logged_in, tolerant, redirect_uri=sent)
    assert approved.status_code == 303
    location = approved.headers["location"]
    assert location.startswith(sent + "&code=")
    names = [name for name, _ in _pairs(location)]
    assert sorted(names) == ["code", "iss", "origin", "state", "tenant"]
    assert query(location)["iss"] == "http://localhost:8000"
    # The token endpoint: the callback URL as the client was called at it (query included,
    # OmniAuth's way, docs/decisions.md §8) redeems the code.
    code = query(location)["code"]
    redeemed = await exchange(logged_in, tolerant, code, redirect_uri=location)
    assert redeemed.status_code == 200, redeemed.text


@pytest.mark.rfc("6749 4.1.3")
@pytest.mark.parametrize(
    "sent",
    [
        "https://q.example/cb?tenant=2&tenant=1",
        "https://q.example/cb?tenant=2",
        "https://q.example/cb?origin=x",
    ],
)
async def test_the_token_endpoint_refuses_a_changed_registered_parameter(
    logged_in: Browser, tolerant: RegisteredApp, sent: str
) -> None:
    code = await get_code(logged_in, tolerant, redirect_uri=TENANT_CB + "&origin=x")
    response = await exchange(logged_in, tolerant, code, redirect_uri=sent)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert_no_store(response)


@pytest.mark.rfc("6749 4.1.3")
async def test_an_exact_match_app_redeems_with_the_callback_url_it_was_called_at(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    """docs/decisions.md §8: without any per-app setting, the redirect URI the client sends back
    may carry the response parameters this server appended (OmniAuth-based clients send the
    URL they were called at); anything else still differs."""
    approved = await consent(logged_in, registered)
    assert approved.status_code == 303
    location = approved.headers["location"]
    redeemed = await exchange(logged_in, registered, query(location)["code"], redirect_uri=location)
    assert redeemed.status_code == 200, redeemed.text
    code = await get_code(logged_in, registered)
    extra = await exchange(logged_in, registered, code, redirect_uri=registered.redirect_uri + "?code=x&x=1")
    assert extra.status_code == 400
    assert extra.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "uri",
    [
        "https://q.example/cb?code=1",
        "https://q.example/cb?tenant=1&state=x",
        "https://q.example/cb?iss=x",
        "https://q.example/cb?error=x",
        "https://q.example/cb?%73tate=x",
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:09000/cb",
        "http://127.0.0.1:99999/cb",
        "http://[::1]:0/cb",
        "https://q.example:0/cb",
        "https://q.example:/cb",
    ],
)
async def test_such_redirect_uris_cannot_be_registered(state: Any, db: Any, dev: Any, uri: str) -> None:
    with pytest.raises(FieldError) as refused:
        await apps.register_app(
            db, state.server_secret, owner=dev, name="Q", redirect_uris=[uri], scopes="read_user"
        )
    assert refused.value.field == "redirect_uris"


@pytest.mark.rfc("7591 3.2.2")
async def test_dynamic_registration_refuses_response_parameters_in_a_redirect_uri(browser: Browser) -> None:
    body = {"redirect_uris": ["https://spa.example/cb?state=fixed"], "token_endpoint_auth_method": "none"}
    response = await browser.post("/oauth/register", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


@pytest.mark.rfc("8252 7.3")
@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:09000/cb",
        "http://127.0.0.1:99999/cb",
        "http://127.0.0.1:123456/cb",
        "http://127.0.0.1:9000/cb\n",
        "http://127.0.0.1/cb\n",
        "http://[::1]:0/cb",
    ],
)
async def test_a_loopback_redirect_uri_needs_a_real_port_and_nothing_after_it(
    state: Any, db: Any, dev: Any, logged_in: Browser, uri: str
) -> None:
    native = await register_app(
        state, db, dev, name="Native", redirect_uris=["http://127.0.0.1/cb", "http://[::1]/cb"]
    )
    response = await logged_in.get("/oauth/authorize", params=authorize_params(native, redirect_uri=uri))
    assert response.status_code == 400, response.headers.get("location")
    assert "location" not in response.headers
