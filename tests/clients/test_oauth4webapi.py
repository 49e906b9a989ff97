"""oauth4webapi, a certified OAuth 2 / OpenID Connect client for JavaScript, drives Frontdesk
unmodified: the scripts in tests/clients/js use its own API (discovery, PKCE, pushed
authorization requests, request objects, DPoP, private_key_jwt, the device grant, client
credentials, refresh, introspection) against a real ``frontdesk serve``, on the main host and
on a space's host. The person's part (logging in, pressing Approve, entering a user code) is
played by a plain HTTP client here.

Only the transport is ours: oauth4webapi's ``customFetch`` option gets a fetch that connects
to 127.0.0.1 and names the URL's host (``<subdomain>.localhost`` does not resolve here), see
tests/clients/js/support.mjs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey

from tests.clients.conftest import SERVER_SETTINGS, ScriptRun, run_script, serve
from tests.e2e.conftest import Server, Visitor, cli, form_fields, unique
from tests.support import PASSWORD

pytestmark = pytest.mark.e2e

REDIRECT_URI = "https://app.example/auth/callback"
SCOPE = "openid email read_user"
# The app asks for its tokens to expire, so it gets refresh tokens (project decision 5).
TTL = ["--access-token-ttl", "3600"]


# ---- where the client runs: the main host or a space's host -----------------------------------


@dataclass(frozen=True)
class Place:
    """A host of the server (the main host, or a space's when ``subdomain`` is set) with the
    people the tests there need: a member who approves apps (never the same app twice: every
    test registers its own) and a developer who owns them and is the admin of ``space``
    (``subdomain``'s space, or one of their own on the main host)."""

    server: Server
    host: str
    subdomain: str | None
    person: str
    developer: str
    space: str

    @property
    def issuer(self) -> str:
        return self.server.url(self.host)

    def url(self, path: str) -> str:
        return self.issuer + path

    def http(self) -> httpx.Client:
        return self.server.client(self.host)


def new_person(server: Server) -> str:
    email = f"{unique('person')}@example.com"
    cli(server, "users", "create", email, "--password", PASSWORD)
    return email


def make_place(server: Server, kind: str) -> Place:
    """The main host, or a new space's host (its admin: the developer; the person: a member)."""
    person, developer = new_person(server), new_person(server)
    space = unique("sp")
    cli(server, "spaces", "create", space, "--name", "Client Space", "--admin", developer)
    cli(server, "members", "add", space, person)
    if kind == "main":
        return Place(server, "localhost", None, person, developer, space)
    return Place(server, f"{space}.localhost", space, person, developer, space)


@pytest.fixture(scope="module", params=["main", "space"])
def place(server: Server, request: pytest.FixtureRequest) -> Place:
    return make_place(server, request.param)


@pytest.fixture
def person(place: Place) -> str:
    return place.person


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str | None


def register(place: Place, *options: str, scope: str = SCOPE) -> App:
    """An app registered with the CLI, owned by the place's developer."""
    created = cli(
        place.server,
        *("clients", "create", unique("app"), "--owner", place.developer),
        *("--redirect-uri", REDIRECT_URI, "--scope", scope),
        *options,
    )
    return App(created["client_id"], created.get("client_secret"))


def secret_auth(app: App, method: str = "client_secret_basic") -> dict[str, Any]:
    return {"method": method, "secret": app.client_secret}


# ---- the person's part ------------------------------------------------------------------------


def approves(place: Place, email: str) -> Any:
    """The person's browser on the authorization URL the script printed: log in, approve;
    answers the script with the callback URL."""

    def on_event(event: dict[str, Any]) -> dict[str, Any]:
        assert event["event"] == "authorize", event
        url = event["url"]
        assert url.startswith(place.url("/oauth/authorize?")), url
        with Visitor(place.server, place.host) as browser:
            response = browser.get(url)
            assert response.status_code == 303, response.text
            back = browser.login(email, page=response.headers["location"]).headers["location"]
            consent = browser.page(back).text
            fields = form_fields(consent, "/oauth/authorize")
            response = browser.http.post("/oauth/authorize", data={**fields, "decision": "approve"})
        assert response.status_code == 303, response.text
        callback = response.headers["location"]
        assert callback.startswith(REDIRECT_URI + "?"), callback
        return {"callback": callback}

    return on_event


def code_flow(node: str, place: Place, email: str, config: dict[str, Any]) -> ScriptRun:
    """Run the authorization code script with the defaults of this module."""
    full = {
        "issuer": place.issuer,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "resource_url": place.url("/api/user"),
        **config,
    }
    return run_script(node, "authorization_code.mjs", full, approves(place, email))


def introspect(place: Place, app: App, token: str) -> dict[str, Any]:
    """RFC 7662, as the app itself asks (an app may introspect its own tokens)."""
    assert app.client_secret
    with place.http() as http:
        response = http.post(
            "/oauth/introspect", data={"token": token}, auth=(app.client_id, app.client_secret)
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


def requests_to(result: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The requests the client sent to ``path`` (any host), in order."""
    return [e for e in result["exchanges"] if urlsplit(e["url"]).path == path]


def form_of(exchange: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(exchange["request_body"] or "").items()}


# ---- the authorization code flow with PKCE --------------------------------------------------


@pytest.mark.rfc("6749 4.1")
@pytest.mark.rfc("7636 4.3")
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authorization_code_with_pkce(node: str, place: Place, person: str, method: str) -> None:
    app = register(place)
    config = {"client_id": app.client_id, "auth": secret_auth(app, method)}
    result = code_flow(node, place, person, config).result
    assert result["token_response"]["token_type"] == "bearer"
    assert result["resource"]["status"] == 200
    assert result["resource"]["body"]["email"] == person
    claims = result["id_token_claims"]
    assert claims["iss"] == place.issuer
    assert claims["aud"] == app.client_id
    assert claims["email"] == person
    (token_request,) = requests_to(result, "/oauth/access_token")
    form = form_of(token_request)
    assert form["code_verifier"]
    assert ("client_secret" in form) is (method == "client_secret_post")


@pytest.mark.rfc("7636 4.3")
@pytest.mark.rfc("8252 8.4")
def test_a_public_app_with_pkce(node: str, place: Place, person: str) -> None:
    app = register(place, "--public")
    result = code_flow(node, place, person, {"client_id": app.client_id, "auth": {"method": "none"}}).result
    assert result["resource"]["status"] == 200
    assert result["resource"]["body"]["email"] == person


@pytest.mark.rfc("6749 6")
def test_refresh(node: str, place: Place, person: str) -> None:
    app = register(place, *TTL)
    config = {"client_id": app.client_id, "auth": secret_auth(app), "refresh": True}
    result = code_flow(node, place, person, config).result
    first, refreshed = result["token_response"], result["refreshed_response"]
    assert refreshed["access_token"] != first["access_token"]
    assert result["resource_after_refresh"]["status"] == 200
    assert result["resource_after_refresh"]["body"]["email"] == person
    # Refresh tokens rotate: the first one is spent.
    with place.http() as http:
        again = http.post(
            "/oauth/access_token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            auth=(app.client_id, app.client_secret or ""),
        )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


# ---- client credentials -------------------------------------------------------------------


@pytest.mark.rfc("6749 4.4")
def test_client_credentials(node: str, place: Place) -> None:
    app = register(place, "--client-credentials")
    config = {
        "issuer": place.issuer,
        "client_id": app.client_id,
        "auth": secret_auth(app),
        "scope": "read_user",
        "resource_url": place.url("/api/user"),
    }
    result = run_script(node, "client_credentials.mjs", config).result
    assert result["token_response"]["token_type"] == "bearer"
    assert "refresh_token" not in result["token_response"]
    introspection = result["introspection"]
    assert introspection["active"] is True
    assert introspection["sub"] == app.client_id
    assert introspection["iss"] == place.issuer
    # The token acts for no person: /api/user answers it 403 (docs/integrating.md).
    assert result["resource"]["status"] == 403


@pytest.mark.rfc("6749 4.4")
def test_client_credentials_for_the_admin_api(node: str, server: Server) -> None:
    main = Place(server, "localhost", None, "", new_person(server), "")
    created = cli(
        server,
        *("clients", "create", unique("admin-app"), "--owner", main.developer),
        *("--admin-scopes", "admin:users:read"),
    )
    config = {
        "issuer": main.issuer,
        "client_id": created["client_id"],
        "auth": {"method": "client_secret_basic", "secret": created["client_secret"]},
        "scope": "admin:users:read",
        "resource_url": main.url("/api/admin/users"),
    }
    result = run_script(node, "client_credentials.mjs", config).result
    assert result["token_response"]["scope"] == "admin:users:read"
    assert result["resource"]["status"] == 200


# ---- keys for private_key_jwt and request objects -------------------------------------------


def new_key(alg: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new signing key: (private JWK for the script, public JWK Set to register)."""
    if alg == "ES256":
        key: ECKey | RSAKey = ECKey.generate_key("P-256", private=True)
    else:
        key = RSAKey.generate_key(2048, private=True)
    kid = unique("key")
    private = {**key.as_dict(private=True), "alg": alg, "kid": kid}
    public = {**key.as_dict(private=False), "alg": alg, "kid": kid, "use": "sig"}
    return private, {"keys": [public]}


def dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def bearer_status(place: Place, path: str, token: str) -> int:
    """The status of a GET with the token sent as a plain Bearer token (RFC 6750 §2.1)."""
    with place.http() as http:
        return http.get(path, headers={"authorization": f"Bearer {token}"}).status_code


# ---- pushed authorization requests (RFC 9126) and request objects (RFC 9101) -----------------

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


@pytest.mark.rfc("9126 2.1")
@pytest.mark.rfc("9126 4")
def test_pushed_authorization_request(node: str, place: Place, person: str) -> None:
    app = register(place, "--par-required")
    run = code_flow(node, place, person, {"client_id": app.client_id, "auth": secret_auth(app), "par": True})
    result = run.result
    assert result["pushed"]["request_uri"].startswith(REQUEST_URI_PREFIX)
    assert result["pushed"]["expires_in"] == 60
    (pushed,) = requests_to(result, "/oauth/par")
    assert pushed["status"] == 201
    assert form_of(pushed)["code_challenge_method"] == "S256"
    # The browser saw only the client id and the reference (§4).
    authorization_url = run.events[0]["url"]
    assert set(parse_qs(urlsplit(authorization_url).query)) == {"client_id", "request_uri"}
    assert result["resource"]["status"] == 200
    assert result["resource"]["body"]["email"] == person


@pytest.mark.rfc("9126 2.2")
def test_a_pushed_request_is_used_once(node: str, place: Place, person: str) -> None:
    app = register(place)
    run = code_flow(node, place, person, {"client_id": app.client_id, "auth": secret_auth(app), "par": True})
    assert run.result["resource"]["status"] == 200
    with Visitor(place.server, place.host) as browser:
        browser.login(person)
        again = browser.get(run.events[0]["url"])
    # Used up: no second consent page and no code for the app.
    assert again.status_code == 400
    assert "code=" not in again.headers.get("location", "")


# ---- private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9) --------------------------------

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def key_app(place: Place, alg: str, *options: str) -> tuple[App, dict[str, Any]]:
    """An app that authenticates with private_key_jwt; the test keeps its private key."""
    private, public = new_key(alg)
    app = register(place, "--private-key-jwt", "--jwks", dump(public), *TTL, *options)
    assert app.client_secret is None
    return app, {"method": "private_key_jwt", "jwk": private}


@pytest.mark.rfc("7523 2.2")
@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_private_key_jwt(node: str, place: Place, person: str, alg: str) -> None:
    app, auth = key_app(place, alg)
    config = {"client_id": app.client_id, "auth": auth, "refresh": True}
    result = code_flow(node, place, person, config).result
    assert result["resource"]["status"] == 200
    assert result["resource"]["body"]["email"] == person
    assert result["resource_after_refresh"]["status"] == 200
    for exchange in requests_to(result, "/oauth/access_token"):
        form = form_of(exchange)
        assert form["client_assertion_type"] == ASSERTION_TYPE
        assert "client_secret" not in form


@pytest.mark.rfc("7523 2.2")
@pytest.mark.rfc("7662 2.1")
def test_private_key_jwt_client_credentials(node: str, place: Place) -> None:
    app, auth = key_app(place, "ES256", "--client-credentials")
    config = {"issuer": place.issuer, "client_id": app.client_id, "auth": auth, "scope": "read_user"}
    result = run_script(node, "client_credentials.mjs", config).result
    # oauth4webapi authenticated at the introspection endpoint with an assertion too.
    assert result["introspection"]["active"] is True
    assert result["introspection"]["sub"] == app.client_id
    (introspection,) = requests_to(result, "/oauth/introspect")
    assert form_of(introspection)["client_assertion_type"] == ASSERTION_TYPE


@pytest.mark.rfc("9101 4")
@pytest.mark.rfc("9126 3")
def test_a_signed_request_object_inside_a_pushed_request(node: str, place: Place, person: str) -> None:
    app, auth = key_app(place, "ES256")
    config = {"client_id": app.client_id, "auth": auth, "par": True, "jar": True}
    result = code_flow(node, place, person, config).result
    (pushed,) = requests_to(result, "/oauth/par")
    assert set(form_of(pushed)) == {"client_id", "request", "client_assertion", "client_assertion_type"}
    assert result["resource"]["status"] == 200
    assert result["id_token_claims"]["email"] == person


@pytest.mark.rfc("7591 3.1")
@pytest.mark.rfc("7523 2.2")
def test_an_app_registers_its_keys_dynamically(node: str, place: Place, person: str) -> None:
    """oauth4webapi registers a private_key_jwt app with its JWK Set and DPoP-bound tokens,
    then runs the flow with it."""
    private, public = new_key("ES256")
    metadata = {
        "client_name": unique("dynamic"),
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": SCOPE,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": public,
        "dpop_bound_access_tokens": True,
    }
    auth = {"method": "private_key_jwt", "jwk": private}
    config = {"register": metadata, "auth": auth, "dpop": True}
    result = code_flow(node, place, person, config).result
    registered = result["registered"]
    assert registered["token_endpoint_auth_method"] == "private_key_jwt"
    assert "client_secret" not in registered
    assert registered["jwks"] == public
    assert result["token_response"]["token_type"] == "DPoP"
    assert result["resource"]["status"] == 200
    assert result["resource"]["body"]["email"] == person


# ---- DPoP (RFC 9449) ------------------------------------------------------------------------


@pytest.mark.rfc("9449 5")
@pytest.mark.rfc("9449 7.1")
def test_dpop_bound_tokens(node: str, place: Place, person: str) -> None:
    app = register(place, *TTL)
    config = {"client_id": app.client_id, "auth": secret_auth(app), "dpop": True, "refresh": True}
    result = code_flow(node, place, person, config).result
    token = result["token_response"]
    assert token["token_type"] == "DPoP"
    assert result["resource"]["status"] == 200
    assert result["resource"]["body"]["email"] == person
    assert introspect(place, app, token["access_token"])["cnf"] == {"jkt": result["dpop_jkt"]}
    # §7.1: a DPoP-bound token is no Bearer token.
    assert bearer_status(place, "/api/user", token["access_token"]) == 401
    # §5: the refresh request carried a proof too, so the new access token is bound as well.
    assert result["refreshed_response"]["token_type"] == "DPoP"
    assert result["resource_after_refresh"]["status"] == 200
    refreshed = result["refreshed_response"]["access_token"]
    assert introspect(place, app, refreshed)["cnf"] == {"jkt": result["dpop_jkt"]}


@pytest.mark.rfc("9068 4")
@pytest.mark.rfc("9449 6.1")
@pytest.mark.rfc("9449 7")
def test_a_resource_server_validates_a_dpop_bound_jwt_access_token(
    node: str, place: Place, person: str
) -> None:
    """oauth4webapi as the resource server: the JWT access token (RFC 9068) the client sent,
    verified with the host's JWKS, is bound to the key of the DPoP proof beside it."""
    app = register(place, "--jwt-access-tokens")
    config = {
        "client_id": app.client_id,
        "auth": secret_auth(app),
        "dpop": True,
        "validate_jwt_access_token": True,
    }
    result = code_flow(node, place, person, config).result
    claims = result["jwt_access_token_claims"]
    assert claims["iss"] == place.issuer
    assert claims["aud"] == place.issuer
    assert claims["client_id"] == app.client_id
    assert claims["cnf"] == {"jkt": result["dpop_jkt"]}
    assert result["resource"]["status"] == 200


@pytest.mark.rfc("9449 5")
def test_a_public_apps_refresh_token_is_bound_to_its_dpop_key(node: str, place: Place, person: str) -> None:
    app = register(place, "--public", *TTL)
    config = {"client_id": app.client_id, "auth": {"method": "none"}, "dpop": True, "refresh": True}
    result = code_flow(node, place, person, config).result
    assert result["refreshed_response"]["token_type"] == "DPoP"
    assert result["resource_after_refresh"]["status"] == 200
    # Without the key the current refresh token is worth nothing (§5: a public client's
    # refresh tokens are bound).
    with place.http() as http:
        stolen = http.post(
            "/oauth/access_token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": result["refreshed_response"]["refresh_token"],
                "client_id": app.client_id,
            },
        )
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_dpop_proof"


@pytest.mark.rfc("9449 5")
def test_dpop_client_credentials(node: str, place: Place) -> None:
    app = register(place, "--client-credentials", "--dpop-required")
    config = {
        "issuer": place.issuer,
        "client_id": app.client_id,
        "auth": secret_auth(app),
        "scope": "read_user",
        "dpop": True,
    }
    result = run_script(node, "client_credentials.mjs", config).result
    assert result["token_response"]["token_type"] == "DPoP"
    assert result["introspection"]["cnf"] == {"jkt": result["dpop_jkt"]}


@pytest.fixture(scope="module")
def nonce_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that asks for DPoP nonces (RFC 9449 §8, §9), on SQLite."""
    yield from serve(tmp_path_factory.mktemp("clients-nonce"), **SERVER_SETTINGS, FRONTDESK_DPOP_NONCE="1")


@pytest.mark.rfc("9449 8")
@pytest.mark.rfc("9449 9")
@pytest.mark.parametrize("host", ["main", "space"])
def test_dpop_nonces(node: str, nonce_server: Server, host: str) -> None:
    """oauth4webapi keeps the nonce the server sends with `use_dpop_nonce` and retries."""
    place = make_place(nonce_server, host)
    person = place.person
    app = register(place, *TTL)
    config = {"client_id": app.client_id, "auth": secret_auth(app), "dpop": True, "refresh": True}
    result = code_flow(node, place, person, config).result
    first_try, second_try, refresh = requests_to(result, "/oauth/access_token")
    assert "nonce" not in proof_claims(first_try)
    assert first_try["status"] == 400
    assert json.loads(first_try["response_body"])["error"] == "use_dpop_nonce"
    assert proof_claims(second_try)["nonce"] == first_try["response_headers"]["dpop-nonce"]
    assert second_try["status"] == 200
    assert result["token_response"]["token_type"] == "DPoP"
    assert refresh["status"] == 200
    # The API takes the same server's nonces (oauth/dpop.py): the kept one works there at once.
    for resource in requests_to(result, "/api/user"):
        assert proof_claims(resource)["nonce"]
        assert resource["status"] == 200
    assert result["resource"]["body"]["email"] == person


def proof_claims(exchange: dict[str, Any]) -> dict[str, Any]:
    """The claims of the DPoP proof a request carried (not verified: the server did that)."""
    payload = exchange["request_headers"]["dpop"].split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# ---- the device authorization grant (RFC 8628) ----------------------------------------------


def enters_code(place: Place, email: str, decision: str = "approve") -> Any:
    """The person: after the device's first poll was told to wait, they open the verification
    URI it showed (with the code in it), log in, confirm the code and approve (or deny)."""
    shown: dict[str, Any] = {}

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "device":
            shown.update(event)
            return
        assert event["event"] == "poll", event
        if shown.get("done") or event["error"] != "authorization_pending":
            return
        url = shown["verification_uri_complete"]
        with Visitor(place.server, place.host) as browser:
            response = browser.get(url)
            assert response.status_code == 303, response.text
            back = browser.login(email, page=response.headers["location"]).headers["location"]
            entered = browser.submit(back, "/device", {"user_code": shown["user_code"]})
            assert entered.status_code == 200, entered.text
            fields = form_fields(entered.text, "/device/decide")
            decided = browser.http.post("/device/decide", data={**fields, "decision": decision})
        assert decided.status_code == 200, decided.text
        shown["done"] = True

    return on_event


@pytest.mark.rfc("8628 3.1")
@pytest.mark.rfc("8628 3.4")
@pytest.mark.rfc("8628 3.5")
@pytest.mark.parametrize("kind", ["confidential", "public", "dpop"])
def test_device_flow(node: str, place: Place, person: str, kind: str) -> None:
    app = register(place, "--public") if kind == "public" else register(place)
    config = {
        "issuer": place.issuer,
        "client_id": app.client_id,
        "auth": {"method": "none"} if kind == "public" else secret_auth(app),
        "scope": "read_user",
        "resource_url": place.url("/api/user"),
        "dpop": kind == "dpop",
    }
    run = run_script(node, "device_code.mjs", config, enters_code(place, person))
    result = run.result
    device = result["device_response"]
    assert device["verification_uri"] == place.url("/device")
    assert device["verification_uri_complete"].startswith(place.url("/device?"))
    assert result["polls"][0] == "authorization_pending"
    assert result["resource"]["status"] == 200
    assert result["resource"]["body"]["email"] == person
    token = result["token_response"]
    assert token["token_type"] == ("DPoP" if kind == "dpop" else "bearer")
    if app.client_secret:
        introspection = introspect(place, app, token["access_token"])
        assert introspection["iss"] == place.issuer
        assert introspection["username"] == person


@pytest.mark.rfc("8628 3.5")
def test_a_denied_device_gets_access_denied(node: str, place: Place, person: str) -> None:
    app = register(place)
    config = {
        "issuer": place.issuer,
        "client_id": app.client_id,
        "auth": secret_auth(app),
        "scope": "read_user",
        "resource_url": place.url("/api/user"),
    }
    run = run_script(node, "device_code.mjs", config, enters_code(place, person, "deny"))
    # oauth4webapi stops polling with the server's answer (a ResponseBodyError).
    assert run.error["error"] == "access_denied"
    assert run.error["status"] == 400


# ---- token exchange (RFC 8693) --------------------------------------------------------------

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.mark.rfc("8693 2.1")
@pytest.mark.rfc("8693 2.2.1")
@pytest.mark.parametrize("naming", ["audience", "resource"])
def test_token_exchange_for_a_space_token(node: str, place: Place, naming: str) -> None:
    """An admin of a space approves the app; the app exchanges her token for the space's
    (project decision 13: ``audience=<subdomain>`` or ``resource=<the space's issuer>``)."""
    app = register(place)
    space_issuer = place.server.url(f"{place.space}.localhost")
    exchange = {
        naming: place.space if naming == "audience" else space_issuer,
        "resource_url": space_issuer + "/api/user",
    }
    config = {"client_id": app.client_id, "auth": secret_auth(app), "exchange": exchange}
    result = code_flow(node, place, place.developer, config).result
    exchanged = result["exchanged_response"]
    assert exchanged["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert exchanged["token_type"] == "bearer"
    assert "refresh_token" not in exchanged
    introspection = introspect(place, app, exchanged["access_token"])
    assert introspection["space"] == place.space
    assert introspection["username"] == place.developer
    assert result["resource_after_exchange"]["status"] == 200
    assert result["resource_after_exchange"]["body"]["email"] == place.developer


@pytest.mark.rfc("8693 2.1")
def test_token_exchange_for_a_narrower_token(node: str, place: Place, person: str) -> None:
    app = register(place)
    exchange = {"scope": "read_user", "resource_url": place.url("/api/user")}
    config = {"client_id": app.client_id, "auth": secret_auth(app), "exchange": exchange}
    result = code_flow(node, place, person, config).result
    exchanged = result["exchanged_response"]
    assert exchanged["scope"] == "read_user"
    introspection = introspect(place, app, exchanged["access_token"])
    assert introspection["scope"] == "read_user"
    assert introspection["username"] == person
    assert "space" not in introspection
    assert result["resource_after_exchange"]["status"] == 200


@pytest.mark.rfc("8693 2.1")
@pytest.mark.rfc("9449 5")
def test_token_exchange_keeps_the_dpop_binding(node: str, place: Place, person: str) -> None:
    app = register(place)
    exchange = {"scope": "read_user", "resource_url": place.url("/api/user")}
    config = {"client_id": app.client_id, "auth": secret_auth(app), "dpop": True, "exchange": exchange}
    result = code_flow(node, place, person, config).result
    exchanged = result["exchanged_response"]
    assert exchanged["token_type"] == "DPoP"
    assert introspect(place, app, exchanged["access_token"])["cnf"] == {"jkt": result["dpop_jkt"]}
    assert result["resource_after_exchange"]["status"] == 200
    assert bearer_status(place, "/api/user", exchanged["access_token"]) == 401


# ---- everything at once: the strictest client -------------------------------------------------


@pytest.mark.rfc("9126 2.1")
@pytest.mark.rfc("9449 5")
@pytest.mark.rfc("7523 2.2")
def test_pushed_signed_dpop_bound_with_key_authentication(node: str, place: Place, person: str) -> None:
    """What a FAPI 2.0 client does: PAR with a request object, PKCE, private_key_jwt, DPoP,
    rotating refresh tokens; the app requires PAR and DPoP."""
    app, auth = key_app(place, "PS256", "--par-required", "--dpop-required")
    config = {
        "client_id": app.client_id,
        "auth": auth,
        "par": True,
        "jar": True,
        "dpop": True,
        "refresh": True,
    }
    result = code_flow(node, place, person, config).result
    assert result["token_response"]["token_type"] == "DPoP"
    assert result["refreshed_response"]["token_type"] == "DPoP"
    assert result["resource_after_refresh"]["status"] == 200
    assert result["resource_after_refresh"]["body"]["email"] == person
    assert result["id_token_claims"]["iss"] == place.issuer


# ---- the FAPI 2.0 Security Profile switch -----------------------------------------------------


@pytest.mark.rfc("9126 2.1")
@pytest.mark.rfc("9449 5")
def test_a_fapi2_app(node: str, place: Place, person: str) -> None:
    """An app under the FAPI 2.0 profile (``--fapi2``), driven the way oauth4webapi's FAPI 2.0
    clients run: PAR, PKCE, private_key_jwt, DPoP, rotating refresh tokens."""
    app, auth = key_app(place, "ES256", "--fapi2")
    config = {"client_id": app.client_id, "auth": auth, "par": True, "dpop": True, "refresh": True}
    result = code_flow(node, place, person, config).result
    assert result["token_response"]["token_type"] == "DPoP"
    assert result["refreshed_response"]["token_type"] == "DPoP"
    assert result["resource_after_refresh"]["status"] == 200
    assert result["resource_after_refresh"]["body"]["email"] == person


@pytest.mark.rfc("9449 5")
def test_a_fapi2_app_without_dpop_is_refused(node: str, place: Place, person: str) -> None:
    app, auth = key_app(place, "ES256", "--fapi2")
    run = code_flow(node, place, person, {"client_id": app.client_id, "auth": auth, "par": True})
    assert run.error["error"] == "invalid_dpop_proof"
    assert run.error["status"] == 400
