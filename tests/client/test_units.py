"""Pure parts of frontdesk.client: configuration, models, parsing, error mapping, API parity."""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
from datetime import UTC, datetime

import httpx
import pytest

import frontdesk.client as fc
from frontdesk import __version__
from frontdesk.client import (
    ApiError,
    AsyncApiClient,
    AsyncClient,
    ClientConfig,
    ConfigurationError,
    Forbidden,
    InsufficientScope,
    InvalidGrant,
    InvalidToken,
    NavigationLink,
    NavigationLinkSpec,
    NotFound,
    OAuthError,
    RateLimited,
    ServerError,
    SpaceToken,
    Token,
    User,
    issuer_for_space,
    normalize_issuer,
)
from frontdesk.client._oauth import callback_params, scope_tuple
from frontdesk.client._sansio import error_for, parse_bearer_challenge
from frontdesk.client.sync import ApiClient, Client


@pytest.mark.parametrize(
    ("main", "subdomain", "expected"),
    [
        ("http://localhost:8000", "co-up", "http://co-up.localhost:8000"),
        ("https://www.cobot.me", "co-up", "https://co-up.cobot.me"),
        ("https://example.com/", "Harbour", "https://harbour.example.com"),
        ("https://www.example.com:8443", "a1", "https://a1.example.com:8443"),
    ],
)
def test_issuer_for_space(main: str, subdomain: str, expected: str) -> None:
    assert issuer_for_space(main, subdomain) == expected


@pytest.mark.parametrize("bad", ["", "-x", "a.b", "x_y", "é"])
def test_issuer_for_space_refuses_non_labels(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        issuer_for_space("https://www.example.com", bad)


@pytest.mark.parametrize(
    "bad",
    [
        "example.com",
        "ftp://example.com",
        "https://example.com/x",
        "https://u:p@example.com",
        "https://e.com?a",
    ],
)
def test_normalize_issuer_refuses(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        normalize_issuer(bad)


def test_config_defaults() -> None:
    cfg = ClientConfig(client_id="c", issuer="https://www.example.com/", client_secret="s")
    assert cfg.issuer == "https://www.example.com"
    assert cfg.auth_method == "client_secret_basic"
    assert cfg.user_agent == f"frontdesk-client/{__version__}"
    assert cfg.http.retry.retries == 2
    assert ClientConfig(client_id="c", issuer="https://e.com").auth_method == "none"
    with pytest.raises(ConfigurationError):
        ClientConfig(client_id="", issuer="https://e.com")
    with pytest.raises(ConfigurationError):
        ClientConfig(client_id="c", issuer="https://e.com", token_endpoint_auth_method="private_key_jwt")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        fc.RetryPolicy(retries=-1)


def test_scope_tuple() -> None:
    assert scope_tuple("a  b a") == ("a", "b")
    assert scope_tuple(["a", "b c"]) == ("a", "b", "c")
    assert scope_tuple(None) == ()


def test_callback_params() -> None:
    assert callback_params("https://app/cb?code=c&state=s") == {"code": "c", "state": "s"}
    assert callback_params("?code=c&state=s%20t") == {"code": "c", "state": "s t"}
    assert callback_params("code=c") == {"code": "c"}
    assert callback_params(httpx.URL("https://app/cb?code=c")) == {"code": "c"}
    assert callback_params({"code": "c"}) == {"code": "c"}
    assert callback_params([("code", "c")]) == {"code": "c"}


def test_token_models() -> None:
    token = Token.from_response(
        {"access_token": "a", "token_type": "Bearer", "scope": "x y", "expires_in": 60, "refresh_token": "r"},
        issuer="https://e.com",
        now=1000.0,
    )
    assert token.scope == ("x", "y")
    assert token.expires_at == datetime.fromtimestamp(1060, UTC)
    assert token.expires_in(now=1030.0) == 30.0 and token.is_expired(now=1061.0)
    stored = json.loads(json.dumps(token.to_dict()))
    assert Token.from_dict(stored) == token
    with pytest.raises(fc.ProtocolError):
        Token.from_response({"access_token": "a", "token_type": "mac"})
    with pytest.raises(fc.ProtocolError):
        Token.from_response({"token_type": "bearer"})
    with pytest.raises(fc.ProtocolError):
        Token.from_response({"access_token": "a", "token_type": "bearer", "expires_in": "soon"})
    forever = Token.from_response({"access_token": "a", "token_type": "bearer"}, requested_scope=("q",))
    assert forever.scope == ("q",) and forever.expires_in() is None and not forever.is_expired(leeway=1e9)
    space = SpaceToken.from_json(
        {"token": "t", "scope": ["a"], "client_id": "c", "space_id": "s1", "space_subdomain": "co-up"}
    )
    assert SpaceToken.from_dict(space.to_dict()) == space
    assert "'t'" not in repr(space)


def test_api_models() -> None:
    user = User.from_json(
        {
            "id": "u1",
            "email": "a@example.com",
            "memberships": [
                {"id": "m", "space_subdomain": "b", "space_name": "B", "space_link": "l", "link": "k"}
            ],
            "admin_of": [{"space_subdomain": "a", "space_name": "A", "space_link": "l", "name": "Boss"}],
        }
    )
    assert user.is_admin_of("a") and user.is_member_of("a") and user.is_member_of("b")
    assert not user.is_admin_of("b") and user.name == ""
    link = NavigationLink.from_json(
        {
            "section": "members",
            "label": "L",
            "iframe_url": "https://x/",
            "url": "https://s/api/navigation_links/42",
        }
    )
    assert link.id == "42" and link.user_editable is True
    assert link.matches(NavigationLinkSpec("members", "other label", "https://x/"))
    assert not link.matches(NavigationLinkSpec("admin", "L", "https://x/"))


def test_bearer_challenge() -> None:
    assert parse_bearer_challenge(
        'Bearer realm="r", error="insufficient_scope", error_description="needs \\"x\\"", scope="read_x"'
    ) == {"realm": "r", "error": "insufficient_scope", "error_description": 'needs "x"', "scope": "read_x"}
    assert parse_bearer_challenge('Basic realm="x"') == {}
    assert parse_bearer_challenge("Bearer") == {}
    assert parse_bearer_challenge("Bearer error=invalid_token") == {"error": "invalid_token"}


def response(status: int, body: object = None, **headers: str) -> httpx.Response:
    kwargs = {"json": body} if body is not None else {}
    return httpx.Response(
        status, headers=headers, request=httpx.Request("GET", "https://e.com/api/x"), **kwargs
    )


def test_error_mapping() -> None:
    err = error_for(
        response(401, {"error": "invalid_token"}, **{"www-authenticate": 'Bearer error="invalid_token"'})
    )
    assert isinstance(err, InvalidToken) and err.status == 401
    err = error_for(response(401, {"error": "A valid access token must be passed"}))  # Cobot's body
    assert isinstance(err, InvalidToken)
    err = error_for(
        response(
            403, None, **{"www-authenticate": 'Bearer error="insufficient_scope", scope="read_memberships"'}
        )
    )
    assert isinstance(err, InsufficientScope) and err.scope == "read_memberships"
    err = error_for(response(403, {"error": "forbidden", "error_description": "not an admin"}))
    assert (
        isinstance(err, Forbidden) and not isinstance(err, OAuthError) and err.description == "not an admin"
    )
    assert isinstance(error_for(response(404, {"error": "not_found"})), NotFound)
    err = error_for(response(429, {"error": "too_many_requests"}, **{"retry-after": "7"}))
    assert isinstance(err, RateLimited) and err.retry_after == 7.0
    assert isinstance(error_for(response(500)), ServerError)
    err = error_for(
        response(400, {"error": "invalid_grant", "error_description": "gone"}), oauth_endpoint=True
    )
    assert isinstance(err, InvalidGrant) and str(err) == "400 invalid_grant: gone"
    err = error_for(response(400, {"error": "weird_error"}), oauth_endpoint=True)
    assert type(err) is OAuthError and err.error == "weird_error"
    err = error_for(response(422, {"error": "invalid_request", "error_description": "label: too long"}))
    assert type(err) is ApiError and err.status == 422
    err = error_for(httpx.Response(400, text="oops", request=httpx.Request("GET", "https://e.com")))
    assert type(err) is ApiError and err.body == "oops"


def test_sync_and_async_offer_the_same_api() -> None:
    for sync_cls, async_cls in ((Client, AsyncClient), (ApiClient, AsyncApiClient)):
        sync_api = {n: m for n, m in vars(sync_cls).items() if not n.startswith("_")}
        async_api = {n: m for n, m in vars(async_cls).items() if not n.startswith("_")}
        assert set(sync_api) - {"close"} == set(async_api) - {"aclose"}
        for name, member in sync_api.items():
            if name == "close":
                continue
            other = async_api[name]
            if isinstance(member, property | classmethod):
                continue
            assert list(inspect.signature(member).parameters) == list(inspect.signature(other).parameters), (
                name
            )
            io = "_run(" in inspect.getsource(member)
            assert inspect.iscoroutinefunction(other) == io, name


def test_all_is_complete() -> None:
    assert sorted(fc.__all__) == sorted(set(fc.__all__))
    for name in fc.__all__:
        assert hasattr(fc, name), name


@pytest.mark.parametrize(
    "module",
    ["frontdesk.client", "frontdesk.client.config", "frontdesk.client.models", "frontdesk.client.errors",
     "frontdesk.client._sansio", "frontdesk.client.sync", "frontdesk.client.aio"],
)  # fmt: skip
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_user_agent_and_accept_headers_on_the_wire() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "s", "subdomain": "co-up", "url": "https://co-up.e.com"})

    with ApiClient(
        "tok", base="https://www.e.com", transport=httpx.MockTransport(handler), user_agent="app/1"
    ) as api:
        assert api.get_space("co-up").subdomain == "co-up"
    assert seen[0].headers["user-agent"] == "app/1" and seen[0].headers["accept"] == "application/json"
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert str(seen[0].url) == "https://www.e.com/api/spaces/co-up"
    with pytest.raises(ConfigurationError):
        ApiClient("", base="https://www.e.com")
    with pytest.raises(ConfigurationError):
        ApiClient("t", base="https://www.e.com", auto_refresh=True)
