"""Retries: idempotent requests only (never POST), on connection errors and 502/503/504, with
Retry-After honoured on 429/503 — sync and async run the same code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from frontdesk.client import (
    ApiClient,
    AsyncApiClient,
    Client,
    RateLimited,
    RetryPolicy,
    ServerError,
    TransportError,
)
from frontdesk.client._sansio import retry_after_seconds, retry_delay

BASE = "https://www.fake.example"
USER = {"id": "u1", "email": "u@example.com", "name": "U", "memberships": [], "admin_of": []}
Step = httpx.Response | type[Exception]


class Script:
    """Answers requests from a list of steps (a response, or an exception class to raise)."""

    def __init__(self, *steps: Step) -> None:
        self.steps: Iterator[Step] = iter(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = next(self.steps)
        if isinstance(step, httpx.Response):
            return step
        raise step("scripted failure", request=request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def ok() -> httpx.Response:
    return httpx.Response(200, json=USER)


def api(script: Script, **policy: Any) -> tuple[ApiClient, list[float]]:
    slept: list[float] = []
    client = ApiClient("tok", base=BASE, transport=script.transport, retry=RetryPolicy(**policy))
    client._driver.sleep = slept.append  # white-box: record the waits instead of sleeping
    return client, slept


def test_get_is_retried_on_503_and_connection_errors() -> None:
    script = Script(httpx.Response(503), httpx.ConnectError, ok())
    client, slept = api(script)
    assert client.get_user().id == "u1"
    assert len(script.requests) == 3
    assert slept == [0.2, 0.4]  # backoff 0.2 s, doubled


def test_retries_are_limited() -> None:
    script = Script(httpx.Response(502), httpx.Response(504), httpx.Response(503, json={"error": "busy"}))
    client, slept = api(script, retries=2, backoff=0)
    with pytest.raises(ServerError) as caught:
        client.get_user()
    assert caught.value.status == 503 and caught.value.error == "busy"
    assert len(script.requests) == 3 and slept == [0.0, 0.0]
    script = Script(httpx.ReadTimeout, httpx.ReadTimeout, httpx.ReadTimeout)
    client, _ = api(script, backoff=0)
    with pytest.raises(TransportError):
        client.get_user()
    assert len(script.requests) == 3


def test_post_is_never_retried() -> None:
    script = Script(httpx.Response(503))
    client, _ = api(script)
    with pytest.raises(ServerError):
        client.post("/api/things", {"a": 1})
    assert len(script.requests) == 1
    script = Script(httpx.ConnectError)
    client, _ = api(script)
    with pytest.raises(TransportError):
        client.create_navigation_link("co-up", "members", "L", "https://app.example/")
    assert len(script.requests) == 1
    script = Script(httpx.Response(429, headers={"retry-after": "1"}))
    client, slept = api(script)
    with pytest.raises(RateLimited) as caught:
        client.post("/api/things")
    assert caught.value.retry_after == 1.0 and slept == [] and len(script.requests) == 1


def test_token_endpoint_posts_are_never_retried() -> None:
    calls: list[str] = []
    metadata = {
        "issuer": BASE,
        "authorization_endpoint": f"{BASE}/oauth/authorize",
        "token_endpoint": f"{BASE}/oauth/access_token",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            return httpx.Response(200, json=metadata)
        raise httpx.ConnectError("down", request=request)

    with (
        Client("id", "secret", issuer=BASE, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(TransportError),
    ):
        client.password_grant("u@example.com", "pw", "read_user")
    assert calls == ["GET /.well-known/openid-configuration", "POST /oauth/access_token"]


def test_delete_and_put_are_retried() -> None:
    script = Script(httpx.Response(502), httpx.Response(204))
    client, _ = api(script, backoff=0)
    client.delete_navigation_link("co-up", "link-1")
    assert [r.method for r in script.requests] == ["DELETE", "DELETE"]
    assert str(script.requests[0].url) == "https://co-up.fake.example/api/navigation_links/link-1"
    script = Script(httpx.ConnectError, httpx.Response(200, json={}))
    client, _ = api(script, backoff=0)
    assert client.put("/api/things/1", {"a": 1}) == {}
    assert len(script.requests) == 2 and script.requests[1].content == b'{"a":1}'


def test_retry_after_is_honoured_for_idempotent_requests() -> None:
    script = Script(
        httpx.Response(429, headers={"retry-after": "3"}),
        httpx.Response(503, headers={"retry-after": "1"}),
        ok(),
    )
    client, slept = api(script)
    assert client.get_user().id == "u1"
    assert slept == [3.0, 1.0]


def test_a_long_retry_after_is_not_slept_through() -> None:
    script = Script(httpx.Response(429, json={"error": "too_many_requests"}, headers={"retry-after": "60"}))
    client, slept = api(script)  # max_retry_after defaults to 10 s
    with pytest.raises(RateLimited) as caught:
        client.get_user()
    assert caught.value.retry_after == 60.0 and caught.value.error == "too_many_requests"
    assert slept == [] and len(script.requests) == 1
    script = Script(httpx.Response(429))  # no Retry-After: nothing to go by, no retry
    client, slept = api(script)
    with pytest.raises(RateLimited):
        client.get_user()
    assert slept == []


def test_no_retries_when_switched_off() -> None:
    script = Script(httpx.Response(503))
    client, _ = api(script, retries=0)
    with pytest.raises(ServerError):
        client.get_user()
    assert len(script.requests) == 1


async def test_async_retries_the_same_way() -> None:
    script = Script(httpx.Response(503), httpx.ConnectError, ok())
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    async with AsyncApiClient("tok", base=BASE, transport=script.transport) as client:
        client._driver.sleep = record
        assert (await client.get_user()).id == "u1"
        assert slept == [0.2, 0.4]
    post = Script(httpx.Response(503))
    async with AsyncApiClient("tok", base=BASE, transport=post.transport) as client:
        with pytest.raises(ServerError):
            await client.post("/api/things")
    assert len(post.requests) == 1


@pytest.mark.parametrize(
    ("method", "outcome", "expected"),
    [
        ("GET", httpx.Response(503), 0.2),
        ("HEAD", httpx.Response(502), 0.2),
        ("OPTIONS", httpx.Response(504), 0.2),
        ("GET", httpx.Response(500), None),  # a plain 500 is a bug, not a blip
        ("GET", httpx.Response(404), None),
        ("POST", httpx.Response(503), None),
        ("PATCH", httpx.Response(503), None),
        ("GET", httpx.ConnectError("x"), 0.2),
        ("GET", httpx.UnsupportedProtocol("x"), None),
        ("POST", httpx.ConnectError("x"), None),
        ("GET", httpx.Response(503, headers={"retry-after": "5"}), 5.0),
        ("GET", httpx.Response(429, headers={"retry-after": "0"}), 0.2),
        ("GET", httpx.Response(429, headers={"retry-after": "11"}), None),
    ],
)
def test_retry_delay(method: str, outcome: Any, expected: float | None) -> None:
    assert retry_delay(RetryPolicy(), method, 0, outcome) == expected
    assert retry_delay(RetryPolicy(), method, 2, outcome) is None  # retries used up


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(retries=10, backoff=1, max_backoff=3)
    assert [policy.delay(n) for n in range(4)] == [1, 2, 3, 3]
