"""private_key_jwt client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9) at the
token, revocation and introspection endpoints: each rule of RFC 7523 §3 on its own, the
algorithms refused, and the rule that an app uses the kind of credential it registered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import select

from frontdesk.oauth.client_assertion import ClientAssertions, UnverifiedAssertion
from frontdesk.oauth.config import utcnow
from frontdesk.oauth.errors import InvalidClient
from frontdesk.oauth.models import FAPI2, Client
from frontdesk.services import apps
from frontdesk.store.models import AuditEvent
from tests.keys_support import (
    ISSUER,
    JWT_BEARER,
    JwksServer,
    assertion,
    assertion_form,
    ec_key,
    ed_key,
    jwks,
    rsa_key,
)
from tests.oauth_support import TOKEN_URL, RegisteredApp, basic, bearer, register_app
from tests.support import Browser, FromNow, at_run_time

KEY = ec_key("k1")
OTHER = ec_key("k1")  # the same kid, another key: a forger's


@pytest.fixture
async def keyed(state: Any, db: Any, dev: Any) -> RegisteredApp:
    """A confidential app registered with a JWK Set instead of a secret, that may use
    client_credentials."""
    return await register_app(
        state,
        db,
        dev,
        scopes="read_user",
        client_credentials=True,
        token_endpoint_auth_method="private_key_jwt",
        jwks=jwks(KEY),
    )


async def cc(b: Browser, form: dict[str, str], **kwargs: Any) -> httpx.Response:
    return await b.post(TOKEN_URL, data={"grant_type": "client_credentials", **form}, **kwargs)


def error_of(response: httpx.Response) -> str:
    return str(response.json()["error"])


async def test_no_client_secret_is_issued(keyed: RegisteredApp) -> None:
    assert keyed.client_secret is None


@pytest.mark.rfc("7523 2.2")
async def test_a_signed_assertion_authenticates(browser: Browser, keyed: RegisteredApp) -> None:
    response = await cc(browser, assertion_form(assertion(KEY, keyed.client_id)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "read_user"
    token = body["access_token"]
    me = await browser.get("/api/user", headers=bearer(token))
    # A client_credentials token acts for no person; the API says so rather than "invalid".
    assert me.status_code == 403


@pytest.mark.rfc("7523 2.2")
async def test_client_id_may_be_sent_and_must_match(browser: Browser, keyed: RegisteredApp) -> None:
    ok = await cc(browser, assertion_form(assertion(KEY, keyed.client_id), client_id=keyed.client_id))
    assert ok.status_code == 200, ok.text
    wrong = await cc(browser, assertion_form(assertion(KEY, keyed.client_id), client_id="someone-else"))
    assert wrong.status_code == 401
    assert error_of(wrong) == "invalid_client"


@pytest.mark.parametrize(
    ("alg", "make"),
    [("PS256", rsa_key), ("RS256", rsa_key), ("ES256", ec_key), ("EdDSA", ed_key)],
)
async def test_every_offered_algorithm(
    state: Any, db: Any, dev: Any, browser: Browser, alg: str, make: Any
) -> None:
    key = make("only")
    app = await register_app(
        state,
        db,
        dev,
        scopes="read_user",
        client_credentials=True,
        token_endpoint_auth_method="private_key_jwt",
        jwks=jwks(key),
    )
    response = await cc(browser, assertion_form(assertion(key, app.client_id, alg=alg)))
    assert response.status_code == 200, response.text


async def test_a_key_without_kid_is_found_by_its_type(
    state: Any, db: Any, dev: Any, browser: Browser
) -> None:
    key = ec_key("ignored")
    public = key.as_dict(private=False)
    public.pop("kid")
    app = await register_app(
        state,
        db,
        dev,
        scopes="read_user",
        client_credentials=True,
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
    )
    response = await cc(browser, assertion_form(assertion(key, app.client_id, header={"kid": None})))
    assert response.status_code == 200, response.text


# ---- RFC 7523 §3, one rule at a time -----------------------------------------------------------


@pytest.mark.rfc("7523 3")
@pytest.mark.parametrize(
    ("case", "claims"),
    [
        ("iss is not the client", {"iss": "someone-else"}),
        ("sub is not the client (client_id sent)", {"sub": "someone-else"}),
        ("aud is another server", {"aud": "https://elsewhere.example"}),
        ("aud is a list without this server", {"aud": ["https://elsewhere.example"]}),
        ("aud is missing", {"drop": ("aud",)}),
        ("exp is missing", {"drop": ("exp",)}),
        ("expired", {"exp": FromNow(-120)}),
        ("exp too far ahead", {"lifetime": 3600 + 120}),
        ("exp past max_lifetime without iat", {"lifetime": 600, "drop": ("iat",)}),
        ("iat too long ago", {"iat": FromNow(-600)}),
        ("nbf in the future", {"nbf": FromNow(600)}),
        ("iat in the future", {"iat": FromNow(600)}),
        ("jti is missing", {"drop": ("jti",)}),
        ("jti is not a string", {"jti": 42}),
        ("exp is not a number", {"exp": "soon"}),
    ],
)
async def test_each_claim_rule(
    browser: Browser, keyed: RegisteredApp, case: str, claims: dict[str, Any]
) -> None:
    token = assertion(KEY, keyed.client_id, **at_run_time(claims))
    response = await cc(browser, assertion_form(token, client_id=keyed.client_id))
    assert response.status_code == 401, case
    assert error_of(response) == "invalid_client"


@pytest.mark.rfc("7523 3")
async def test_the_token_endpoint_url_and_an_audience_list_are_accepted(
    browser: Browser, keyed: RegisteredApp
) -> None:
    at_endpoint = await cc(browser, assertion_form(assertion(KEY, keyed.client_id, aud=ISSUER + TOKEN_URL)))
    assert at_endpoint.status_code == 200, at_endpoint.text
    listed = await cc(
        browser, assertion_form(assertion(KEY, keyed.client_id, aud=["https://x.example", ISSUER]))
    )
    assert listed.status_code == 200, listed.text


@pytest.mark.rfc("7523 3")
async def test_an_hour_long_exp_is_accepted_with_a_recent_iat(browser: Browser, keyed: RegisteredApp) -> None:
    """As Authlib signs them: exp an hour after iat; used within max_lifetime of iat."""
    response = await cc(browser, assertion_form(assertion(KEY, keyed.client_id, lifetime=3600)))
    assert response.status_code == 200, response.text


@pytest.mark.rfc("7523 3")
async def test_a_jti_is_single_use(browser: Browser, keyed: RegisteredApp) -> None:
    token = assertion(KEY, keyed.client_id)
    first = await cc(browser, assertion_form(token))
    assert first.status_code == 200, first.text
    again = await cc(browser, assertion_form(token))
    assert again.status_code == 401
    assert "jti" in again.json()["error_description"]


@pytest.mark.rfc("7523 3")
async def test_a_signature_by_another_key_is_refused(browser: Browser, keyed: RegisteredApp) -> None:
    response = await cc(browser, assertion_form(assertion(OTHER, keyed.client_id)))
    assert response.status_code == 401
    assert "signature" in response.json()["error_description"]


async def test_an_unknown_kid_is_refused(browser: Browser, keyed: RegisteredApp) -> None:
    response = await cc(browser, assertion_form(assertion(ec_key("k9"), keyed.client_id)))
    assert response.status_code == 401
    assert "k9" in response.json()["error_description"]


def _unsigned(client_id: str) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": ISSUER, "exp": now + 60, "jti": "n1"}
    return jwt.encode({"alg": "none"}, claims, None, algorithms=["none"])


@pytest.mark.rfc("7523 3")
async def test_alg_none_is_refused(browser: Browser, keyed: RegisteredApp) -> None:
    response = await cc(browser, assertion_form(_unsigned(keyed.client_id)))
    assert response.status_code == 401
    assert "'none'" in response.json()["error_description"]


@pytest.mark.rfc("7523 3")
async def test_client_secret_jwt_is_refused(state: Any, db: Any, dev: Any, browser: Browser) -> None:
    """HS256 with the client secret (client_secret_jwt) is not offered, even to an app that has
    a secret: the assertion path is for key clients only, and HS* is never accepted."""
    app = await register_app(state, db, dev, scopes="read_user", client_credentials=True)
    assert app.client_secret is not None
    key = OctKey.import_key(app.client_secret.encode())
    now = int(time.time())
    claims = {"iss": app.client_id, "sub": app.client_id, "aud": ISSUER, "exp": now + 60, "jti": "h1"}
    token = jwt.encode({"alg": "HS256"}, claims, key, algorithms=["HS256"])
    response = await cc(browser, assertion_form(token))
    assert response.status_code == 401
    assert error_of(response) == "invalid_client"


async def test_hs256_is_refused_for_a_key_client(browser: Browser, keyed: RegisteredApp) -> None:
    key = OctKey.import_key(b"a shared secret of thirty-two bytes!")
    now = int(time.time())
    claims = {"iss": keyed.client_id, "sub": keyed.client_id, "aud": ISSUER, "exp": now + 60, "jti": "h2"}
    token = jwt.encode({"alg": "HS256", "kid": "k1"}, claims, key, algorithms=["HS256"])
    response = await cc(browser, assertion_form(token))
    assert response.status_code == 401
    assert "HS256" in response.json()["error_description"]


async def test_garbage_and_encrypted_assertions_are_refused(browser: Browser, keyed: RegisteredApp) -> None:
    for raw in ("not-a-jwt", "a.b.c", "a.b.c.d.e"):
        response = await cc(browser, assertion_form(raw, client_id=keyed.client_id))
        assert response.status_code == 401, raw


@pytest.mark.rfc("7521 4.2")
async def test_another_assertion_type_is_refused(browser: Browser, keyed: RegisteredApp) -> None:
    token = assertion(KEY, keyed.client_id)
    form = {"client_assertion_type": "urn:example:other", "client_assertion": token}
    response = await cc(browser, form)
    assert response.status_code == 401
    assert JWT_BEARER in response.json()["error_description"]


# ---- one kind of credential per app ----------------------------------------------------------


@pytest.mark.rfc("6749 2.3")
async def test_a_key_client_cannot_use_a_secret_or_nothing(browser: Browser, keyed: RegisteredApp) -> None:
    with_secret = await cc(browser, {}, headers=basic(keyed.client_id, "x" * 40))
    assert with_secret.status_code == 401
    in_body = await cc(browser, {"client_id": keyed.client_id, "client_secret": "x" * 40})
    assert in_body.status_code == 401
    bare = await cc(browser, {"client_id": keyed.client_id})
    assert bare.status_code == 401


async def test_a_secret_client_cannot_use_an_assertion(
    state: Any, db: Any, dev: Any, browser: Browser
) -> None:
    app = await register_app(state, db, dev, scopes="read_user", client_credentials=True, jwks=jwks(KEY))
    response = await cc(browser, assertion_form(assertion(KEY, app.client_id)))
    assert response.status_code == 401
    assert "not registered for private_key_jwt" in response.json()["error_description"]


@pytest.mark.rfc("6749 2.3")
async def test_an_assertion_and_a_secret_together_are_refused(browser: Browser, keyed: RegisteredApp) -> None:
    form = assertion_form(assertion(KEY, keyed.client_id), client_secret="x" * 40)
    response = await cc(browser, form)
    assert response.status_code == 400
    assert error_of(response) == "invalid_request"


async def test_failures_are_audited_against_the_app(browser: Browser, db: Any, keyed: RegisteredApp) -> None:
    response = await cc(browser, assertion_form(assertion(OTHER, keyed.client_id)))
    assert response.status_code == 401
    rows = (
        (await db.execute(select(AuditEvent).where(AuditEvent.event == "client_auth.failed"))).scalars().all()
    )
    assert [row.app_id for row in rows] == [keyed.client_id]


class TestThrottle:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"client_auth_failures_per_client_address": "3/minute"}

    async def test_failed_assertions_count_like_wrong_secrets(
        self, browser: Browser, keyed: RegisteredApp
    ) -> None:
        for _ in range(3):
            assert (await cc(browser, assertion_form(assertion(OTHER, keyed.client_id)))).status_code == 401
        throttled = await cc(browser, assertion_form(assertion(KEY, keyed.client_id)))
        assert throttled.status_code == 429


# ---- the other endpoints that authenticate clients --------------------------------------------


@pytest.mark.rfc("7009 2.1")
async def test_revocation_and_introspection_accept_assertions(browser: Browser, keyed: RegisteredApp) -> None:
    issued = await cc(browser, assertion_form(assertion(KEY, keyed.client_id)))
    token = issued.json()["access_token"]
    introspected = await browser.post(
        "/oauth/introspect",
        data=assertion_form(assertion(KEY, keyed.client_id, aud=ISSUER + "/oauth/introspect"), token=token),
    )
    # The introspection endpoint's own URL is no accepted audience: the issuer is.
    assert introspected.status_code == 401
    introspected = await browser.post(
        "/oauth/introspect", data=assertion_form(assertion(KEY, keyed.client_id), token=token)
    )
    assert introspected.status_code == 200, introspected.text
    assert introspected.json()["active"] is True
    revoked = await browser.post(
        "/oauth/revoke", data=assertion_form(assertion(KEY, keyed.client_id), token=token)
    )
    assert revoked.status_code == 200, revoked.text
    after = await browser.post(
        "/oauth/introspect", data=assertion_form(assertion(KEY, keyed.client_id), token=token)
    )
    assert after.json() == {"active": False}


async def test_keys_registered_later_take_over_from_the_secret(
    state: Any, db: Any, dev: Any, browser: Browser
) -> None:
    app = await register_app(state, db, dev, scopes="read_user", client_credentials=True)
    assert app.client_secret is not None
    await apps.update_app(db, app.client_id, token_endpoint_auth_method="private_key_jwt", jwks=jwks(KEY))
    await db.commit()
    secret = await cc(browser, {}, headers=basic(app.client_id, app.client_secret))
    assert secret.status_code == 401
    signed = await cc(browser, assertion_form(assertion(KEY, app.client_id)))
    assert signed.status_code == 200, signed.text


# ---- keys published at a jwks_uri (a real HTTP server on 127.0.0.1) ------------------------------


@pytest.fixture
def published() -> Iterator[JwksServer]:
    with JwksServer() as server:
        server.publish(KEY)
        yield server


async def keyed_by_uri(state: Any, db: Any, dev: Any, uri: str) -> RegisteredApp:
    return await register_app(
        state,
        db,
        dev,
        scopes="read_user",
        client_credentials=True,
        token_endpoint_auth_method="private_key_jwt",
        jwks_uri=uri,
    )


class TestJwksUri:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # 127.0.0.1 is a private address: allowed here as in development.
        return {"webhooks_allow_private": True}

    async def test_keys_are_fetched_cached_and_rotated(
        self, state: Any, db: Any, dev: Any, browser: Browser, published: JwksServer
    ) -> None:
        app = await keyed_by_uri(state, db, dev, published.url)
        for _ in range(2):
            response = await cc(browser, assertion_form(assertion(KEY, app.client_id)))
            assert response.status_code == 200, response.text
        assert published.hits == 1
        # The app rotates: publishes a new key and signs with it; the unknown kid refetches.
        rotated = ec_key("k2")
        published.publish(KEY, rotated)
        response = await cc(browser, assertion_form(assertion(rotated, app.client_id)))
        assert response.status_code == 200, response.text
        assert published.hits == 2
        # A forger's unknown kid right after does not make the server fetch again.
        response = await cc(browser, assertion_form(assertion(ec_key("k3"), app.client_id)))
        assert response.status_code == 401
        assert published.hits == 2

    async def test_an_unreachable_uri_fails_authentication(
        self, state: Any, db: Any, dev: Any, browser: Browser, published: JwksServer
    ) -> None:
        published.status = 404
        app = await keyed_by_uri(state, db, dev, published.url)
        response = await cc(browser, assertion_form(assertion(KEY, app.client_id)))
        assert response.status_code == 401


async def test_a_private_jwks_uri_is_refused_by_default(
    state: Any, db: Any, dev: Any, browser: Browser, published: JwksServer
) -> None:
    app = await keyed_by_uri(state, db, dev, published.url)
    response = await cc(browser, assertion_form(assertion(KEY, app.client_id)))
    assert response.status_code == 401
    assert published.hits == 0


# ---- the verifier on its own: the audience under the FAPI 2.0 profile -------------------------


class _Keys:
    def __init__(self, text: str) -> None:
        self.text = text

    async def client_keys(self, client: Client) -> str | None:
        return self.text

    async def refresh_client_keys(self, client: Client) -> str | None:
        return self.text


class _Replay:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def first_use(self, kind: str, value: str, seconds: int) -> bool:
        fresh = value not in self.seen
        self.seen.add(value)
        return fresh


def _verifier() -> ClientAssertions:
    return ClientAssertions(keys=_Keys(jwks(KEY)), replay=_Replay(), clock=utcnow)


@pytest.mark.rfc("7523 3")
@pytest.mark.parametrize(
    ("profile", "aud", "accepted"),
    [
        (None, ISSUER, True),
        (None, ISSUER + TOKEN_URL, True),
        (None, [ISSUER, "https://x.example"], True),
        (FAPI2, ISSUER, True),
        (FAPI2, [ISSUER], True),
        # FAPI 2.0 Security Profile: the issuer as the only audience.
        (FAPI2, ISSUER + TOKEN_URL, False),
        (FAPI2, [ISSUER, "https://x.example"], False),
    ],
)
async def test_audience_rules(profile: str | None, aud: Any, accepted: bool) -> None:
    client = Client(
        client_id="c1",
        name="C",
        redirect_uris=(),
        scopes=(),
        profile=profile,
        token_endpoint_auth_method="private_key_jwt",
        jwks=jwks(KEY),
    )
    signed = UnverifiedAssertion.parse(assertion(KEY, "c1", aud=aud))
    if accepted:
        await _verifier().verify(client, signed, ISSUER)
    else:
        with pytest.raises(InvalidClient, match="'aud'"):
            await _verifier().verify(client, signed, ISSUER)
