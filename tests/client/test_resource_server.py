"""``frontdesk.client.resource_server`` against a live Frontdesk: a platform API ("bookings",
resource ``https://bookings.example``, configured on the server with
``FRONTDESK_EXTRA_RESOURCES``) validating the tokens apps present, by introspection and as
JWT access tokens, with its Starlette/FastAPI, Flask and Django adapters."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from frontdesk.client import Client, RetryPolicy
from frontdesk.client.adapters import starlette as rs_starlette
from frontdesk.client.resource_server import (
    AsyncResourceServer,
    Challenge,
    Principal,
    ResourceServer,
    bearer_token,
)
from tests.client.conftest import AsyncLoopbackTransport, LoopbackTransport
from tests.dpop_support import DpopKey
from tests.e2e.conftest import FRONTDESK, Server, cli, free_port, server_env, start, wait_ready
from tests.support import PASSWORD, stop_process

BOOKINGS = "https://bookings.example"
SCOPES = "openid read_user read_bookings write_bookings"


@dataclass(frozen=True)
class Live:
    server: Server
    alice_id: str
    app: dict[str, Any]  # an ordinary (opaque tokens) app
    jwt_app: dict[str, Any]  # --jwt-access-tokens
    api: dict[str, Any]  # the bookings API itself: --can-introspect

    @property
    def issuer(self) -> str:
        return self.server.base

    def space_issuer(self, subdomain: str = "co-up") -> str:
        return f"http://{subdomain}.localhost:{self.server.port}"

    def token(
        self, app: dict[str, Any], scope: str = "read_user read_bookings", **extra: str
    ) -> dict[str, Any]:
        with self.server.client() as http:
            response = http.post(
                "/oauth/access_token",
                data={
                    "grant_type": "password",
                    "username": "alice@example.com",
                    "password": PASSWORD,
                    "scope": scope,
                    **extra,
                },
                auth=(app["client_id"], app["client_secret"]),
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def resource_server(self, **kwargs: Any) -> ResourceServer:
        kwargs.setdefault("retry", RetryPolicy(retries=0))
        return ResourceServer(
            issuer=self.issuer,
            resource=BOOKINGS,
            client_id=self.api["client_id"],
            client_secret=self.api["client_secret"],
            transport=LoopbackTransport(self.server.port),
            **kwargs,
        )

    def async_resource_server(self, **kwargs: Any) -> AsyncResourceServer:
        return AsyncResourceServer(
            issuer=self.issuer,
            resource=BOOKINGS,
            client_id=self.api["client_id"],
            client_secret=self.api["client_secret"],
            retry=RetryPolicy(retries=0),
            transport=AsyncLoopbackTransport(self.server.port),
            **kwargs,
        )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("resource-server")
    port = free_port()
    env = server_env(
        tmp,
        port,
        FRONTDESK_API_RATE_LIMIT="6000/minute",
        FRONTDESK_EXTRA_RESOURCES=BOOKINGS,
        FRONTDESK_PASSWORD_GRANT_FAILURES_PER_CLIENT="1000/minute",
    )
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        server = Server(port=port, base=f"http://localhost:{port}", log=tmp / "server.log", env=env)
        alice = cli(server, "users", "create", "alice@example.com", "--password", PASSWORD, "--name", "Alice")
        cli(server, "spaces", "create", "co-up", "--name", "Co-Up", "--admin", "alice@example.com")
        cli(server, "spaces", "create", "quay", "--name", "Quay", "--admin", "alice@example.com")
        common = ["--owner", "alice@example.com", "--redirect-uri", "https://app.example/cb"]
        app = cli(server, "clients", "create", "Desk Helper", *common, "--scope", SCOPES)
        jwt_app = cli(
            server, "clients", "create", "Desk JWT", *common, "--scope", SCOPES, "--jwt-access-tokens"
        )
        api = cli(
            server, "clients", "create", "Bookings API", *common, "--scope", "read_user", "--can-introspect"
        )
        yield Live(server, alice["id"], app, jwt_app, api)
    finally:
        stop_process(proc)


def revoke(live: Live, app: dict[str, Any], token: str) -> None:
    with live.server.client() as http:
        response = http.post(
            "/oauth/revoke", data={"token": token}, auth=(app["client_id"], app["client_secret"])
        )
    assert response.status_code == 200


def challenge_of(call: Any) -> Challenge:
    with pytest.raises(Challenge) as caught:
        call()
    return caught.value


# ---- introspection ------------------------------------------------------------------------------


def test_an_opaque_token_is_introspected(live: Live) -> None:
    token = live.token(live.app, resource=BOOKINGS)["access_token"]
    with live.resource_server() as rs:
        principal = rs.authenticate(token, scopes=["read_bookings"])
    assert principal.validated_by == "introspection"
    assert principal.subject == live.alice_id
    assert principal.client_id == live.app["client_id"]
    assert principal.scopes == {"read_user", "read_bookings"}
    assert principal.audience == BOOKINGS
    assert principal.space is None


def test_challenges_follow_rfc_6750(live: Live) -> None:
    token = live.token(live.app)["access_token"]
    with live.resource_server(resource_metadata=BOOKINGS + "/.well-known/oauth-protected-resource") as rs:
        missing = challenge_of(lambda: rs.authenticate(None))
        assert missing.status == 401
        assert missing.error is None
        assert missing.www_authenticate == (
            f'Bearer realm="{BOOKINGS}", resource_metadata="{BOOKINGS}/.well-known/oauth-protected-resource"'
        )
        bad = challenge_of(lambda: rs.authenticate("fdat_not-a-real-token"))
        assert bad.status == 401
        assert bad.error == "invalid_token"
        scope = challenge_of(lambda: rs.authenticate(token, scopes=["write_bookings"]))
        assert scope.status == 403
        assert scope.error == "insufficient_scope"
        assert 'scope="write_bookings"' in scope.www_authenticate
        twice = challenge_of(lambda: rs.authenticate_request(f"Bearer {token}", [("access_token", token)]))
        assert twice.status == 400
        assert twice.error == "invalid_request"


def test_a_token_for_another_resource_is_refused(live: Live) -> None:
    elsewhere = live.token(live.app, resource=live.space_issuer())["access_token"]
    unbound = live.token(live.app)["access_token"]
    with live.resource_server() as rs:
        assert challenge_of(lambda: rs.authenticate(elsewhere)).error == "invalid_token"
        assert rs.authenticate(unbound).audience is None
    with live.resource_server(require_audience=True) as strict:
        assert challenge_of(lambda: strict.authenticate(unbound)).error == "invalid_token"


def test_a_revoked_token_is_refused_once_the_cache_lets_go(live: Live) -> None:
    token = live.token(live.app)["access_token"]
    with live.resource_server(cache_ttl=0) as rs:
        assert rs.authenticate(token).subject == live.alice_id
        revoke(live, live.app, token)
        assert challenge_of(lambda: rs.authenticate(token)).error == "invalid_token"


def test_the_introspection_answer_is_cached(live: Live) -> None:
    token = live.token(live.app)["access_token"]
    with live.resource_server(cache_ttl=3600) as rs:
        rs.authenticate(token)
        revoke(live, live.app, token)
        # Within the cache's lifetime the answer stands; clearing the cache asks again.
        assert rs.authenticate(token).subject == live.alice_id
        rs.clear_cache()
        assert challenge_of(lambda: rs.authenticate(token)).error == "invalid_token"


def test_the_space_of_a_space_token_is_checked(live: Live) -> None:
    user_token = live.token(live.app, scope="read_user read_bookings")["access_token"]
    with Client(
        live.app["client_id"],
        live.app["client_secret"],
        issuer=live.issuer,
        transport=LoopbackTransport(live.server.port),
        retry=RetryPolicy(retries=0),
    ) as client:
        space_token = client.space_token(user_token, "co-up").token
    with live.resource_server() as rs:
        assert rs.authenticate(space_token, space="co-up").space == "co-up"
        other = challenge_of(lambda: rs.authenticate(space_token, space="quay"))
        assert other.status == 403
        # A user token is not bound to a space (the API checks membership itself).
        assert rs.authenticate(user_token, space="quay").space is None


# ---- JWT access tokens --------------------------------------------------------------------------


def test_a_jwt_access_token_is_verified_without_asking_the_server(live: Live) -> None:
    body = live.token(live.jwt_app, scope="openid read_bookings", resource=BOOKINGS)
    token = body["access_token"]
    with live.resource_server() as rs:
        principal = rs.authenticate(token, scopes=["read_bookings"])
        assert principal.validated_by == "jwt"
        assert principal.subject == live.alice_id
        assert principal.audience == BOOKINGS
        # Revocation reaches a JWT-validating server only at expiry; introspection sees it now.
        revoke(live, live.jwt_app, token)
        assert rs.authenticate(token).subject == live.alice_id
    with live.resource_server(jwt=False) as introspecting:
        assert challenge_of(lambda: introspecting.authenticate(token)).error == "invalid_token"


def test_other_jwts_are_not_access_tokens(live: Live) -> None:
    body = live.token(live.jwt_app, scope="openid read_bookings", resource=BOOKINGS)
    header, claims, signature = body["access_token"].split(".")
    with live.resource_server() as rs:
        # The ID token is signed with the same keys: its typ (JWT) is not at+jwt (RFC 9068 §4).
        assert "typ" in challenge_of(lambda: rs.authenticate(body["id_token"])).description
        forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        forged_claims["scope"] = "read_bookings write_bookings"
        forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
        assert (
            challenge_of(lambda: rs.authenticate(f"{header}.{forged}.{signature}")).error == "invalid_token"
        )
        elsewhere = live.token(live.jwt_app, resource=live.space_issuer())["access_token"]
        assert "another resource" in challenge_of(lambda: rs.authenticate(elsewhere)).description


async def test_the_async_server_behaves_the_same(live: Live) -> None:
    opaque = live.token(live.app, resource=BOOKINGS)["access_token"]
    signed = live.token(live.jwt_app, resource=BOOKINGS)["access_token"]
    async with live.async_resource_server() as rs:
        assert (await rs.authenticate(opaque)).validated_by == "introspection"
        assert (await rs.authenticate(signed)).validated_by == "jwt"
        with pytest.raises(Challenge) as caught:
            await rs.authenticate(opaque, scopes=["write_bookings"])
        assert caught.value.status == 403


def test_bearer_token_reads_rfc_6750_places() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token(None, [("access_token", "q")]) == "q"
    assert bearer_token(None, [], [("access_token", "f")]) == "f"
    assert bearer_token(None, [("access_token", "q")], allow_query=False) is None
    with pytest.raises(Challenge):
        bearer_token("Bearer a b")


# ---- adapters -----------------------------------------------------------------------------------


async def test_the_starlette_and_fastapi_adapters(live: Live) -> None:
    rs = live.async_resource_server()

    @rs_starlette.requires_token(rs, "read_bookings")
    async def starlette_bookings(request: Request) -> JSONResponse:
        principal: Principal = request.state.principal
        return JSONResponse({"user": principal.subject})

    starlette_app = Starlette(routes=[Route("/bookings", starlette_bookings)])

    fastapi_app = FastAPI()
    rs_starlette.install(fastapi_app)

    @fastapi_app.get("/spaces/{space}/bookings")
    async def fastapi_bookings(
        principal: Principal = Depends(rs_starlette.require(rs, "read_bookings", space_param="space")),
    ) -> dict[str, Any]:
        return {"user": principal.subject, "space": principal.space}

    token = live.token(live.app, resource=BOOKINGS)["access_token"]
    weak = live.token(live.app, scope="read_user", resource=BOOKINGS)["access_token"]
    for app, path in ((starlette_app, "/bookings"), (fastapi_app, "/spaces/co-up/bookings")):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
            ok = await http.get(path, headers={"authorization": f"Bearer {token}"})
            assert ok.status_code == 200, ok.text
            assert ok.json()["user"] == live.alice_id
            by_query = await http.get(path, params={"access_token": token})
            assert by_query.status_code == 200
            none = await http.get(path)
            assert none.status_code == 401
            assert none.headers["www-authenticate"] == f'Bearer realm="{BOOKINGS}"'
            scope = await http.get(path, headers={"authorization": f"Bearer {weak}"})
            assert scope.status_code == 403
            assert scope.json()["error"] == "insufficient_scope"
            bad = await http.get(path, headers={"authorization": "Bearer nope"})
            assert bad.status_code == 401
            assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    await rs.aclose()


def flask_bookings(rs: Any) -> Any:
    """A Flask app whose ``/bookings`` answers the principal's subject and key thumbprint."""
    flask = pytest.importorskip("flask")
    from frontdesk.client.adapters import flask as rs_flask

    app = flask.Flask("bookings")

    @app.get("/bookings")
    @rs_flask.requires_token(rs, "read_bookings")
    def bookings() -> Any:
        return {"user": flask.g.principal.subject, "jkt": flask.g.principal.dpop_jkt}

    return app


def test_the_flask_adapter(live: Live) -> None:
    rs = live.resource_server()
    app = flask_bookings(rs)
    token = live.token(live.app, resource=BOOKINGS)["access_token"]
    http = app.test_client()
    ok = http.get("/bookings", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert ok.get_json() == {"user": live.alice_id, "jkt": None}
    refused = http.get("/bookings")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == f'Bearer realm="{BOOKINGS}"'
    rs.close()


def django_parts() -> tuple[Any, Any, Any]:
    """Django configured for a view test: JsonResponse, RequestFactory and the adapter."""
    pytest.importorskip("django")
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], DEFAULT_CHARSET="utf-8")
    from django.http import JsonResponse
    from django.test import RequestFactory

    from frontdesk.client.adapters import django as rs_django

    return JsonResponse, RequestFactory, rs_django


def test_the_django_adapter(live: Live) -> None:
    JsonResponse, RequestFactory, rs_django = django_parts()
    rs = live.resource_server()

    @rs_django.requires_token(rs, "read_bookings")
    def bookings(request: Any) -> Any:
        return JsonResponse({"user": request.principal.subject})

    token = live.token(live.app, resource=BOOKINGS)["access_token"]
    factory = RequestFactory()
    ok = bookings(factory.get("/bookings", HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert ok.status_code == 200
    assert json.loads(ok.content) == {"user": live.alice_id}
    refused = bookings(factory.get("/bookings", HTTP_AUTHORIZATION="Bearer nope"))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    rs.close()


# ---- DPoP-bound tokens (RFC 9449 §7) -----------------------------------------------------------


def dpop_token(live: Live, app: dict[str, Any], key: DpopKey) -> str:
    with live.server.client() as http:
        response = http.post(
            "/oauth/access_token",
            data={
                "grant_type": "password",
                "username": "alice@example.com",
                "password": PASSWORD,
                "scope": "read_user read_bookings",
                "resource": BOOKINGS,
            },
            auth=(app["client_id"], app["client_secret"]),
            headers={"dpop": key.proof(htu=live.issuer + "/oauth/access_token")},
        )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    token: str = response.json()["access_token"]
    return token


@pytest.mark.rfc("9449 7.1")
@pytest.mark.parametrize("kind", ["jwt", "introspection"])
def test_a_bound_token_needs_a_proof_of_its_key(live: Live, kind: str) -> None:
    key = DpopKey()
    token = dpop_token(live, live.jwt_app if kind == "jwt" else live.app, key)
    url = BOOKINGS + "/bookings?page=2"
    with live.resource_server() as rs:

        def call(authorization: str, proof: str | None, method: str = "GET") -> Principal:
            return rs.authenticate_request(authorization, dpop=proof, method=method, url=url)

        principal = call(f"DPoP {token}", key.proof("GET", BOOKINGS + "/bookings", token=token))
        assert principal.validated_by == kind
        assert principal.dpop_jkt == key.jkt
        assert principal.scopes == {"read_user", "read_bookings"}
        as_bearer = challenge_of(lambda: call(f"Bearer {token}", None))
        assert as_bearer.status == 401
        assert as_bearer.error == "invalid_token"
        assert as_bearer.www_authenticate.startswith("DPoP ")
        assert 'algs="ES256' in as_bearer.www_authenticate
        assert challenge_of(lambda: rs.authenticate(token)).error == "invalid_token"
        proof = key.proof("GET", BOOKINGS + "/bookings", token=token)
        assert call(f"DPoP {token}", proof).dpop_jkt == key.jkt
        bad = {
            "replayed": proof,
            "another key": DpopKey().proof("GET", BOOKINGS + "/bookings", token=token),
            "another url": key.proof("GET", BOOKINGS + "/rooms", token=token),
            "no ath": key.proof("GET", BOOKINGS + "/bookings"),
            "no proof": None,
        }
        for case, value in bad.items():
            refused = challenge_of(lambda value=value: call(f"DPoP {token}", value))  # type: ignore[misc]
            assert refused.status == 401, case
            assert refused.error == "invalid_dpop_proof", case
        assert challenge_of(lambda: call(f"DPoP {token}", key.proof("POST", url, token=token))).error == (
            "invalid_dpop_proof"
        )


@pytest.mark.rfc("9449 7.1")
def test_an_unbound_token_with_the_dpop_scheme_is_refused(live: Live) -> None:
    token = live.token(live.app)["access_token"]
    key = DpopKey()
    url = BOOKINGS + "/bookings"
    with live.resource_server() as rs:
        refused = challenge_of(
            lambda: rs.authenticate_request(
                f"DPoP {token}", dpop=key.proof("GET", url, token=token), method="GET", url=url
            )
        )
        assert refused.error == "invalid_token"
        assert rs.authenticate_request(f"Bearer {token}").dpop_jkt is None


@pytest.mark.rfc("9449 7.1")
async def test_the_starlette_adapter_checks_dpop_proofs(live: Live) -> None:
    rs = live.async_resource_server()

    @rs_starlette.requires_token(rs, "read_bookings")
    async def bookings(request: Request) -> JSONResponse:
        principal: Principal = request.state.principal
        return JSONResponse({"user": principal.subject, "jkt": principal.dpop_jkt})

    app = Starlette(routes=[Route("/bookings", bookings)])
    key = DpopKey()
    token = dpop_token(live, live.jwt_app, key)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        proof = key.proof("GET", "http://api/bookings", token=token)
        ok = await http.get("/bookings", headers={"authorization": f"DPoP {token}", "dpop": proof})
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"user": live.alice_id, "jkt": key.jkt}
        replay = await http.get("/bookings", headers={"authorization": f"DPoP {token}", "dpop": proof})
        assert replay.status_code == 401
        assert replay.json()["error"] == "invalid_dpop_proof"
        as_bearer = await http.get("/bookings", headers={"authorization": f"Bearer {token}"})
        assert as_bearer.status_code == 401
        assert as_bearer.headers["www-authenticate"].startswith("DPoP ")
    await rs.aclose()


@pytest.mark.rfc("9449 7.1")
def test_the_flask_adapter_checks_dpop_proofs(live: Live) -> None:
    rs = live.resource_server()
    app = flask_bookings(rs)
    key = DpopKey()
    token = dpop_token(live, live.jwt_app, key)
    http = app.test_client()
    proof = key.proof("GET", "http://api.test/bookings", token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    ok = http.get("/bookings?page=2", base_url="http://api.test", headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.get_json() == {"user": live.alice_id, "jkt": key.jkt}
    replay = http.get("/bookings", base_url="http://api.test", headers=headers)
    assert replay.status_code == 401
    assert replay.get_json()["error"] == "invalid_dpop_proof"
    elsewhere = key.proof("GET", "http://api.test/rooms", token=token)
    wrong_url = http.get("/bookings", base_url="http://api.test", headers={**headers, "DPoP": elsewhere})
    assert wrong_url.status_code == 401
    assert wrong_url.get_json()["error"] == "invalid_dpop_proof"
    as_bearer = http.get(
        "/bookings", base_url="http://api.test", headers={"Authorization": f"Bearer {token}"}
    )
    assert as_bearer.status_code == 401
    assert as_bearer.headers["WWW-Authenticate"].startswith("DPoP ")
    rs.close()


@pytest.mark.rfc("9449 7.1")
def test_the_django_adapter_checks_dpop_proofs(live: Live) -> None:
    JsonResponse, RequestFactory, rs_django = django_parts()
    rs = live.resource_server()

    @rs_django.requires_token(rs, "read_bookings")
    def bookings(request: Any) -> Any:
        return JsonResponse({"user": request.principal.subject, "jkt": request.principal.dpop_jkt})

    key = DpopKey()
    token = dpop_token(live, live.jwt_app, key)
    factory = RequestFactory(HTTP_HOST="api.test")
    proof = key.proof("POST", "http://api.test/bookings", token=token)
    auth = {"HTTP_AUTHORIZATION": f"DPoP {token}"}
    ok = bookings(factory.post("/bookings?page=2", HTTP_DPOP=proof, **auth))
    assert ok.status_code == 200, ok.content
    assert json.loads(ok.content) == {"user": live.alice_id, "jkt": key.jkt}
    replay = bookings(factory.post("/bookings", HTTP_DPOP=proof, **auth))
    assert replay.status_code == 401
    assert json.loads(replay.content)["error"] == "invalid_dpop_proof"
    as_get = bookings(
        factory.get("/bookings", HTTP_DPOP=key.proof("POST", "http://api.test/bookings", token=token), **auth)
    )
    assert as_get.status_code == 401  # the proof is for POST (htm)
    assert json.loads(as_get.content)["error"] == "invalid_dpop_proof"
    as_bearer = bookings(factory.get("/bookings", HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert as_bearer.status_code == 401
    assert as_bearer["WWW-Authenticate"].startswith("DPoP ")
    rs.close()
