"""Fetching an app's ``jwks_uri`` (services/client_keys.py) from a real HTTP server on
127.0.0.1: the cache, the refetch for a rotated key, the timeout, the size cap, the checks of
what was fetched, and the address checks shared with webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from frontdesk.oauth.models import Client
from frontdesk.services.client_keys import MAX_BYTES, REFRESH_SECONDS, ClientKeys
from tests.keys_support import JwksServer, ec_key, jwks
from tests.support import make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[JwksServer]:
    with JwksServer() as running:
        running.publish(ec_key("k1"))
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


def keys(
    clock: Clock, *, allow_private: bool = True, allow_http: bool = True, timeout: float = 2
) -> ClientKeys:
    return ClientKeys(
        cache_seconds=300,
        timeout_seconds=timeout,
        allow_private=allow_private,
        allow_http=allow_http,
        clock=clock,
    )


def app(uri: str) -> Client:
    return Client(
        client_id="app-1",
        name="App",
        redirect_uris=(),
        scopes=(),
        token_endpoint_auth_method="private_key_jwt",
        jwks_uri=uri,
    )


def kids(text: str | None) -> list[str]:
    assert text is not None
    return [k["kid"] for k in json.loads(text)["keys"]]


async def test_inline_keys_need_no_fetch(clock: Clock) -> None:
    registered = jwks(ec_key("inline"))
    client = Client(client_id="c", name="C", redirect_uris=(), scopes=(), jwks=registered)
    assert await keys(clock).client_keys(client) == registered
    plain = Client(client_id="d", name="D", redirect_uris=(), scopes=())
    assert await keys(clock).client_keys(plain) is None


async def test_fetched_once_then_cached_until_the_ttl(server: JwksServer, clock: Clock) -> None:
    store = keys(clock)
    assert kids(await store.client_keys(app(server.url))) == ["k1"]
    assert kids(await store.client_keys(app(server.url))) == ["k1"]
    assert server.hits == 1
    server.publish(ec_key("k2"))
    clock.now += 301
    assert kids(await store.client_keys(app(server.url))) == ["k2"]
    assert server.hits == 2


async def test_a_rotated_key_is_fetched_at_once_but_not_too_often(server: JwksServer, clock: Clock) -> None:
    store = keys(clock)
    await store.client_keys(app(server.url))
    server.publish(ec_key("k1"), ec_key("k2"))
    assert kids(await store.refresh_client_keys(app(server.url))) == ["k1", "k2"]
    assert server.hits == 2
    # Another unknown kid within the minute: the set is not fetched again.
    clock.now += REFRESH_SECONDS - 1
    assert kids(await store.refresh_client_keys(app(server.url))) == ["k1", "k2"]
    assert server.hits == 2
    clock.now += 2
    await store.refresh_client_keys(app(server.url))
    assert server.hits == 3


async def test_a_failed_fetch_keeps_the_last_good_set(server: JwksServer, clock: Clock) -> None:
    store = keys(clock)
    await store.client_keys(app(server.url))
    server.status = 500
    clock.now += 301
    assert kids(await store.client_keys(app(server.url))) == ["k1"]
    assert server.hits == 2


async def test_a_slow_server_times_out(server: JwksServer, clock: Clock) -> None:
    server.delay = 1.5
    started = time.monotonic()
    assert await keys(clock, timeout=0.3).client_keys(app(server.url)) is None
    assert time.monotonic() - started < 1.4


async def test_a_large_answer_is_refused(server: JwksServer, clock: Clock) -> None:
    server.body = b'{"keys": [' + b" " * (MAX_BYTES + 1) + b"]}"
    assert await keys(clock).client_keys(app(server.url)) is None


async def test_a_private_key_at_the_uri_is_refused(server: JwksServer, clock: Clock) -> None:
    server.body = json.dumps({"keys": [ec_key("p").as_dict(private=True)]}).encode()
    assert await keys(clock).client_keys(app(server.url)) is None


async def test_a_private_address_is_refused_unless_allowed(server: JwksServer, clock: Clock) -> None:
    assert await keys(clock, allow_private=False).client_keys(app(server.url)) is None
    assert server.hits == 0


async def test_plain_http_only_when_allowed(server: JwksServer, clock: Clock) -> None:
    assert await keys(clock, allow_http=False).client_keys(app(server.url)) is None
    assert server.hits == 0


def test_the_settings_allow_http_in_development_only() -> None:
    development = ClientKeys.from_settings(make_settings("sqlite+aiosqlite:///x.db"))
    assert development.allow_http and not development.allow_private
    production = ClientKeys.from_settings(
        make_settings("sqlite+aiosqlite:///x.db", env="production", public_url="https://id.example")
    )
    assert not production.allow_http and not production.allow_private
