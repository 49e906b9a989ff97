"""The client library's device authorization grant (RFC 8628): ``device_authorization()`` and
``poll_device()``, sans-IO (the polling schedule, with a scripted server) and against a real
``frontdesk serve`` (devices poll every second there, tests/client/conftest.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from typing import Any

import httpx
import pytest

from frontdesk.client import (
    AccessDenied,
    ApiClient,
    ClientConfig,
    DeviceAuthorization,
    DeviceCodeExpired,
    InvalidGrant,
)
from frontdesk.client._oauth import DEVICE_CODE_GRANT, OAuthCore
from frontdesk.client._sansio import Send, Sleep
from tests.client.conftest import Browser, LoopbackTransport, World, form_fields

ISSUER = "https://desk.example"
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/oauth/authorize",
    "token_endpoint": f"{ISSUER}/oauth/access_token",
    "device_authorization_endpoint": f"{ISSUER}/oauth/device_authorization",
}


# ---- sans-IO: what is sent and how long it waits -------------------------------------------------


def drive(op: Any, answers: list[tuple[int, dict[str, Any]]]) -> tuple[Any, list[float], list[httpx.Request]]:
    """Run ``op``: metadata for discovery, then ``answers`` for the other requests in order;
    returns the result (or the exception), the waits and the requests sent."""
    sleeps: list[float] = []
    sent: list[httpx.Request] = []
    outcome: Any = None
    pending = list(answers)
    try:
        while True:
            command = op.send(outcome)
            if isinstance(command, Sleep):
                sleeps.append(command.seconds)
                outcome = None
            elif isinstance(command, Send):
                request = command.request
                sent.append(request)
                status, body = (
                    (200, METADATA) if request.url.path.startswith("/.well-known") else pending.pop(0)
                )
                outcome = httpx.Response(status, content=json.dumps(body).encode(), request=request)
            else:
                raise AssertionError(f"unexpected command {command!r}")
    except StopIteration as stop:
        return stop.value, sleeps, sent
    except Exception as exc:  # the test looks at it
        return exc, sleeps, sent


def core() -> OAuthCore:
    return OAuthCore(ClientConfig(client_id="door-reader", issuer=ISSUER))


def authorization(**changes: Any) -> DeviceAuthorization:
    found = DeviceAuthorization.from_response(
        {
            "device_code": "fddc_secret",
            "user_code": "WDJB-MJHT",
            "verification_uri": f"{ISSUER}/device",
            "verification_uri_complete": f"{ISSUER}/device?user_code=WDJB-MJHT",
            "expires_in": 600,
            "interval": 5,
        },
        issuer=ISSUER,
        scope=("read_user",),
    )
    return dataclasses.replace(found, **changes)


TOKEN = {"access_token": "fdat_x", "token_type": "bearer", "scope": "read_user"}


@pytest.mark.rfc("8628 3.1")
def test_device_authorization_posts_client_id_and_scope() -> None:
    result, _, sent = drive(
        core().device_authorization("read_user"),
        [
            (
                200,
                {
                    "device_code": "fddc_d",
                    "user_code": "WDJB-MJHT",
                    "verification_uri": f"{ISSUER}/device",
                    "expires_in": 600,
                },
            )
        ],
    )
    assert isinstance(result, DeviceAuthorization)
    assert (result.user_code, result.interval, result.issuer) == ("WDJB-MJHT", 5, ISSUER)  # §3.2 default 5
    assert "fddc_d" not in repr(result)
    assert sent[-1].url == f"{ISSUER}/oauth/device_authorization"
    assert sent[-1].content == b"scope=read_user&client_id=door-reader"


@pytest.mark.rfc("8628 3.5")
def test_polling_keeps_the_interval_and_slows_down_by_five_seconds() -> None:
    answers = [
        (400, {"error": "authorization_pending"}),
        (400, {"error": "slow_down"}),
        (400, {"error": "authorization_pending"}),
        (400, {"error": "slow_down"}),
        (200, TOKEN),
    ]
    result, sleeps, sent = drive(core().poll_device(authorization()), answers)
    assert result.access_token == "fdat_x"
    assert sleeps == [5, 5, 10, 10, 15]
    form = dict(httpx.QueryParams(sent[-1].content.decode()))
    assert form == {"grant_type": DEVICE_CODE_GRANT, "device_code": "fddc_secret", "client_id": "door-reader"}


@pytest.mark.rfc("8628 3.5")
def test_denied_and_expired_stop_with_their_exceptions() -> None:
    denied, _, _ = drive(core().poll_device(authorization()), [(400, {"error": "access_denied"})])
    assert isinstance(denied, AccessDenied)
    expired, _, _ = drive(core().poll_device(authorization()), [(400, {"error": "expired_token"})])
    assert isinstance(expired, DeviceCodeExpired)
    assert expired.error == "expired_token"
    # Out of time by its own count: no request after expires_in has passed.
    waited, sleeps, sent = drive(
        core().poll_device(authorization(expires_in=12)), [(400, {"error": "authorization_pending"})] * 5
    )
    assert isinstance(waited, DeviceCodeExpired)
    assert sleeps == [5, 5]
    assert len([r for r in sent if r.url.path == "/oauth/access_token"]) == 2


# ---- against a real server ----------------------------------------------------------------------


def play_person(browser: Browser, uri: str, decision: str) -> None:
    """The person opens verification_uri_complete (logging in), continues with the prefilled
    code, and approves or denies on the consent page."""
    page = browser.open(uri)
    assert page.status_code == 200, page.text
    host = httpx.URL(uri).host
    http = browser.http(host)
    code = dict(httpx.URL(uri).params)["user_code"]
    consent = http.post("/device", data={**form_fields(page.text, "/device"), "user_code": code})
    assert consent.status_code == 200, consent.text
    done = http.post(
        "/device/decide", data={**form_fields(consent.text, "/device/decide"), "decision": decision}
    )
    assert done.status_code == 200, done.text


@pytest.mark.e2e
def test_a_door_reader_signs_in_with_the_device_grant(world: World, bob_browser: Browser) -> None:
    with world.client(world.public_app) as client:
        started = client.device_authorization("read_user openid")
        assert started.verification_uri == f"{world.issuer}/device"
        assert started.interval == 1
        assert started.verification_uri_complete is not None
        with world.server.client() as http:
            qr = http.get(httpx.URL(started.qr_code_url).raw_path.decode())
        assert qr.headers["content-type"].startswith("image/svg+xml")
        # The person approves while the device is polling (authorization_pending first).
        person = threading.Timer(
            2.5, play_person, (bob_browser, started.verification_uri_complete, "approve")
        )
        person.start()
        try:
            token = client.poll_device(started)
        finally:
            person.join()
        assert token.id_token_claims is not None
        with ApiClient(token, base=world.issuer, transport=LoopbackTransport(world.port)) as api:
            assert api.get_user().email == world.bob
        with pytest.raises(InvalidGrant):
            client.poll_device(dataclasses.replace(started, interval=1))


@pytest.mark.e2e
async def test_a_denied_device_async_in_a_space(world: World, alice_browser: Browser) -> None:
    async with world.async_client(world.public_app) as client:
        started = await client.device_authorization("read_user", issuer=world.space_issuer())
        assert started.verification_uri == f"{world.space_issuer()}/device"
        assert started.verification_uri_complete is not None
        await asyncio.to_thread(play_person, alice_browser, started.verification_uri_complete, "deny")
        with pytest.raises(AccessDenied):
            await client.poll_device(started)
