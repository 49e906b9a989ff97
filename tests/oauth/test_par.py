"""Pushed authorization requests (RFC 9126) and request objects inside them (RFC 9101):
``POST /oauth/par``, ``request_uri`` at the authorization endpoint, PAR required per app and
for the whole server, on the main host and a space's host."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from frontdesk.oauth.pkce import s256
from frontdesk.services import apps, spaces
from tests import keys_support
from tests.dpop_support import DpopKey
from tests.oauth.conftest import Tenants
from tests.oauth_support import (
    CALLBACK,
    RegisteredApp,
    basic,
    decide,
    exchange,
    query,
    register_app,
)
from tests.support import PASSWORD, Browser

PAR = "/oauth/par"
URN = "urn:ietf:params:oauth:request_uri:"
ISSUER = "http://localhost:8000"
VERIFIER = "dBjftJeZ4CVP-mJ92K5m1kr1Ru9Ie3p2oWGqpB1Nio8x"


def pushed_params(app: RegisteredApp, **extra: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": "read_user",
        "state": "af0ifjsldkj",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    values.update(extra)
    return {k: v for k, v in values.items() if v is not None}


async def push(b: Browser, app: RegisteredApp, **extra: str | None) -> httpx.Response:
    """RFC 9126 §2.1: the request's parameters in the body, the client authenticated with
    HTTP Basic (a public app: by client_id alone)."""
    headers = basic(app.client_id, app.client_secret) if app.client_secret else {}
    return await b.post(PAR, data=pushed_params(app, **extra), headers=headers)


async def request_uri(b: Browser, app: RegisteredApp, **extra: str | None) -> str:
    response = await push(b, app, **extra)
    assert response.status_code == 201, response.text
    uri: str = response.json()["request_uri"]
    return uri


def by_reference(app: RegisteredApp, uri: str) -> dict[str, str]:
    return {"client_id": app.client_id, "request_uri": uri}


def assert_error_page(response: httpx.Response) -> None:
    """Not redirected anywhere: a page for the person (RFC 9126 §4, RFC 9700 §4.11.2)."""
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert "cannot be completed" in response.text


def move_clock(state: Any, seconds: float) -> None:
    """The authorization endpoint's clock, ``seconds`` ahead of now."""
    later = state.oauth.config.clock() + timedelta(seconds=seconds)
    endpoint = state.oauth.authorization
    endpoint.config = dataclasses.replace(endpoint.config, clock=lambda: later)


# ---- the pushed authorization request endpoint (§2) ---------------------------------------------


@pytest.mark.rfc("9126 2.1")
@pytest.mark.rfc("9126 2.2")
async def test_push_answers_201_with_a_request_uri(browser: Browser, registered: RegisteredApp) -> None:
    response = await push(browser, registered)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"request_uri", "expires_in"}
    assert body["expires_in"] == 60
    assert body["request_uri"].startswith(URN)
    assert len(body["request_uri"]) - len(URN) >= 43  # 256 random bits
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    second = await push(browser, registered)
    assert second.json()["request_uri"] != body["request_uri"]


@pytest.mark.rfc("9126 2.1")
async def test_client_secret_post_and_a_public_client_by_client_id(
    browser: Browser, state: Any, db: Any, dev: Any, registered: RegisteredApp
) -> None:
    data = {**pushed_params(registered), "client_secret": registered.client_secret or ""}
    assert (await browser.post(PAR, data=data)).status_code == 201
    public = await register_app(state, db, dev, public=True, redirect_uris=["http://127.0.0.1/cb"])
    assert (await push(browser, public)).status_code == 201
    # A public client still needs PKCE, as at the authorization endpoint.
    refused = await push(browser, public, code_challenge=None, code_challenge_method=None)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"


@pytest.mark.rfc("9126 2.3")
async def test_client_authentication_failures_are_401(browser: Browser, registered: RegisteredApp) -> None:
    wrong = await browser.post(
        PAR, data=pushed_params(registered), headers=basic(registered.client_id, "nope")
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    data = {k: v for k, v in pushed_params(registered).items() if k != "client_id"}
    anonymous = await browser.post(PAR, data=data)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"


@pytest.mark.rfc("9126 2.1")
async def test_a_request_uri_inside_a_pushed_request_is_refused(
    browser: Browser, registered: RegisteredApp
) -> None:
    response = await push(browser, registered, request_uri=URN + "x" * 43)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "request_uri" in response.json()["error_description"]


@pytest.mark.rfc("9126 2.1")
async def test_client_id_must_be_the_authenticated_client(
    browser: Browser, state: Any, db: Any, dev: Any, registered: RegisteredApp
) -> None:
    other = await register_app(state, db, dev, name="Other")
    response = await browser.post(
        PAR,
        data=pushed_params(registered, client_id=other.client_id),
        headers=basic(registered.client_id, registered.client_secret or ""),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    # Left out, the authenticated client is the one asking.
    data = {k: v for k, v in pushed_params(registered).items() if k != "client_id"}
    pushed = await browser.post(
        PAR, data=data, headers=basic(registered.client_id, registered.client_secret or "")
    )
    assert pushed.status_code == 201


@pytest.mark.rfc("9126 2.3")
@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"redirect_uri": "https://evil.test/cb"}, "invalid_request"),
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "no_such_scope"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
    ],
)
async def test_the_request_is_checked_as_the_authorization_endpoint_would(
    browser: Browser, registered: RegisteredApp, change: dict[str, str | None], error: str
) -> None:
    response = await push(browser, registered, **change)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.rfc("9126 2.3")
async def test_other_methods_are_405(browser: Browser) -> None:
    response = await browser.get(PAR)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


@pytest.mark.rfc("9126 2.3")
async def test_a_body_too_large_is_413(browser: Browser, registered: RegisteredApp) -> None:
    response = await push(browser, registered, state="x" * 70_000)
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


async def test_parameters_in_the_query_string_are_refused(
    browser: Browser, registered: RegisteredApp
) -> None:
    response = await browser.post(
        PAR + "?scope=read_user",
        data=pushed_params(registered),
        headers=basic(registered.client_id, registered.client_secret or ""),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# ---- the authorization request by reference (§4) ------------------------------------------------


@pytest.mark.rfc("9126 4")
async def test_a_pushed_request_gives_a_code(logged_in: Browser, registered: RegisteredApp) -> None:
    uri = await request_uri(logged_in, registered)
    page = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
    assert page.status_code == 200
    assert "Approve" in page.text
    approved = await decide(logged_in, page)
    assert approved.status_code == 303
    location = approved.headers["location"]
    assert location.startswith(CALLBACK + "?")
    params = query(location)
    assert params["state"] == "af0ifjsldkj"
    assert params["iss"] == ISSUER
    token = await exchange(logged_in, registered, params["code"], code_verifier=VERIFIER)
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "read_user"


@pytest.mark.rfc("9126 4")
async def test_other_parameters_in_the_url_are_ignored(logged_in: Browser, registered: RegisteredApp) -> None:
    uri = await request_uri(logged_in, registered)
    page = await logged_in.get(
        "/oauth/authorize",
        params={
            **by_reference(registered, uri),
            "redirect_uri": "https://evil.test/cb",
            "state": "forged",
            "scope": "read_user read_memberships",
            "response_type": "token",
        },
    )
    assert page.status_code == 200
    approved = await decide(logged_in, page)
    assert approved.status_code == 303
    assert approved.headers["location"].startswith(CALLBACK + "?")
    params = query(approved.headers["location"])
    assert params["state"] == "af0ifjsldkj"
    token = await exchange(logged_in, registered, params["code"], code_verifier=VERIFIER)
    assert token.json()["scope"] == "read_user"


@pytest.mark.rfc("9126 4")
@pytest.mark.rfc("9126 7.3")
async def test_a_request_uri_is_used_once(logged_in: Browser, registered: RegisteredApp) -> None:
    uri = await request_uri(logged_in, registered)
    page = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
    approved = await decide(logged_in, page)
    assert approved.status_code == 303
    # The consent form again (the same form, the same anti-forgery token): no second decision.
    again = await decide(logged_in, page)
    assert_error_page(again)
    # And the URL again: consent is on record now, yet no second code.
    reopened = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
    assert_error_page(reopened)


@pytest.mark.rfc("9126 4")
async def test_a_denial_uses_it_up_too(logged_in: Browser, registered: RegisteredApp) -> None:
    uri = await request_uri(logged_in, registered)
    page = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
    denied = await decide(logged_in, page, "deny")
    assert denied.status_code == 303
    assert query(denied.headers["location"])["error"] == "access_denied"
    assert_error_page(await decide(logged_in, page, "approve"))


@pytest.mark.rfc("9126 4")
async def test_consent_on_record_answers_at_once_and_once(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    first = await request_uri(logged_in, registered)
    page = await logged_in.get("/oauth/authorize", params=by_reference(registered, first))
    assert (await decide(logged_in, page)).status_code == 303
    uri = await request_uri(logged_in, registered)
    direct = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
    assert direct.status_code == 302
    assert "code" in query(direct.headers["location"])
    assert_error_page(await logged_in.get("/oauth/authorize", params=by_reference(registered, uri)))


@pytest.mark.rfc("9126 4")
async def test_an_error_sent_to_the_app_uses_it_up(logged_in: Browser, registered: RegisteredApp) -> None:
    uri = await request_uri(logged_in, registered, prompt="none")
    answer = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
    assert answer.status_code == 302
    assert query(answer.headers["location"])["error"] == "consent_required"
    assert_error_page(await logged_in.get("/oauth/authorize", params=by_reference(registered, uri)))


@pytest.mark.rfc("9126 2.2")
@pytest.mark.rfc("9126 4")
async def test_an_expired_request_uri_is_an_error_page(
    logged_in: Browser, state: Any, registered: RegisteredApp
) -> None:
    uri = await request_uri(logged_in, registered)
    move_clock(state, 61)
    assert_error_page(await logged_in.get("/oauth/authorize", params=by_reference(registered, uri)))


@pytest.mark.rfc("9126 4")
async def test_the_request_survives_logging_in(
    browser: Browser, person: Any, state: Any, registered: RegisteredApp
) -> None:
    """The person logs in first (longer than expires_in): the request_uri carries the request
    through the login page and the consent page, and one decision uses it up."""
    uri = await request_uri(browser, registered)
    first = await browser.get("/oauth/authorize", params=by_reference(registered, uri))
    assert first.status_code == 303
    login_url = first.headers["location"]
    assert login_url.startswith("/login?")
    back = parse_qs(urlsplit(login_url).query)["next"][0]
    assert parse_qs(urlsplit(back).query) == {"client_id": [registered.client_id], "request_uri": [uri]}
    move_clock(state, 300)  # five minutes at the login page
    assert (await browser.login("pat@example.com")).status_code == 303
    page = await browser.get(back)
    assert page.status_code == 200
    assert "Approve" in page.text
    approved = await decide(browser, page)
    assert approved.status_code == 303
    assert "code" in query(approved.headers["location"])
    assert_error_page(await decide(browser, page))


@pytest.mark.rfc("9126 4")
async def test_prompt_login_through_a_pushed_request(logged_in: Browser, registered: RegisteredApp) -> None:
    """prompt=login: the login stamp is bound to the request_uri; logging in again leads to the
    consent page, not to another login (no loop)."""
    uri = await request_uri(logged_in, registered, prompt="login")
    first = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
    assert first.status_code == 303
    back = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    relogin = await logged_in.submit(
        first.headers["location"],
        {"email": "pat@example.com", "password": PASSWORD, "next": back},
        action="/login",
    )
    assert relogin.status_code == 303
    page = await logged_in.get(relogin.headers["location"])
    assert page.status_code == 200
    assert "Approve" in page.text


@pytest.mark.rfc("9126 4")
async def test_another_clients_request_uri_is_an_error_page(
    logged_in: Browser, state: Any, db: Any, dev: Any, registered: RegisteredApp
) -> None:
    other = await register_app(state, db, dev, name="Other")
    uri = await request_uri(logged_in, registered)
    assert_error_page(await logged_in.get("/oauth/authorize", params=by_reference(other, uri)))
    # Without client_id, or with an unknown or foreign request_uri: pages too.
    assert_error_page(await logged_in.get("/oauth/authorize", params={"request_uri": uri}))
    assert_error_page(
        await logged_in.get("/oauth/authorize", params=by_reference(registered, URN + "A" * 43))
    )
    assert_error_page(
        await logged_in.get(
            "/oauth/authorize", params=by_reference(registered, "https://app.example/req.jwt")
        )
    )
    # The rightful client's request is still intact.
    page = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
    assert page.status_code == 200


@pytest.mark.rfc("9126 2")
async def test_pushed_on_a_space_host_and_used_there_only(
    new_browser: Any, tenants: Tenants, registered: RegisteredApp
) -> None:
    in_space: Browser = new_browser("co-up.localhost:8000")
    assert (await in_space.login("pat@example.com")).status_code == 303
    main: Browser = new_browser()
    assert (await main.login("pat@example.com")).status_code == 303
    uri = await request_uri(in_space, registered)
    # Pushed to the space's host: not a request of the main host.
    assert_error_page(await main.get("/oauth/authorize", params=by_reference(registered, uri)))
    page = await in_space.get("/oauth/authorize", params=by_reference(registered, uri))
    assert page.status_code == 200
    approved = await decide(in_space, page)
    assert approved.status_code == 303
    params = query(approved.headers["location"])
    assert params["iss"] == "http://co-up.localhost:8000"
    token = await exchange(in_space, registered, params["code"], code_verifier=VERIFIER)
    assert token.status_code == 200, token.text


# ---- PAR required (§6) ----------------------------------------------------------------------------


@pytest.mark.rfc("9126 6")
async def test_an_app_that_requires_par(
    logged_in: Browser, state: Any, db: Any, dev: Any, registered: RegisteredApp
) -> None:
    strict = await register_app(state, db, dev, name="Strict", par_required=True)
    direct = await logged_in.get("/oauth/authorize", params=pushed_params(strict))
    assert direct.status_code == 302
    error = query(direct.headers["location"])
    assert direct.headers["location"].startswith(CALLBACK + "?")
    assert error["error"] == "invalid_request"
    assert error["state"] == "af0ifjsldkj"
    uri = await request_uri(logged_in, strict)
    page = await logged_in.get("/oauth/authorize", params=by_reference(strict, uri))
    assert page.status_code == 200
    # Other apps are not affected.
    assert (await logged_in.get("/oauth/authorize", params=pushed_params(registered))).status_code == 200
    # Switched off again, the app may send requests directly.
    await apps.update_app(db, strict.client_id, par_required=False)
    await db.commit()
    assert (await logged_in.get("/oauth/authorize", params=pushed_params(strict))).status_code == 200


async def test_a_request_object_outside_par_is_not_supported(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    response = await logged_in.get("/oauth/authorize", params=pushed_params(registered, request="e30.e30.x"))
    assert response.status_code == 302
    assert query(response.headers["location"])["error"] == "request_not_supported"


@pytest.mark.rfc("9126 5")
async def test_metadata_announces_par(browser: Browser) -> None:
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        doc = (await browser.get(path)).json()
        assert doc["pushed_authorization_request_endpoint"] == ISSUER + "/oauth/par"
        assert doc["require_pushed_authorization_requests"] is False
        assert doc["request_parameter_supported"] is False
        assert doc["require_signed_request_object"] is False
        assert set(doc["request_object_signing_alg_values_supported"]) >= {"PS256", "ES256", "RS256", "EdDSA"}
        assert "none" not in doc["request_object_signing_alg_values_supported"]
        assert not any(a.startswith("HS") for a in doc["request_object_signing_alg_values_supported"])


class TestRequiredEverywhere:
    """FRONTDESK_REQUIRE_PAR: every app must push its requests."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"require_par": True}

    @pytest.mark.rfc("9126 5")
    @pytest.mark.rfc("9126 6")
    async def test_every_app_must_push(
        self, logged_in: Browser, new_browser: Any, tenants: Tenants, registered: RegisteredApp
    ) -> None:
        doc = (await logged_in.get("/.well-known/oauth-authorization-server")).json()
        assert doc["require_pushed_authorization_requests"] is True
        direct = await logged_in.get("/oauth/authorize", params=pushed_params(registered))
        assert direct.status_code == 302
        assert query(direct.headers["location"])["error"] == "invalid_request"
        uri = await request_uri(logged_in, registered)
        page = await logged_in.get("/oauth/authorize", params=by_reference(registered, uri))
        assert page.status_code == 200
        in_space: Browser = new_browser("co-up.localhost:8000")
        space_doc = (await in_space.get("/.well-known/oauth-authorization-server")).json()
        assert space_doc["require_pushed_authorization_requests"] is True
        assert space_doc["pushed_authorization_request_endpoint"] == "http://co-up.localhost:8000/oauth/par"


# ---- request objects inside PAR (RFC 9101, RFC 9126 §3) -------------------------------------------


@dataclasses.dataclass
class Signer:
    app: RegisteredApp
    rsa: RSAKey
    ec: ECKey

    def sign(self, claims: dict[str, Any], alg: str = "RS256", key: Any = None, **header: Any) -> str:
        key = key or (self.ec if alg == "ES256" else self.rsa)
        return jwt.encode({"alg": alg, "kid": key.kid, **header}, claims, key, algorithms=[alg])


@pytest.fixture
async def signer(state: Any, db: Any, dev: Any) -> Signer:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})
    jwks = json.dumps({"keys": [rsa.as_dict(private=False), ec.as_dict(private=False)]})
    app = await register_app(state, db, dev, name="Signing App", jwks=jwks)
    return Signer(app, rsa, ec)


def object_claims(app: RegisteredApp, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": app.client_id,
        "aud": ISSUER,
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": "5fd1c8b1",
        **pushed_params(app, state="from-the-object"),
        "max_age": 3600,
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


async def push_object(b: Browser, signer: Signer, request: str, **form: str) -> httpx.Response:
    app = signer.app
    return await b.post(
        PAR,
        data={"client_id": app.client_id, "request": request, **form},
        headers=basic(app.client_id, app.client_secret or ""),
    )


@pytest.mark.rfc("9126 3")
@pytest.mark.rfc("9101 6.3")
@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256"])
async def test_a_signed_request_object_inside_par(logged_in: Browser, signer: Signer, alg: str) -> None:
    request = signer.sign(object_claims(signer.app), alg)
    # The form's own authorization parameters are ignored: the object's claims are the request.
    pushed = await push_object(logged_in, signer, request, state="from-the-form", scope="read_memberships")
    assert pushed.status_code == 201, pushed.text
    uri = pushed.json()["request_uri"]
    page = await logged_in.get("/oauth/authorize", params=by_reference(signer.app, uri))
    assert page.status_code == 200
    approved = await decide(logged_in, page)
    params = query(approved.headers["location"])
    assert params["state"] == "from-the-object"
    token = await exchange(logged_in, signer.app, params["code"], code_verifier=VERIFIER)
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "read_user"


@pytest.mark.rfc("9101 6.2")
@pytest.mark.rfc("9101 10.1")
async def test_request_object_failures(browser: Browser, signer: Signer) -> None:
    app = signer.app
    now = int(time.time())
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    cases = {
        "bad signature": signer.sign(object_claims(app), key=stranger),
        "wrong aud": signer.sign(object_claims(app, aud="https://elsewhere.example")),
        "expired": signer.sign(object_claims(app, exp=now - 120, nbf=now - 300)),
        "no exp": signer.sign(object_claims(app, exp=None)),
        "not yet valid": signer.sign(object_claims(app, nbf=now + 600, exp=now + 900)),
        "wrong iss": signer.sign(object_claims(app, iss="someone-else")),
        "client_id mismatch": signer.sign(object_claims(app, client_id="someone-else")),
        "request_uri inside": signer.sign(object_claims(app, request_uri=URN + "x" * 43)),
        "not a JWT": "not.a.jwt",
    }
    for name, request in cases.items():
        response = await push_object(browser, signer, request)
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"] == "invalid_request_object", name


@pytest.mark.rfc("9101 10.1")
async def test_alg_none_and_shared_secrets_are_refused(browser: Browser, signer: Signer) -> None:
    def b64(data: dict[str, Any]) -> str:
        import base64

        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = b64({"alg": "none", "typ": "JWT"}) + "." + b64(object_claims(signer.app)) + "."
    response = await push_object(browser, signer, unsigned)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_object"
    from joserfc.jwk import OctKey

    secret = OctKey.import_key(signer.app.client_secret or "")
    hs = jwt.encode({"alg": "HS256"}, object_claims(signer.app), secret, algorithms=["HS256"])
    response = await push_object(browser, signer, hs)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_object"


async def test_a_client_without_keys_cannot_send_request_objects(
    browser: Browser, registered: RegisteredApp, signer: Signer
) -> None:
    request = signer.sign(object_claims(registered))
    response = await browser.post(
        PAR,
        data={"client_id": registered.client_id, "request": request},
        headers=basic(registered.client_id, registered.client_secret or ""),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_object"


async def test_the_request_objects_claims_are_checked_like_the_form(browser: Browser, signer: Signer) -> None:
    request = signer.sign(object_claims(signer.app, redirect_uri="https://evil.test/cb"))
    response = await push_object(browser, signer, request)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_browser_apps_may_push_across_origins(browser: Browser, registered: RegisteredApp) -> None:
    response = await browser.post(
        PAR,
        data=pushed_params(registered),
        headers={
            **basic(registered.client_id, registered.client_secret or ""),
            "origin": "https://spa.example",
        },
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.rfc("9126 4")
async def test_pushed_on_a_subdomain_continues_on_its_custom_domain(
    state: Any, db: Any, person: Any, new_browser: Any, registered: RegisteredApp
) -> None:
    """A space's subdomain sends the authorization on to its verified custom domain
    (web/hosts.py): the request pushed to the subdomain is the same space's request there."""
    await spaces.create_space(
        db,
        state.settings,
        subdomain="harbour",
        name="Harbour",
        owner=person,
        custom_domain="members.harbour.example",
        domain_verified=True,
    )
    await db.commit()
    at_sub: Browser = new_browser("harbour.localhost:8000")
    uri = await request_uri(at_sub, registered)
    moved = await at_sub.get("/oauth/authorize", params=by_reference(registered, uri))
    assert moved.status_code == 302
    location = moved.headers["location"]
    assert location.startswith("http://members.harbour.example:8000/oauth/authorize?")
    at_custom: Browser = new_browser("members.harbour.example:8000")
    assert (await at_custom.login("pat@example.com")).status_code == 303
    page = await at_custom.get(location.split(":8000", 1)[1])
    assert page.status_code == 200
    # The main host does not take it.
    assert_error_page(await new_browser().get("/oauth/authorize", params=by_reference(registered, uri)))
    approved = await decide(at_custom, page)
    assert approved.status_code == 303
    assert "code" in query(approved.headers["location"])


@pytest.mark.rfc("9126 2.1")
@pytest.mark.rfc("9101 6.2")
async def test_a_private_key_jwt_app_pushes_a_signed_request(
    logged_in: Browser, state: Any, db: Any, dev: Any
) -> None:
    """Authenticated with a client assertion (RFC 7523) and a request object signed with the
    same registered key."""
    key = keys_support.ec_key("k1")
    app = await register_app(
        state,
        db,
        dev,
        name="Keyed",
        token_endpoint_auth_method="private_key_jwt",
        jwks=keys_support.jwks(key),
    )
    request = jwt.encode({"alg": "ES256", "kid": "k1"}, object_claims(app), key, algorithms=["ES256"])
    form = keys_support.assertion_form(keys_support.assertion(key, app.client_id), request=request)
    pushed = await logged_in.post(PAR, data={"client_id": app.client_id, **form})
    assert pushed.status_code == 201, pushed.text
    page = await logged_in.get("/oauth/authorize", params=by_reference(app, pushed.json()["request_uri"]))
    assert page.status_code == 200
    # A failed assertion is invalid_client, as at the token endpoint.
    stranger = keys_support.ec_key("k1")
    bad = keys_support.assertion_form(keys_support.assertion(stranger, app.client_id), request=request)
    refused = await logged_in.post(PAR, data={"client_id": app.client_id, **bad})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


class TestKeysAtAJwksUri:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # The JWK Set is served from 127.0.0.1, a private address: allowed as in development.
        return {"webhooks_allow_private": True}

    @pytest.mark.rfc("9101 6.2")
    async def test_request_objects_are_verified_with_the_published_keys(
        self, browser: Browser, state: Any, db: Any, dev: Any
    ) -> None:
        key = keys_support.ec_key("k1")
        with keys_support.JwksServer() as server:
            server.publish(key)
            app = await register_app(
                state,
                db,
                dev,
                name="Keyed by URI",
                token_endpoint_auth_method="private_key_jwt",
                jwks_uri=server.url,
            )
            signed = jwt.encode({"alg": "ES256", "kid": "k1"}, object_claims(app), key, algorithms=["ES256"])
            form = keys_support.assertion_form(keys_support.assertion(key, app.client_id), request=signed)
            pushed = await browser.post(PAR, data={"client_id": app.client_id, **form})
            assert pushed.status_code == 201, pushed.text
            forged = jwt.encode(
                {"alg": "ES256", "kid": "k1"},
                object_claims(app),
                keys_support.ec_key("k1"),
                algorithms=["ES256"],
            )
            form = keys_support.assertion_form(keys_support.assertion(key, app.client_id), request=forged)
            refused = await browser.post(PAR, data={"client_id": app.client_id, **form})
            assert refused.status_code == 400
            assert refused.json()["error"] == "invalid_request_object"


@pytest.mark.rfc("9101 10.1")
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
async def test_an_eddsa_request_object(browser: Browser, state: Any, db: Any, dev: Any, alg: str) -> None:
    key = keys_support.ed_key("e1")
    app = await register_app(state, db, dev, name="Edwards", jwks=keys_support.jwks(key))
    signed = jwt.encode({"alg": alg, "kid": "e1"}, object_claims(app), key, algorithms=[alg])
    response = await browser.post(
        PAR,
        data={"client_id": app.client_id, "request": signed},
        headers=basic(app.client_id, app.client_secret or ""),
    )
    assert response.status_code == 201, response.text


# ---- a DPoP proof with the pushed request (RFC 9449 §10.1) ------------------------------------------


async def dpop_code(b: Browser, app: RegisteredApp, proof: str, **extra: str | None) -> httpx.Response:
    headers = {**basic(app.client_id, app.client_secret or ""), "dpop": proof}
    return await b.post(PAR, data=pushed_params(app, **extra), headers=headers)


@pytest.mark.rfc("9449 10.1")
async def test_a_dpop_proof_at_par_binds_the_code(logged_in: Browser, registered: RegisteredApp) -> None:
    key = DpopKey()
    pushed = await dpop_code(logged_in, registered, key.proof(htu=ISSUER + PAR))
    assert pushed.status_code == 201, pushed.text
    page = await logged_in.get(
        "/oauth/authorize", params=by_reference(registered, pushed.json()["request_uri"])
    )
    code = query((await decide(logged_in, page)).headers["location"])["code"]
    # Without a proof of that key, the code is refused.
    other = await logged_in.post(
        "/oauth/access_token",
        data={"grant_type": "authorization_code", "code": code, "code_verifier": VERIFIER},
        headers={**basic(registered.client_id, registered.client_secret or ""), "dpop": DpopKey().proof()},
    )
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_dpop_proof"
    # With one, the tokens are bound to the key (consent is on record: the code comes at once).
    again = await dpop_code(logged_in, registered, key.proof(htu=ISSUER + PAR))
    direct = await logged_in.get(
        "/oauth/authorize", params=by_reference(registered, again.json()["request_uri"])
    )
    assert direct.status_code == 302
    token = await logged_in.post(
        "/oauth/access_token",
        data={"grant_type": "authorization_code", "code": query(direct.headers["location"])["code"]}
        | {"code_verifier": VERIFIER},
        headers={**basic(registered.client_id, registered.client_secret or ""), "dpop": key.proof()},
    )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "DPoP"


@pytest.mark.rfc("9449 10.1")
async def test_dpop_proof_and_dpop_jkt_must_agree(browser: Browser, registered: RegisteredApp) -> None:
    key = DpopKey()
    agree = await dpop_code(browser, registered, key.proof(htu=ISSUER + PAR), dpop_jkt=key.jkt)
    assert agree.status_code == 201, agree.text
    differ = await dpop_code(browser, registered, key.proof(htu=ISSUER + PAR), dpop_jkt=DpopKey().jkt)
    assert differ.status_code == 400
    assert differ.json()["error"] == "invalid_request"
    wrong_url = await dpop_code(browser, registered, key.proof())  # made for the token endpoint
    assert wrong_url.status_code == 400
    assert wrong_url.json()["error"] == "invalid_dpop_proof"
