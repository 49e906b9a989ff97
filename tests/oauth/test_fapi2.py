"""The FAPI 2.0 Security Profile switch (docs/flows.md): per app (``fapi2``) and for every app
(``FRONTDESK_FAPI2``). Under it an app must push its requests (PAR), send PKCE S256 and DPoP
proofs, authenticate with private_key_jwt and the body only, may not use the password grant,
and its codes live at most 60 seconds."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from frontdesk.errors import FieldError
from frontdesk.oauth.pkce import s256
from frontdesk.services import apps
from tests import keys_support
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.dpop_support import DpopKey, dpop_headers
from tests.oauth_support import (
    CALLBACK,
    TOKEN_URL,
    RegisteredApp,
    basic,
    decide,
    make_user,
    query,
    register_app,
)
from tests.support import PASSWORD, Browser
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture

PAR = "/oauth/par"
VERIFIER = "dBjftJeZ4CVP-mJ92K5m1kr1Ru9Ie3p2oWGqpB1Nio8x"
KEY = keys_support.ec_key("fapi")


@pytest.fixture
async def fapi_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(
        state,
        db,
        dev,
        name="Bank Link",
        scopes="read_user",
        token_endpoint_auth_method="private_key_jwt",
        jwks=keys_support.jwks(KEY),
        access_token_ttl=600,
        fapi2=True,
    )


def authenticated(app: RegisteredApp, **form: str) -> dict[str, str]:
    """The form of a request authenticated with a fresh client assertion (RFC 7523)."""
    signed = keys_support.assertion(KEY, app.client_id, alg="ES256")
    return keys_support.assertion_form(signed, **{"client_id": app.client_id, **form})


def request_params(app: RegisteredApp, **extra: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": "read_user",
        "state": "xyz",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    values.update(extra)
    return {k: v for k, v in values.items() if v is not None}


async def pushed_code(b: Browser, app: RegisteredApp) -> str:
    pushed = await b.post(PAR, data=authenticated(app, **request_params(app)))
    assert pushed.status_code == 201, pushed.text
    page = await b.get(
        "/oauth/authorize", params={"client_id": app.client_id, "request_uri": pushed.json()["request_uri"]}
    )
    assert page.status_code == 200, page.text
    approved = await decide(b, page)
    assert approved.status_code == 303
    return query(approved.headers["location"])["code"]


async def redeem(b: Browser, app: RegisteredApp, code: str, dpop: DpopKey | None) -> httpx.Response:
    form = authenticated(app, grant_type="authorization_code", code=code, code_verifier=VERIFIER)
    headers = {"dpop": dpop.proof()} if dpop else {}
    return await b.post(TOKEN_URL, data=form, headers=headers)


async def test_the_whole_flow_under_the_profile(logged_in: Browser, fapi_app: RegisteredApp) -> None:
    key = DpopKey()
    token = await redeem(logged_in, fapi_app, await pushed_code(logged_in, fapi_app), key)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "DPoP"
    api = await logged_in.get(
        "/api/user",
        headers=dpop_headers(
            body["access_token"],
            key.proof("GET", "http://localhost:8000/api/user", token=body["access_token"]),
        ),
    )
    assert api.status_code == 200
    # The refresh token is bound to the key too (sender-constrained).
    unbound = await logged_in.post(
        TOKEN_URL,
        data=authenticated(fapi_app, grant_type="refresh_token", refresh_token=body["refresh_token"]),
    )
    assert unbound.status_code == 400
    refreshed = await logged_in.post(
        TOKEN_URL,
        data=authenticated(fapi_app, grant_type="refresh_token", refresh_token=body["refresh_token"]),
        headers={"dpop": key.proof()},
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_authorization_requests_only_through_par(logged_in: Browser, fapi_app: RegisteredApp) -> None:
    direct = await logged_in.get("/oauth/authorize", params=request_params(fapi_app))
    assert direct.status_code == 302
    assert direct.headers["location"].startswith(CALLBACK + "?")
    assert query(direct.headers["location"])["error"] == "invalid_request"


async def test_pkce_is_required(browser: Browser, fapi_app: RegisteredApp) -> None:
    params = request_params(fapi_app, code_challenge=None, code_challenge_method=None)
    pushed = await browser.post(PAR, data=authenticated(fapi_app, **params))
    assert pushed.status_code == 400
    assert pushed.json()["error"] == "invalid_request"


async def test_a_token_request_without_dpop_is_refused(logged_in: Browser, fapi_app: RegisteredApp) -> None:
    response = await redeem(logged_in, fapi_app, await pushed_code(logged_in, fapi_app), None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


async def test_parameters_in_the_query_string_are_refused(
    logged_in: Browser, fapi_app: RegisteredApp
) -> None:
    code = await pushed_code(logged_in, fapi_app)
    form = authenticated(fapi_app, grant_type="authorization_code", code_verifier=VERIFIER)
    response = await logged_in.post(
        TOKEN_URL, data=form, params={"code": code}, headers={"dpop": DpopKey().proof()}
    )
    assert response.status_code == 400
    assert "body" in response.json()["error_description"]


async def test_codes_live_at_most_60_seconds(
    logged_in: Browser, state: Any, fapi_app: RegisteredApp, registered: RegisteredApp
) -> None:
    """Even where the operator allows codes 5 minutes (FRONTDESK_CODE_TTL_SECONDS)."""
    endpoint = state.oauth.authorization
    endpoint.config = dataclasses.replace(endpoint.config, code_ttl_seconds=300)
    code = await pushed_code(logged_in, fapi_app)
    token = state.oauth.token
    later = state.oauth.config.clock() + timedelta(seconds=90)
    token.config = dataclasses.replace(token.config, clock=lambda: later)
    response = await redeem(logged_in, fapi_app, code, DpopKey())
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_no_password_grant(browser: Browser, fapi_app: RegisteredApp, person: Any) -> None:
    form = authenticated(fapi_app, grant_type="password", username="pat@example.com", password=PASSWORD)
    response = await browser.post(TOKEN_URL, data=form, headers={"dpop": DpopKey().proof()})
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_the_profile_needs_keys(state: Any, db: Any, dev: Any, registered: RegisteredApp) -> None:
    with pytest.raises(FieldError) as raised:
        await register_app(state, db, dev, name="No keys", fapi2=True)
    assert raised.value.field == "fapi2"
    with pytest.raises(FieldError):
        await apps.update_app(db, registered.client_id, fapi2=True)
    await db.rollback()
    # Keys first, then the profile; while it is on, the app cannot go back to a secret.
    keyed = await apps.update_app(
        db, registered.client_id, token_endpoint_auth_method="private_key_jwt", jwks=keys_support.jwks(KEY)
    )
    assert keyed.fapi is False
    assert (await apps.update_app(db, registered.client_id, fapi2=True)).fapi is True
    with pytest.raises(FieldError):
        await apps.update_app(db, registered.client_id, token_endpoint_auth_method="client_secret_basic")


async def test_the_pages_say_so(logged_in: Browser, fapi_app: RegisteredApp, state: Any) -> None:
    pushed = await logged_in.post(PAR, data=authenticated(fapi_app, **request_params(fapi_app)))
    consent = await logged_in.get(
        "/oauth/authorize",
        params={"client_id": fapi_app.client_id, "request_uri": pushed.json()["request_uri"]},
    )
    assert 'id="security-profile"' in consent.text
    assert "FAPI 2.0" in consent.text


class TestForEveryApp:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"fapi2": True}

    async def test_a_secret_no_longer_authenticates(
        self, browser: Browser, registered: RegisteredApp
    ) -> None:
        assert registered.client_secret is not None
        response = await browser.post(
            TOKEN_URL,
            data={"grant_type": "client_credentials"},
            headers=basic(registered.client_id, registered.client_secret),
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    async def test_apps_with_keys_run_under_it(
        self, logged_in: Browser, state: Any, db: Any, dev: Any
    ) -> None:
        app = await register_app(
            state,
            db,
            dev,
            name="Keyed",
            token_endpoint_auth_method="private_key_jwt",
            jwks=keys_support.jwks(KEY),
        )
        direct = await logged_in.get("/oauth/authorize", params=request_params(app))
        assert direct.status_code == 302
        assert query(direct.headers["location"])["error"] == "invalid_request"
        token = await redeem(logged_in, app, await pushed_code(logged_in, app), DpopKey())
        assert token.status_code == 200, token.text
        assert token.json()["token_type"] == "DPoP"


# ---- where apps are configured: the app page, the admin API, the CLI ---------------------------

PAGE_FORM = {
    "name": "Bank Link",
    "name_in_space": "",
    "main_url": "",
    "redirect_uris": "https://bank.example/cb",
    "scope": ["read_user"],
    "access_token_ttl": "",
    "token_endpoint_auth_method": "private_key_jwt",
    "jwks": keys_support.jwks(KEY),
    "jwks_uri": "",
}


async def test_the_app_page(browser: Browser) -> None:
    await browser.signup("dev@example.com", name="Dev Eloper")
    new = await browser.get("/oauth2_clients/new")
    assert 'name="fapi2" value="1">' in new.text
    refused = await browser.submit(
        "/oauth2_clients/new", {**PAGE_FORM, "token_endpoint_auth_method": "client_secret", "fapi2": "1"}
    )
    assert refused.status_code == 422
    assert "needs private_key_jwt" in refused.text
    made = await browser.submit("/oauth2_clients/new", {**PAGE_FORM, "fapi2": "1"})
    assert made.status_code == 303, made.text
    page = await browser.get(made.headers["location"])
    assert 'id="security-profile"' in page.text
    assert 'name="fapi2" value="1" checked' in page.text
    german = await browser.get(made.headers["location"], headers={"accept-language": "de"})
    assert "Sicherheitsprofil" in german.text


async def test_the_admin_api(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    headers = await operator.headers("admin:apps:read admin:apps:write")
    body = {
        "owner_id": dev.id,
        "name": "Bank",
        "redirect_uris": ["https://bank.example/cb"],
        "scopes": "read_user",
    }
    refused = await operator.browser.post("/api/admin/apps", json={**body, "fapi2": True}, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error_description"].startswith("fapi2: ")
    keyed = {
        **body,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": json.loads(keys_support.jwks(KEY)),
    }
    made = await operator.browser.post("/api/admin/apps", json={**keyed, "fapi2": True}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["fapi2"] is True
    changed = await operator.browser.http.patch(
        f"/api/admin/apps/{made.json()['client_id']}", json={"fapi2": False}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["fapi2"] is False


def test_the_cli(cli: Any, tmp_path: Any) -> None:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    base = ["clients", "create", "Bank", "--owner", "dev@example.com"]
    base += ["--redirect-uri", "https://bank.example/cb", "--scope", "read_user"]
    refused = cli(*base, "--fapi2")
    assert refused.exit_code == 1
    assert "private_key_jwt" in refused.stderr
    keys = tmp_path / "jwks.json"
    keys.write_text(keys_support.jwks(KEY))
    created = ok_json(cli(*base, "--private-key-jwt", "--jwks", str(keys), "--fapi2", "--json"))
    assert created["fapi2"] is True
    assert "fapi2" in cli("clients", "show", created["client_id"]).stdout
    assert ok_json(cli("clients", "update", created["client_id"], "--no-fapi2", "--json"))["fapi2"] is False
