"""The OAuth client against a fake issuer: discovery, the authorization request and response,
the token request on the wire, and JWT verification (ID tokens, iframe contexts)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from frontdesk.client import (
    AccessDenied,
    AsyncClient,
    AuthorizationError,
    CallbackError,
    Client,
    ConfigurationError,
    ContextError,
    DiscoveryError,
    IdTokenError,
    InvalidGrant,
    InvalidToken,
    IssuerMismatch,
    PendingAuthorization,
    ProtocolError,
    StateMismatch,
    Token,
)
from tests.client.fakes import CLIENT_ID, ISSUER, REDIRECT_URI, SECRET, FakeIssuer, json_body, rsa_key
from tests.support import FromNow, at_run_time


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def callback(pending: PendingAuthorization, **params: str) -> str:
    values = {"code": "the-code", "state": pending.state, "iss": pending.issuer, **params}
    return REDIRECT_URI + "?" + "&".join(f"{k}={v}" for k, v in values.items() if v != "")


# ---- discovery ----------------------------------------------------------------------------------


def test_discovery_caches_per_issuer() -> None:
    fake = FakeIssuer()
    with fake.client() as client:
        first = client.discover()
        assert client.discover() is first
        assert client.discover(refresh=True) == first
    assert fake.paths().count("GET /.well-known/openid-configuration") == 2


def test_discovery_mismatch_is_refused() -> None:
    fake = FakeIssuer(metadata_issuer="https://evil.example")
    with fake.client() as client, pytest.raises(IssuerMismatch) as caught:
        client.discover()
    assert (caught.value.expected, caught.value.actual) == (ISSUER, "https://evil.example")


def test_discovery_falls_back_to_rfc8414_and_checks_the_document() -> None:
    fake = FakeIssuer()
    fake.openid_configuration = False
    with fake.client() as client:
        assert client.discover().token_endpoint == f"{ISSUER}/oauth/access_token"
    fake = FakeIssuer()
    fake.extra_metadata = {"token_endpoint": None}
    with fake.client() as client, pytest.raises(DiscoveryError, match="token_endpoint"):
        client.discover()
    fake = FakeIssuer()
    fake.routes[("GET", "/.well-known/openid-configuration")] = lambda r: httpx.Response(200, text="<html>")
    with fake.client() as client, pytest.raises(ProtocolError, match="not JSON"):
        client.discover()


def test_issuer_must_be_an_origin() -> None:
    with pytest.raises(ConfigurationError):
        Client(CLIENT_ID, SECRET, issuer="https://fake.example/tenant")
    assert Client(CLIENT_ID, SECRET, issuer="https://fake.example/").issuer == ISSUER


# ---- the authorization request ------------------------------------------------------------------


def test_authorization_url() -> None:
    fake = FakeIssuer()
    with fake.client() as client:
        pending = client.start_authorization("openid read_user", extra_params={"prompt": "consent"})
        params = query(pending.url)
        assert pending.url.startswith(f"{ISSUER}/oauth/authorize?")
        assert params == {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid read_user",
            "state": pending.state,
            "code_challenge": params["code_challenge"],
            "code_challenge_method": "S256",
            "nonce": pending.nonce,
            "prompt": "consent",
        }
        assert pending.code_verifier is not None and 43 <= len(pending.code_verifier) <= 128
        digest = hashlib.sha256(pending.code_verifier.encode()).digest()
        assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert len(pending.state) >= 32 and pending.state != client.start_authorization("x").state
        plain = client.start_authorization("read_user", state="mine", pkce=False)
        assert plain.state == "mine" and plain.code_verifier is None and plain.nonce is None
        assert "code_challenge" not in query(plain.url)
        with pytest.raises(ConfigurationError, match="state"):
            client.start_authorization("read_user", extra_params={"state": "x"})
    with Client(CLIENT_ID, issuer=ISSUER, transport=fake.transport()) as public:
        with pytest.raises(ConfigurationError, match="redirect_uri"):
            public.start_authorization("read_user")
        with pytest.raises(ConfigurationError, match="PKCE"):
            public.start_authorization("read_user", redirect_uri=REDIRECT_URI, pkce=False)


def test_pending_authorization_round_trip() -> None:
    fake = FakeIssuer()
    with fake.client() as client:
        pending = client.start_authorization("openid")
    assert PendingAuthorization.from_dict(pending.to_dict()) == pending
    with pytest.raises(ConfigurationError):
        PendingAuthorization.from_dict({"state": "x"})


# ---- the authorization response -----------------------------------------------------------------


def test_code_exchange_on_the_wire() -> None:
    fake = FakeIssuer()
    with fake.client() as client:
        pending = client.start_authorization("read_user")
        token = client.finish_authorization(pending, callback(pending))
    request = fake.requests[-1]
    assert request.url == f"{ISSUER}/oauth/access_token"
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    )
    assert request.headers["user-agent"].startswith("frontdesk-client/")
    assert fake.last_form() == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pending.code_verifier,
    }
    assert token.access_token == "at-1" and token.scope == ("read_user",)
    assert "at-1" not in repr(token)


def test_basic_credentials_are_form_encoded() -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before base64."""
    fake = FakeIssuer()
    with Client("id:1", "s&cret/=", issuer=ISSUER, transport=fake.transport()) as client:
        client.password_grant("u@example.com", "pw", "read_user")
    raw = fake.requests[-1].headers["authorization"].split()[1]
    assert base64.b64decode(raw).decode() == "id%3A1:s%26cret%2F%3D"


def test_client_secret_post_and_public_clients() -> None:
    fake = FakeIssuer()
    with fake.client(token_endpoint_auth_method="client_secret_post") as client:
        client.password_grant("u@example.com", "pw", ["read_user"])
    assert "authorization" not in fake.requests[-1].headers
    assert fake.last_form()["client_secret"] == SECRET and fake.last_form()["client_id"] == CLIENT_ID
    with Client(CLIENT_ID, issuer=ISSUER, transport=fake.transport()) as public:
        public.password_grant("u@example.com", "pw", "read_user")
    assert "client_secret" not in fake.last_form() and fake.last_form()["client_id"] == CLIENT_ID
    with pytest.raises(ConfigurationError):
        Client(CLIENT_ID, issuer=ISSUER, token_endpoint_auth_method="client_secret_basic")


def test_callback_checks_state_then_iss_then_error() -> None:
    fake = FakeIssuer()
    with fake.client() as client:
        pending = client.start_authorization("read_user")
        with pytest.raises(StateMismatch):
            client.finish_authorization(pending, callback(pending, state="other"))
        with pytest.raises(StateMismatch):  # state is checked before the error is believed
            client.finish_authorization(pending, callback(pending, state="", error="access_denied"))
        with pytest.raises(IssuerMismatch):
            client.finish_authorization(pending, callback(pending, iss="https://evil.example"))
        with pytest.raises(IssuerMismatch):  # the metadata promises iss
            client.finish_authorization(pending, callback(pending, iss=""))
        with pytest.raises(AccessDenied) as denied:
            client.finish_authorization(pending, callback(pending, code="", error="access_denied"))
        assert denied.value.error == "access_denied"
        with pytest.raises(AuthorizationError) as other:
            client.finish_authorization(
                pending, callback(pending, code="", error="invalid_scope", error_description="no+such+scope")
            )
        assert not isinstance(other.value, AccessDenied)
        assert (other.value.error, other.value.description) == ("invalid_scope", "no such scope")
        with pytest.raises(CallbackError, match="neither code nor error"):
            client.finish_authorization(pending, callback(pending, code=""))
        with pytest.raises(CallbackError, match="repeats"):
            client.finish_authorization(pending, callback(pending) + "&code=again")
    assert not any(r.method == "POST" for r in fake.requests)  # no code was ever sent


def test_iss_is_optional_when_the_server_does_not_promise_it() -> None:
    """Cobot's metadata has no authorization_response_iss_parameter_supported."""
    fake = FakeIssuer()
    fake.extra_metadata = {"authorization_response_iss_parameter_supported": False}
    with fake.client() as client:
        pending = client.start_authorization("read_user")
        token = client.finish_authorization(pending, callback(pending, iss=""))
        assert token.scope == ("read_user",)
        with pytest.raises(IssuerMismatch):  # but when it is there it must be right
            client.finish_authorization(pending, callback(pending, iss="https://evil.example"))


def test_token_endpoint_errors_are_typed() -> None:
    fake = FakeIssuer()
    fake.routes[("POST", "/oauth/access_token")] = lambda r: httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "the code expired"}
    )
    with fake.client() as client:
        pending = client.start_authorization("read_user")
        with pytest.raises(InvalidGrant) as caught:
            client.finish_authorization(pending, callback(pending))
    assert (caught.value.error, caught.value.description, caught.value.status) == (
        "invalid_grant",
        "the code expired",
        400,
    )


def test_cobot_token_response_without_scope_uses_the_requested_one() -> None:
    fake = FakeIssuer()
    fake.token_body = {"access_token": "bd18277b", "token_type": "bearer"}
    with fake.client() as client:
        token = client.password_grant("u@example.com", "pw", "read_user write")
    assert token.scope == ("read_user", "write") and token.expires_at is None


def test_expiring_token_and_refresh_keep_what_the_server_leaves_out() -> None:
    fake = FakeIssuer()
    fake.token_body = {"access_token": "a1", "token_type": "bearer", "expires_in": 300, "refresh_token": "r1"}
    with fake.client() as client:
        token = client.password_grant("u@example.com", "pw", "read_user")
        assert token.refresh_token == "r1" and 290 < (token.expires_in() or 0) <= 300
        assert not token.is_expired() and token.is_expired(leeway=400)
        fake.token_body = {"access_token": "a2", "token_type": "bearer", "expires_in": 300}
        fresh = client.refresh(token)
        assert fake.last_form() == {"grant_type": "refresh_token", "refresh_token": "r1"}
        assert fresh.refresh_token == "r1" and fresh.scope == ("read_user",)  # RFC 6749 §6
        with pytest.raises(ConfigurationError, match="refresh_token"):
            client.refresh(Token(access_token="x", token_type="bearer", scope=()))


# ---- ID tokens ----------------------------------------------------------------------------------


def id_token_flow(fake: FakeIssuer, **claims: Any) -> tuple[Client, PendingAuthorization, str]:
    client = fake.client()
    pending = client.start_authorization("openid read_user")
    fake.token_body = {
        "access_token": "at-1",
        "token_type": "bearer",
        "scope": "openid read_user",
        "id_token": fake.sign(fake.claims(**{"nonce": pending.nonce, **claims})),
    }
    return client, pending, callback(pending)


def test_id_token_is_verified_in_the_flow() -> None:
    fake = FakeIssuer()
    client, pending, url = id_token_flow(fake)
    with client:
        token = client.finish_authorization(pending, url)
    assert token.id_token_claims is not None and token.id_token_claims["sub"] == "user-1"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.example"}, "issued by"),
        ({"aud": "another-app"}, "aud"),
        ({"aud": [CLIENT_ID, "another-app"]}, "azp"),
        ({"azp": "another-app"}, "azp"),
        ({"exp": FromNow(-120)}, "expired"),
        ({"iat": FromNow(600)}, "future"),
        ({"nonce": "replayed"}, "nonce"),
        ({"sub": None}, "sub"),
        ({"at_hash": "wrong"}, "at_hash"),
    ],
)
def test_id_token_claims_are_checked(claims: dict[str, Any], message: str) -> None:
    fake = FakeIssuer()
    client, pending, url = id_token_flow(fake, **at_run_time(claims))
    with client, pytest.raises(IdTokenError, match=message):
        client.finish_authorization(pending, url)


def test_id_token_within_leeway_and_with_several_audiences_and_azp() -> None:
    fake = FakeIssuer()
    client, pending, url = id_token_flow(fake, exp=int(time.time()) - 30, aud=[CLIENT_ID, "x"], azp=CLIENT_ID)
    with client:
        assert client.finish_authorization(pending, url).id_token_claims is not None


def test_missing_id_token_when_openid_was_granted() -> None:
    fake = FakeIssuer()
    with fake.client() as client:
        pending = client.start_authorization("openid")
        fake.token_body = {"access_token": "a", "token_type": "bearer", "scope": "openid"}
        with pytest.raises(IdTokenError, match="no id_token"):
            client.finish_authorization(pending, callback(pending))


def test_id_token_signatures() -> None:
    fake = FakeIssuer()
    with fake.client() as client:
        good = fake.sign(fake.claims())
        assert client.verify_id_token(good, issuer=ISSUER)["sub"] == "user-1"
        body = good.split(".")[1]
        unsigned = f"{_b64({'alg': 'none'})}.{body}."
        with pytest.raises(IdTokenError, match="algorithm"):
            client.verify_id_token(unsigned, issuer=ISSUER)
        hs256 = f"{_b64({'alg': 'HS256', 'kid': 'k1'})}.{body}.c2ln"
        with pytest.raises(IdTokenError, match="algorithm"):
            client.verify_id_token(hs256, issuer=ISSUER)
        other_key = fake.sign(fake.claims(), kid="k2")  # not published
        with pytest.raises(IdTokenError, match="no key"):
            client.verify_id_token(other_key, issuer=ISSUER)
        with pytest.raises(IdTokenError, match="three parts"):
            client.verify_id_token("garbage", issuer=ISSUER)


def test_jwks_is_cached_and_refetched_for_a_new_kid() -> None:
    fake = FakeIssuer()
    with fake.client() as client:
        client.verify_id_token(fake.sign(fake.claims()), issuer=ISSUER)
        client.verify_id_token(fake.sign(fake.claims()), issuer=ISSUER)
        assert fake.paths().count("GET /jwks.json") == 1
        # Key rotation: the issuer publishes k2; a token signed with it makes us look again
        # (once the minimum refetch interval has passed).
        fake.published.append(rsa_key("k2"))
        rotated = fake.sign(fake.claims(), kid="k2")
        client._core._jwks = {uri: (at - 60, keys) for uri, (at, keys) in client._core._jwks.items()}
        assert client.verify_id_token(rotated, issuer=ISSUER)["sub"] == "user-1"
        assert fake.paths().count("GET /jwks.json") == 2


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ---- the iframe context -------------------------------------------------------------------------

SPACE_ISSUER = "https://co-up.fake.example"


def context_claims(fake: FakeIssuer, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "iss": SPACE_ISSUER,
        "role": "member",
        "space": {"id": "space-1", "subdomain": "co-up"},
        "exp": int(time.time()) + 300,
    }
    values.update(overrides)
    return fake.claims(**values)


def sign_context(fake: FakeIssuer, claims: dict[str, Any]) -> str:
    """A context as Frontdesk signs it: its own ``typ`` (tests/client/test_token_kinds.py)."""
    return fake.sign(claims, header={"typ": "frontdesk-context+jwt"})


def space_fake() -> FakeIssuer:
    """One transport serving the space's issuer."""
    return FakeIssuer(SPACE_ISSUER)


def test_verify_context() -> None:
    fake = space_fake()
    with Client(CLIENT_ID, SECRET, issuer=ISSUER, transport=fake.transport()) as client:
        token = sign_context(fake, context_claims(fake, role="admin"))
        ctx = client.verify_context(token, issuer=client.issuer_for_space("co-up"), subdomain="co-up")
        assert (ctx.user_id, ctx.role, ctx.space_id, ctx.space_subdomain) == (
            "user-1",
            "admin",
            "space-1",
            "co-up",
        )
        assert ctx.is_admin and ctx.issuer == SPACE_ISSUER and ctx.client_id == CLIENT_ID
        # Several acceptable issuers (subdomain and custom domain).
        assert client.verify_context(token, issuer=["https://members.example", SPACE_ISSUER]).role == "admin"


@pytest.mark.parametrize(
    ("overrides", "kwargs", "message"),
    [
        ({}, {"issuer": ISSUER}, "issued by"),
        ({}, {"issuer": SPACE_ISSUER, "subdomain": "harbour"}, "not 'harbour'"),
        ({"aud": "another-app"}, {}, "aud"),
        ({"exp": int(time.time()) - 3600}, {}, "expired"),
        ({"role": "owner"}, {}, "role"),
        ({"space": None}, {}, "space"),
        ({"space": {"id": "x"}}, {}, "space"),
        ({"sub": None}, {}, "user"),
    ],
)
def test_context_failures(overrides: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    fake = space_fake()
    kwargs = {"issuer": SPACE_ISSUER, **kwargs}
    with (
        Client(CLIENT_ID, SECRET, issuer=ISSUER, transport=fake.transport()) as client,
        pytest.raises(ContextError, match=message),
    ):
        client.verify_context(sign_context(fake, context_claims(fake, **overrides)), **kwargs)


async def test_verify_context_async() -> None:
    fake = space_fake()
    async with AsyncClient(CLIENT_ID, SECRET, issuer=ISSUER, transport=fake.transport()) as client:
        ctx = await client.verify_context(sign_context(fake, context_claims(fake)), issuer=SPACE_ISSUER)
    assert ctx.role == "member" and not ctx.is_admin


# ---- space tokens on the wire -------------------------------------------------------------------


def test_space_token_request_and_client_id_check() -> None:
    fake = FakeIssuer()
    answer = {"scope": ["read_user"], "token": "st-1", "client_id": CLIENT_ID}
    fake.routes[("POST", "/api/access_tokens/at-1/space")] = lambda r: httpx.Response(201, json=answer)
    with fake.client() as client:
        space_token = client.space_token("at-1", "co-up")
        assert json_body(fake.requests[-1]) == {"space_id": "co-up"}
        assert fake.requests[-1].headers["authorization"] == "Bearer at-1"
        # Cobot's answer has no space fields: what the app asked for fills in.
        assert (space_token.token, space_token.space_subdomain, space_token.scope) == (
            "st-1",
            "co-up",
            ("read_user",),
        )
        answer["client_id"] = "another-app"
        with pytest.raises(ProtocolError, match="another app"):
            client.space_token("at-1", "co-up")


def test_revoke_without_a_revocation_endpoint_uses_cobots_delete() -> None:
    fake = FakeIssuer()
    fake.extra_metadata = {"revocation_endpoint": None}
    fake.routes[("DELETE", "/api/access_tokens/at-1")] = lambda r: httpx.Response(204)
    with fake.client() as client:
        client.revoke("at-1")
    assert fake.paths()[-1] == "DELETE /api/access_tokens/at-1"


def test_revoke_with_rfc7009() -> None:
    fake = FakeIssuer()
    fake.routes[("POST", "/oauth/revoke")] = lambda r: httpx.Response(200)
    with fake.client() as client:
        client.revoke("at-1", token_type_hint="access_token")
    assert fake.last_form() == {"token": "at-1", "token_type_hint": "access_token"}
    assert fake.requests[-1].headers["authorization"].startswith("Basic ")


# ---- automatic refresh in the API client --------------------------------------------------------


def expiring_fake() -> FakeIssuer:
    fake = FakeIssuer("https://www.fake.example")
    counter = {"n": 0}

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        counter["n"] += 1
        n = counter["n"]
        return httpx.Response(
            200,
            json={
                "access_token": f"at-{n}",
                "token_type": "bearer",
                "scope": "read_user",
                "expires_in": 300,
                "refresh_token": f"rt-{n}",
            },
        )

    def user(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer at-0":  # the token the test starts with
            return httpx.Response(401, headers={"www-authenticate": 'Bearer error="invalid_token"'})
        return httpx.Response(200, json={"id": "u1", "email": request.headers["authorization"]})

    fake.routes[("POST", "/oauth/access_token")] = token_endpoint
    fake.routes[("GET", "/api/user")] = user
    return fake


def start_token(expires_in: float) -> Token:
    return Token.from_response(
        {"access_token": "at-old", "token_type": "bearer", "expires_in": expires_in, "refresh_token": "rt-0"},
        issuer="https://www.fake.example",
    )


async def test_concurrent_requests_refresh_once() -> None:
    fake = expiring_fake()
    saved: list[Token] = []

    async def store(token: Token) -> None:
        await asyncio.sleep(0)
        saved.append(token)

    async with fake.async_client() as client:
        api = client.api(start_token(expires_in=5), auto_refresh=True, on_refresh=store)
        users = await asyncio.gather(*(api.get_user() for _ in range(5)))
    assert {u.email for u in users} == {"Bearer at-1"}
    assert [t.access_token for t in saved] == ["at-1"]
    assert fake.paths().count("POST /oauth/access_token") == 1


def test_a_401_refreshes_once_and_sends_again() -> None:
    fake = expiring_fake()
    saved: list[Token] = []
    with fake.client() as client:
        refused = dataclasses.replace(start_token(expires_in=300), access_token="at-0")
        api = client.api(refused, auto_refresh=True, on_refresh=saved.append)
        assert api.get_user().email == "Bearer at-1"
        assert [t.refresh_token for t in saved] == ["rt-1"]
        # Without auto_refresh the 401 is the answer.
        with pytest.raises(InvalidToken):
            client.api(refused).get_user()
    assert fake.paths().count("GET /api/user") == 3
