"""Sender-constrained tokens with DPoP (RFC 9449) through HTTP: the token endpoint binds tokens
to the proof's key (§5), the API accepts them only with proofs of that key (§7), refresh
tokens stay bound (§5), nonces (§8, §9), introspection and JWT access tokens say which key
(§6), apps may require DPoP (§5.2)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdesk.oauth import pkce
from frontdesk.oauth.dpop import SIGNING_ALGS, DpopSettings
from frontdesk.store.models import AccessToken, RefreshToken
from tests.dpop_support import PUBLIC_URL, TOKEN_HTU, USER_HTU, DpopKey, dpop_headers
from tests.oauth.conftest import TTL
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    get_code,
    parse_challenge,
    register_app,
)
from tests.support import PASSWORD, Browser

VERIFIER = "v" * 50


def token_request(app: RegisteredApp, **params: str) -> dict[str, str]:
    data = {"client_id": app.client_id, **params}
    if app.client_secret:
        data["client_secret"] = app.client_secret
    return data


async def password_token(b: Browser, app: RegisteredApp, key: DpopKey | None, **extra: str) -> httpx.Response:
    data = token_request(app, grant_type="password", username="pat@example.com", password=PASSWORD, **extra)
    headers = {"dpop": key.proof()} if key is not None else {}
    return await b.post(TOKEN_URL, data=data, headers=headers)


async def refresh(b: Browser, app: RegisteredApp, token: str, key: DpopKey | None) -> httpx.Response:
    headers = {"dpop": key.proof()} if key is not None else {}
    return await b.post(
        TOKEN_URL, data=token_request(app, grant_type="refresh_token", refresh_token=token), headers=headers
    )


async def user(b: Browser, token: str, key: DpopKey, **proof: Any) -> httpx.Response:
    return await b.get(
        "/api/user", headers=dpop_headers(token, key.proof("GET", USER_HTU, token=token, **proof))
    )


def challenge(response: httpx.Response) -> dict[str, str]:
    scheme, params = parse_challenge(response.headers["www-authenticate"])
    assert scheme == "DPoP"
    return params


def jwt_claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims


@pytest.fixture
async def strict_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    """A confidential app that requires DPoP, with refresh tokens."""
    return await register_app(state, db, dev, name="Strict", access_token_ttl=TTL, dpop_required=True)


@pytest.fixture
async def native(state: Any, db: Any, dev: Any) -> RegisteredApp:
    """A public app (PKCE) with refresh tokens."""
    return await register_app(state, db, dev, name="Native", public=True, access_token_ttl=TTL)


# ---- the token endpoint (§5) -------------------------------------------------------------------


@pytest.mark.rfc("9449 5")
async def test_a_proof_at_the_token_endpoint_binds_the_access_token(
    logged_in: Browser, registered: RegisteredApp, db: Any
) -> None:
    key = DpopKey()
    response = await password_token(logged_in, registered, key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    row = (await db.execute(select(AccessToken).where(AccessToken.dpop_jkt.is_not(None)))).scalar_one()
    assert row.dpop_jkt == key.jkt
    # And it works with a proof of that key.
    ok = await user(logged_in, body["access_token"], key)
    assert ok.status_code == 200, ok.text
    assert ok.json()["email"] == "pat@example.com"


@pytest.mark.rfc("9449 5")
async def test_without_a_proof_tokens_stay_bearer_tokens(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    response = await password_token(logged_in, registered, None)
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


@pytest.mark.rfc("9449 5")
async def test_the_code_grant_binds_too(logged_in: Browser, registered: RegisteredApp) -> None:
    key = DpopKey()
    code = await get_code(logged_in, registered)
    response = await logged_in.post(
        TOKEN_URL,
        data=token_request(registered, grant_type="authorization_code", code=code),
        headers={"dpop": key.proof()},
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    assert (await user(logged_in, response.json()["access_token"], key)).status_code == 200


@pytest.mark.rfc("9449 5")
async def test_client_credentials_tokens_bind_too(browser: Browser, state: Any, db: Any, dev: Any) -> None:
    machine = await register_app(state, db, dev, name="Machine", client_credentials=True)
    key = DpopKey()
    response = await browser.post(
        TOKEN_URL, data=token_request(machine, grant_type="client_credentials"), headers={"dpop": key.proof()}
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"


@pytest.mark.rfc("9449 4.3")
async def test_an_invalid_proof_at_the_token_endpoint_is_invalid_dpop_proof(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    key = DpopKey()
    cases = {
        "wrong htu": key.proof(htu=PUBLIC_URL + "/oauth/revoke"),
        "wrong htm": key.proof("GET"),
        "no typ": key.proof(drop=("typ",)),
        "no jti": key.proof(drop=("jti",)),
        "old": key.proof(iat=1_000_000_000),
    }
    for case, proof in cases.items():
        data = token_request(registered, grant_type="password", username="pat@example.com", password=PASSWORD)
        response = await logged_in.post(TOKEN_URL, data=data, headers={"dpop": proof})
        assert response.status_code == 400, case
        assert response.json()["error"] == "invalid_dpop_proof", case
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.rfc("9449 4.3")
async def test_the_token_endpoints_other_path_is_its_own_htu(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    key = DpopKey()
    data = token_request(registered, grant_type="password", username="pat@example.com", password=PASSWORD)
    good = await logged_in.post(
        "/oauth/token", data=data, headers={"dpop": key.proof(htu=PUBLIC_URL + "/oauth/token")}
    )
    assert good.status_code == 200, good.text
    wrong = await logged_in.post("/oauth/token", data=data, headers={"dpop": key.proof(htu=TOKEN_HTU)})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_dpop_proof"


@pytest.mark.rfc("9449 4.3")
async def test_two_dpop_headers_are_refused(logged_in: Browser, registered: RegisteredApp) -> None:
    key = DpopKey()
    data = token_request(registered, grant_type="password", username="pat@example.com", password=PASSWORD)
    response = await logged_in.post(
        TOKEN_URL, data=data, headers=[("dpop", key.proof()), ("dpop", key.proof())]
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


@pytest.mark.rfc("9449 11.1")
async def test_a_proof_is_good_for_one_token_request(logged_in: Browser, registered: RegisteredApp) -> None:
    key = DpopKey()
    proof = key.proof()
    data = token_request(registered, grant_type="password", username="pat@example.com", password=PASSWORD)
    first = await logged_in.post(TOKEN_URL, data=data, headers={"dpop": proof})
    assert first.status_code == 200
    again = await logged_in.post(TOKEN_URL, data=data, headers={"dpop": proof})
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_dpop_proof"


# ---- apps that require DPoP (§5.2) ------------------------------------------------------------


@pytest.mark.rfc("9449 5.2")
async def test_an_app_that_requires_dpop_gets_no_token_without_a_proof(
    logged_in: Browser, strict_app: RegisteredApp
) -> None:
    refused = await password_token(logged_in, strict_app, None)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    granted = await password_token(logged_in, strict_app, DpopKey())
    assert granted.status_code == 200
    assert granted.json()["token_type"] == "DPoP"


@pytest.mark.rfc("9449 5.2")
@pytest.mark.parametrize("settings_overrides", [{"dynamic_registration": True}])
async def test_dynamic_registration_takes_dpop_bound_access_tokens(browser: Browser, db: Any) -> None:
    from frontdesk.services import apps

    metadata = {
        "redirect_uris": ["https://native.example/cb"],
        "client_name": "Bound",
        "dpop_bound_access_tokens": True,
    }
    response = await browser.post("/oauth/register", json=metadata)
    assert response.status_code == 201, response.text
    assert response.json()["dpop_bound_access_tokens"] is True
    app = await apps.get_app(db, response.json()["client_id"])
    assert app is not None and app.dpop_required
    wrong = await browser.post("/oauth/register", json={**metadata, "dpop_bound_access_tokens": "yes"})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_client_metadata"


# ---- refresh tokens (§5) -----------------------------------------------------------------------


@pytest.mark.rfc("9449 5")
async def test_a_public_clients_refresh_token_is_bound_to_its_key(
    logged_in: Browser, native: RegisteredApp, db: Any
) -> None:
    key = DpopKey()
    code = await get_code(logged_in, native, code_challenge=pkce.s256(VERIFIER), code_challenge_method="S256")
    response = await logged_in.post(
        TOKEN_URL,
        data=token_request(native, grant_type="authorization_code", code=code, code_verifier=VERIFIER),
        headers={"dpop": key.proof()},
    )
    assert response.status_code == 200, response.text
    first = response.json()
    stored = (await db.execute(select(RefreshToken.dpop_jkt))).scalar_one()
    assert stored == key.jkt
    # Without a proof: refused; with another key: refused; with the key: a new bound pair.
    no_proof = await refresh(logged_in, native, first["refresh_token"], None)
    assert no_proof.status_code == 400
    assert no_proof.json()["error"] == "invalid_dpop_proof"
    other = await refresh(logged_in, native, first["refresh_token"], DpopKey())
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_grant"
    again = await refresh(logged_in, native, first["refresh_token"], key)
    assert again.status_code == 200, again.text
    assert again.json()["token_type"] == "DPoP"
    assert (await user(logged_in, again.json()["access_token"], key)).status_code == 200
    # The successor stays bound.
    successor = await refresh(logged_in, native, again.json()["refresh_token"], DpopKey())
    assert successor.status_code == 400
    assert successor.json()["error"] == "invalid_grant"


@pytest.mark.rfc("9449 5")
async def test_a_confidential_apps_refresh_token_is_not_bound(
    logged_in: Browser, expiring: RegisteredApp, db: Any
) -> None:
    key = DpopKey()
    first = (await password_token(logged_in, expiring, key)).json()
    assert first["token_type"] == "DPoP"
    assert (await db.execute(select(RefreshToken.dpop_jkt))).scalar_one() is None
    # The app authenticates: a refresh with another key binds the new token to that key.
    other = DpopKey()
    again = await refresh(logged_in, expiring, first["refresh_token"], other)
    assert again.status_code == 200, again.text
    assert (await user(logged_in, again.json()["access_token"], other)).status_code == 200


@pytest.mark.rfc("9449 5")
async def test_an_app_that_requires_dpop_has_bound_refresh_tokens(
    logged_in: Browser, strict_app: RegisteredApp
) -> None:
    key = DpopKey()
    first = (await password_token(logged_in, strict_app, key)).json()
    other = await refresh(logged_in, strict_app, first["refresh_token"], DpopKey())
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_grant"
    same = await refresh(logged_in, strict_app, first["refresh_token"], key)
    assert same.status_code == 200, same.text


# ---- resources (§7) ---------------------------------------------------------------------------


@pytest.fixture
async def bound(logged_in: Browser, registered: RegisteredApp) -> tuple[str, DpopKey]:
    key = DpopKey()
    response = await password_token(logged_in, registered, key)
    assert response.status_code == 200, response.text
    return response.json()["access_token"], key


@pytest.mark.rfc("9449 7.1")
async def test_a_bound_token_sent_as_bearer_is_refused(
    logged_in: Browser, bound: tuple[str, DpopKey]
) -> None:
    token, key = bound
    for response in (
        await logged_in.get("/api/user", headers={"authorization": f"Bearer {token}"}),
        await logged_in.get(
            "/api/user",
            headers={"authorization": f"Bearer {token}", "dpop": key.proof("GET", USER_HTU, token=token)},
        ),
        await logged_in.get("/api/user", params={"access_token": token}),
        await logged_in.post("/api/userinfo", data={"access_token": token}),
    ):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        params = challenge(response)
        assert params["error"] == "invalid_token"
        assert params["algs"].split() == list(SIGNING_ALGS)


@pytest.mark.rfc("9449 7.1")
async def test_an_unbound_token_with_the_dpop_scheme_is_refused(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    token = (await password_token(logged_in, registered, None)).json()["access_token"]
    key = DpopKey()
    response = await user(logged_in, token, key)
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"
    # As a bearer token it works.
    assert (await logged_in.get("/api/user", headers={"authorization": f"Bearer {token}"})).status_code == 200


@pytest.mark.rfc("9449 7.1")
async def test_each_bad_proof_at_a_resource_is_invalid_dpop_proof(
    logged_in: Browser, bound: tuple[str, DpopKey]
) -> None:
    token, key = bound
    cases = {
        "no proof": None,
        "no ath": key.proof("GET", USER_HTU),
        "ath of another token": key.proof("GET", USER_HTU, token="fdat_other"),
        "another key": DpopKey().proof("GET", USER_HTU, token=token),
        "wrong method": key.proof("POST", USER_HTU, token=token),
        "wrong url": key.proof("GET", PUBLIC_URL + "/api/userinfo", token=token),
        "token endpoint's proof": key.proof(),
    }
    for case, proof in cases.items():
        headers = {"authorization": f"DPoP {token}"}
        if proof is not None:
            headers["dpop"] = proof
        response = await logged_in.get("/api/user", headers=headers)
        assert response.status_code == 401, case
        assert response.json()["error"] == "invalid_dpop_proof", case
        params = challenge(response)
        assert params["error"] == "invalid_dpop_proof", case
        assert "algs" in params


@pytest.mark.rfc("9449 4.3")
async def test_htu_ignores_the_query(logged_in: Browser, bound: tuple[str, DpopKey]) -> None:
    token, key = bound
    response = await logged_in.get(
        "/api/user?x=1", headers=dpop_headers(token, key.proof("GET", USER_HTU + "?y=2", token=token))
    )
    assert response.status_code == 200, response.text


@pytest.mark.rfc("9449 11.1")
async def test_a_proof_is_good_for_one_api_request(logged_in: Browser, bound: tuple[str, DpopKey]) -> None:
    token, key = bound
    headers = dpop_headers(token, key.proof("GET", USER_HTU, token=token))
    assert (await logged_in.get("/api/user", headers=headers)).status_code == 200
    replay = await logged_in.get("/api/user", headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_dpop_proof"


@pytest.mark.rfc("9449 7.1")
async def test_userinfo_accepts_bound_tokens(logged_in: Browser, state: Any, db: Any, dev: Any) -> None:
    oidc = await register_app(state, db, dev, name="OIDC", scopes="openid email")
    key = DpopKey()
    token = (await password_token(logged_in, oidc, key, scope="openid email")).json()["access_token"]
    proof = key.proof("GET", PUBLIC_URL + "/api/userinfo", token=token)
    response = await logged_in.get("/api/userinfo", headers=dpop_headers(token, proof))
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "pat@example.com"


# ---- nonces (§8, §9) ---------------------------------------------------------------------------


@pytest.fixture
def nonces_on(state: Any) -> None:
    verifier = state.oauth.token.dpop
    assert verifier is state.oauth.bearer.dpop
    verifier.settings = DpopSettings(max_age_seconds=verifier.settings.max_age_seconds, nonces=True)


@pytest.mark.rfc("9449 8")
async def test_the_token_endpoint_asks_for_a_nonce(
    logged_in: Browser, registered: RegisteredApp, nonces_on: None
) -> None:
    key = DpopKey()
    data = token_request(registered, grant_type="password", username="pat@example.com", password=PASSWORD)
    first = await logged_in.post(TOKEN_URL, data=data, headers={"dpop": key.proof()})
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    second = await logged_in.post(TOKEN_URL, data=data, headers={"dpop": key.proof(nonce=nonce)})
    assert second.status_code == 200, second.text
    assert second.headers["dpop-nonce"]
    # §9: the API asks for it too, with a 401 DPoP challenge.
    token = second.json()["access_token"]
    no_nonce = await user(logged_in, token, key)
    assert no_nonce.status_code == 401
    assert challenge(no_nonce)["error"] == "use_dpop_nonce"
    fresh = no_nonce.headers["dpop-nonce"]
    assert (await user(logged_in, token, key, nonce=fresh)).status_code == 200


@pytest.mark.rfc("9449 8")
async def test_the_nonce_reaches_browsers(
    logged_in: Browser, registered: RegisteredApp, nonces_on: None
) -> None:
    data = token_request(registered, grant_type="password", username="pat@example.com", password=PASSWORD)
    response = await logged_in.post(
        TOKEN_URL, data=data, headers={"dpop": DpopKey().proof(), "origin": "https://spa.example"}
    )
    assert response.status_code == 400
    assert "DPoP-Nonce" in response.headers["access-control-expose-headers"]


# ---- what the server says about bound tokens (§6) ---------------------------------------------


@pytest.mark.rfc("9449 6.2")
async def test_introspection_names_the_key(
    logged_in: Browser, registered: RegisteredApp, bound: tuple[str, DpopKey]
) -> None:
    token, key = bound
    response = await logged_in.post("/oauth/introspect", data={**token_request(registered), "token": token})
    body = response.json()
    assert body["active"] is True
    assert body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": key.jkt}
    unbound = (await password_token(logged_in, registered, None)).json()["access_token"]
    plain = (
        await logged_in.post("/oauth/introspect", data={**token_request(registered), "token": unbound})
    ).json()
    assert plain["token_type"] == "bearer"
    assert "cnf" not in plain


@pytest.mark.rfc("9449 6.1")
async def test_jwt_access_tokens_carry_cnf(logged_in: Browser, state: Any, db: Any, dev: Any) -> None:
    jwt_app = await register_app(state, db, dev, name="JWT", jwt_access_tokens=True)
    key = DpopKey()
    response = await password_token(logged_in, jwt_app, key)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert jwt_claims(token)["cnf"] == {"jkt": key.jkt}
    assert (await user(logged_in, token, key)).status_code == 200
    plain = (await password_token(logged_in, jwt_app, None)).json()["access_token"]
    assert "cnf" not in jwt_claims(plain)


@pytest.mark.rfc("9449 5.1")
async def test_metadata_advertises_the_algorithms(browser: Browser) -> None:
    server = (await browser.get("/.well-known/oauth-authorization-server")).json()
    assert server["dpop_signing_alg_values_supported"] == list(SIGNING_ALGS)
    for alg in ("ES256", "PS256", "RS256", "EdDSA"):
        assert alg in server["dpop_signing_alg_values_supported"]
    resource = (await browser.get("/.well-known/oauth-protected-resource")).json()
    assert resource["dpop_signing_alg_values_supported"] == list(SIGNING_ALGS)
    assert resource["dpop_bound_access_tokens_required"] is False


# ---- the operator's switches ------------------------------------------------------------------


async def test_the_admin_api_sets_dpop_required(state: Any, db: Any, dev: Any, browser: Browser) -> None:
    from frontdesk.services import apps

    app = await register_app(state, db, dev, name="Toggle")
    changed = await apps.update_app(db, app.client_id, dpop_required=True)
    await db.commit()
    assert changed.dpop_required and changed.needs_dpop
    cleared = await apps.update_app(db, app.client_id, dpop_required=False)
    await db.commit()
    assert not cleared.dpop_required


# ---- the code bound at the authorization request (§10) ----------------------------------------


@pytest.mark.rfc("9449 10")
async def test_dpop_jkt_binds_the_code_to_a_key(logged_in: Browser, registered: RegisteredApp) -> None:
    key = DpopKey()

    async def redeem(proof_key: DpopKey | None) -> httpx.Response:
        code = await get_code(logged_in, registered, dpop_jkt=key.jkt)
        headers = {"dpop": proof_key.proof()} if proof_key is not None else {}
        data = token_request(registered, grant_type="authorization_code", code=code)
        return await logged_in.post(TOKEN_URL, data=data, headers=headers)

    for refused in (await redeem(None), await redeem(DpopKey())):
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_dpop_proof"
    granted = await redeem(key)
    assert granted.status_code == 200, granted.text
    assert granted.json()["token_type"] == "DPoP"


@pytest.mark.rfc("9449 10")
async def test_a_malformed_dpop_jkt_goes_back_to_the_app(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    from tests.oauth_support import authorize_params, query

    response = await logged_in.get("/oauth/authorize", params=authorize_params(registered, dpop_jkt="short"))
    assert response.status_code == 302
    assert query(response.headers["location"])["error"] == "invalid_request"


# ---- space tokens ------------------------------------------------------------------------------


@pytest.mark.rfc("9449 7.1")
async def test_a_bound_tokens_space_token_is_bound_to_the_same_key(
    logged_in: Browser, registered: RegisteredApp, tenants: Any, bound: tuple[str, DpopKey], db: Any
) -> None:
    token, key = bound
    path = f"/api/access_tokens/{token}/space"
    # The token in the path alone: a bearer presentation of a bound token.
    alone = await logged_in.post(path, data={"space_id": "co-up"})
    assert alone.status_code == 401
    proof = key.proof("POST", PUBLIC_URL + path, token=token)
    made = await logged_in.post(path, data={"space_id": "co-up"}, headers=dpop_headers(token, proof))
    assert made.status_code == 201, made.text
    row = (await db.execute(select(AccessToken).where(AccessToken.grant_type == "space"))).scalar_one()
    assert row.dpop_jkt == key.jkt


# ---- htu behind a proxy (§4.3) -----------------------------------------------------------------

PROXIED = {"public_url": "https://frontdesk.test", "trusted_proxies": ["198.51.100.7"]}


@pytest.mark.rfc("9449 4.3")
@pytest.mark.parametrize("settings_overrides", [PROXIED])
async def test_htu_is_the_public_url_behind_a_trusted_proxy(
    new_browser: Any, registered: RegisteredApp, person: Any
) -> None:
    proxy: Browser = new_browser("frontdesk.test")
    key = DpopKey()
    data = token_request(registered, grant_type="password", username="pat@example.com", password=PASSWORD)
    tls = {"x-forwarded-proto": "https"}
    public = await proxy.post(
        TOKEN_URL,
        data=data,
        headers={**tls, "dpop": key.proof(htu="https://frontdesk.test/oauth/access_token")},
    )
    assert public.status_code == 200, public.text
    # The proxy's own hop (plain http) is not the URL the client used.
    internal = await proxy.post(
        TOKEN_URL,
        data=data,
        headers={**tls, "dpop": key.proof(htu="http://frontdesk.test/oauth/access_token")},
    )
    assert internal.status_code == 400
    assert internal.json()["error"] == "invalid_dpop_proof"
