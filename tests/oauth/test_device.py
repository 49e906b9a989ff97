"""The device authorization grant (RFC 8628) through the app: the device authorization
endpoint (§3.1–§3.2), the person's side at /device (§3.3, §5.1, §5.4), polling the token
endpoint (§3.4–§3.5), on the main host and on a space's host."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdesk.oauth.device import USER_CODE_ALPHABET
from frontdesk.services import spaces
from frontdesk.store.models import DeviceAuthorization
from tests.oauth_support import TOKEN_URL, RegisteredApp, assert_no_store, basic, register_app
from tests.support import Browser, csrf_from

DEVICE_URL = "/oauth/device_authorization"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CODE_RE = re.compile(rf"^[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}$")
AGENT = "DoorReader/2.1 (Linux; armv7l)"


@pytest.fixture
async def public_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name="Door Reader", public=True, scopes="read_user openid")


async def ask(
    client: Browser | httpx.AsyncClient, app: RegisteredApp, *, secret: bool = True, **data: str
) -> httpx.Response:
    """The device's request (§3.1): Basic for a confidential app, client_id for a public one."""
    headers = {"user-agent": AGENT}
    if app.client_secret and secret:
        headers.update(basic(app.client_id, app.client_secret))
    else:
        data = {"client_id": app.client_id, **data}
    return await client.post(DEVICE_URL, data=data, headers=headers)


async def poll(client: Browser | httpx.AsyncClient, app: RegisteredApp, device_code: str) -> httpx.Response:
    data = {"grant_type": GRANT, "device_code": device_code}
    if app.client_secret:
        return await client.post(TOKEN_URL, data=data, headers=basic(app.client_id, app.client_secret))
    return await client.post(TOKEN_URL, data={**data, "client_id": app.client_id})


async def enter(browser: Browser, user_code: str, **headers: str) -> httpx.Response:
    """The person types the code on /device (logged in)."""
    page = await browser.get("/device", headers=headers)
    assert page.status_code == 200, page.text
    return await browser.post(
        "/device", data={"user_code": user_code, "csrf_token": csrf_from(page.text)}, headers=headers
    )


async def decide(browser: Browser, consent_page: httpx.Response, decision: str = "approve") -> httpx.Response:
    form = consent_page.text.split('action="/device/decide"', 1)[1]
    code = re.search(r'name="user_code" value="([^"]+)"', form)
    assert code is not None
    data = {"user_code": code.group(1), "decision": decision, "csrf_token": csrf_from(form)}
    return await browser.post("/device/decide", data=data)


def move_clock(state: Any, seconds: float) -> None:
    """Move the token endpoint's and the /device page's clocks ``seconds`` from now."""
    later = state.oauth.config.clock() + timedelta(seconds=seconds)
    state.oauth.token.config = dataclasses.replace(state.oauth.token.config, clock=lambda: later)
    verification = state.oauth.device_verification
    verification.config = dataclasses.replace(verification.config, clock=lambda: later)


# ---- the device authorization endpoint (§3.1, §3.2) -------------------------------------------


@pytest.mark.rfc("8628 3.1")
@pytest.mark.rfc("8628 3.2")
async def test_a_public_client_gets_codes_as_in_the_rfc_example(
    browser: Browser, public_app: RegisteredApp
) -> None:
    response = await ask(browser, public_app, scope="read_user")
    assert response.status_code == 200
    assert_no_store(response)
    body = response.json()
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert body["device_code"].startswith("fddc_")
    assert CODE_RE.match(body["user_code"])
    assert body["verification_uri"] == "http://localhost:8000/device"
    assert body["verification_uri_complete"] == f"http://localhost:8000/device?user_code={body['user_code']}"
    assert body["expires_in"] == 600
    assert body["interval"] == 5


@pytest.mark.rfc("8628 3.1")
async def test_a_confidential_client_authenticates(browser: Browser, registered: RegisteredApp) -> None:
    assert (await ask(browser, registered)).status_code == 200
    without = await ask(browser, registered, secret=False)
    assert without.status_code == 401
    assert without.json()["error"] == "invalid_client"
    wrong = await browser.post(DEVICE_URL, headers=basic(registered.client_id, "fdcs_wrong"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"


async def test_an_unknown_app_is_invalid_client(browser: Browser) -> None:
    response = await browser.post(DEVICE_URL, data={"client_id": "no-such-app"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.rfc("8628 3.1")
async def test_scopes_are_checked_against_the_app(browser: Browser, public_app: RegisteredApp) -> None:
    response = await ask(browser, public_app, scope="write_user")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    unknown = await ask(browser, public_app, scope="no_such_scope")
    assert unknown.json()["error"] == "invalid_scope"


async def test_only_post(browser: Browser) -> None:
    response = await browser.get(DEVICE_URL)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_codes_are_stored_as_digests_only(browser: Browser, public_app: RegisteredApp, db: Any) -> None:
    body = (await ask(browser, public_app)).json()
    row = (await db.execute(select(DeviceAuthorization))).scalar_one()
    stored = " ".join(str(v) for v in vars(row).values())
    assert body["device_code"] not in stored
    assert body["user_code"].replace("-", "") not in stored
    assert row.device_agent == AGENT and row.device_ip == "198.51.100.7"


@pytest.mark.parametrize("settings_overrides", [{"device_authorization_rate_per_address": "2/minute"}])
async def test_device_authorizations_started_are_limited_per_address(
    browser: Browser, public_app: RegisteredApp, new_browser: Any, db: Any
) -> None:
    """Each one stores codes for ten minutes: a flood from one address is refused (429 with
    Retry-After) before anything is stored; another address goes on."""
    for _ in range(2):
        assert (await ask(browser, public_app)).status_code == 200
    refused = await ask(browser, public_app)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"] == "too_many_requests"
    assert_no_store(refused)
    assert len((await db.scalars(select(DeviceAuthorization))).all()) == 2
    elsewhere: Browser = new_browser(client_ip="203.0.113.9")
    assert (await ask(elsewhere, public_app)).status_code == 200


# ---- polling (§3.4, §3.5) ---------------------------------------------------------------------


@pytest.mark.rfc("8628 3.5")
async def test_pending_until_the_person_decides(browser: Browser, public_app: RegisteredApp) -> None:
    body = (await ask(browser, public_app)).json()
    response = await poll(browser, public_app, body["device_code"])
    assert response.status_code == 400
    assert response.json()["error"] == "authorization_pending"
    assert_no_store(response)


@pytest.mark.rfc("8628 3.5")
async def test_slow_down_grows_the_interval_by_five_seconds(
    state: Any, browser: Browser, public_app: RegisteredApp
) -> None:
    code = (await ask(browser, public_app)).json()["device_code"]
    assert (await poll(browser, public_app, code)).json()["error"] == "authorization_pending"
    # Right away again: too soon for the 5 s interval.
    assert (await poll(browser, public_app, code)).json()["error"] == "slow_down"
    # The interval is 10 s now: 6 s later is still too soon (and it grows to 15 s).
    move_clock(state, 6)
    assert (await poll(browser, public_app, code)).json()["error"] == "slow_down"
    # Keeping to 15 s from then on is fine, poll after poll.
    move_clock(state, 6 + 15)
    assert (await poll(browser, public_app, code)).json()["error"] == "authorization_pending"
    move_clock(state, 6 + 15 + 15)
    assert (await poll(browser, public_app, code)).json()["error"] == "authorization_pending"
    move_clock(state, 6 + 15 + 15 + 10)
    assert (await poll(browser, public_app, code)).json()["error"] == "slow_down"


@pytest.mark.rfc("8628 3.5")
async def test_access_denied_after_the_person_denies(
    logged_in: Browser, public_app: RegisteredApp, new_browser: Any
) -> None:
    body = (await ask(logged_in, public_app)).json()
    done = await decide(logged_in, await enter(logged_in, body["user_code"]), "deny")
    assert done.status_code == 200
    assert "Request denied" in done.text
    response = await poll(new_browser(), public_app, body["device_code"])
    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"


@pytest.mark.rfc("8628 3.5")
async def test_expired_token_after_the_lifetime(
    state: Any, logged_in: Browser, public_app: RegisteredApp
) -> None:
    body = (await ask(logged_in, public_app)).json()
    move_clock(state, 601)
    response = await poll(logged_in, public_app, body["device_code"])
    assert response.status_code == 400
    assert response.json()["error"] == "expired_token"
    page = await enter(logged_in, body["user_code"])
    assert page.status_code == 410
    assert "This code has expired" in page.text


@pytest.mark.rfc("8628 3.4")
@pytest.mark.rfc("8628 3.5")
async def test_approved_gives_tokens_once(
    logged_in: Browser, public_app: RegisteredApp, new_browser: Any
) -> None:
    body = (await ask(logged_in, public_app, scope="read_user openid")).json()
    consent = await enter(logged_in, body["user_code"])
    assert consent.status_code == 200
    done = await decide(logged_in, consent)
    assert done.status_code == 200
    assert "Device connected" in done.text
    device = new_browser()
    response = await poll(device, public_app, body["device_code"])
    assert response.status_code == 200, response.text
    assert_no_store(response)
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["scope"] == "read_user openid"
    assert "id_token" in tokens
    me = await device.get("/api/user", headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "pat@example.com"
    again = await poll(device, public_app, body["device_code"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_an_expiring_app_gets_a_refresh_token(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    app = await register_app(state, db, dev, name="Kiosk", access_token_ttl=3600)
    body = (await ask(logged_in, app)).json()
    await decide(logged_in, await enter(logged_in, body["user_code"]))
    tokens = (await poll(logged_in, app, body["device_code"])).json()
    assert tokens["expires_in"] == 3600
    refreshed = await logged_in.post(
        TOKEN_URL,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic(app.client_id, app.client_secret or ""),
    )
    assert refreshed.status_code == 200


async def test_unknown_and_other_apps_device_codes_are_invalid_grant(
    browser: Browser, public_app: RegisteredApp, registered: RegisteredApp
) -> None:
    unknown = await poll(browser, public_app, "fddc_no-such-code")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_grant"
    code = (await ask(browser, public_app)).json()["device_code"]
    other = await poll(browser, registered, code)
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_grant"


async def test_a_missing_device_code_is_invalid_request(browser: Browser, public_app: RegisteredApp) -> None:
    response = await browser.post(TOKEN_URL, data={"grant_type": GRANT, "client_id": public_app.client_id})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# ---- the person's side (§3.3, §5.1, §5.4) -------------------------------------------------------


@pytest.mark.rfc("8628 3.3")
@pytest.mark.rfc("8628 3.3.1")
async def test_device_page_needs_a_login_and_keeps_the_code(browser: Browser, person: Any) -> None:
    response = await browser.get("/device", params={"user_code": "WDJB-MJHT"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2Fdevice%3Fuser_code%3DWDJB-MJHT")
    await browser.login("pat@example.com")
    page = await browser.get("/device", params={"user_code": "WDJB-MJHT"})
    assert page.status_code == 200
    assert 'value="WDJB-MJHT"' in page.text


@pytest.mark.rfc("8628 6.1")
async def test_codes_are_entered_case_insensitively_without_dashes(
    logged_in: Browser, public_app: RegisteredApp
) -> None:
    user_code = (await ask(logged_in, public_app)).json()["user_code"]
    typed = " ".join(user_code.replace("-", "").lower())
    page = await enter(logged_in, typed)
    assert page.status_code == 200
    assert f'<code id="device-code">{user_code}</code>' in page.text


@pytest.mark.rfc("8628 5.4")
async def test_the_consent_page_says_who_asks_and_warns(
    logged_in: Browser, public_app: RegisteredApp
) -> None:
    user_code = (await ask(logged_in, public_app, scope="read_user")).json()["user_code"]
    page = await enter(logged_in, user_code)
    assert page.status_code == 200
    assert "Door Reader wants access on a device" in page.text
    assert "Only continue if you started this yourself on a device that is in front of you." in page.text
    assert "198.51.100.7" in page.text
    assert AGENT in page.text
    assert "(read_user)" in page.text


async def test_wrong_and_malformed_codes_are_readable_errors(
    logged_in: Browser, public_app: RegisteredApp
) -> None:
    wrong = await enter(logged_in, "BCDF-GHJK")
    assert wrong.status_code == 400
    assert "There is no such code" in wrong.text
    malformed = await enter(logged_in, "1234-5678")
    assert malformed.status_code == 400
    assert "it has 8 letters" in malformed.text


@pytest.mark.rfc("8628 5.1")
@pytest.mark.parametrize("settings_overrides", [{"user_code_failures_per_session": "3/15 minutes"}])
async def test_guessing_user_codes_is_throttled(logged_in: Browser, public_app: RegisteredApp) -> None:
    for _ in range(3):
        assert (await enter(logged_in, "BCDF-GHJK")).status_code == 400
    user_code = (await ask(logged_in, public_app)).json()["user_code"]
    throttled = await enter(logged_in, user_code)
    assert throttled.status_code == 429
    assert "Too many wrong codes. Try again in 15 minutes." in throttled.text
    assert int(throttled.headers["retry-after"]) > 0


@pytest.mark.parametrize("settings_overrides", [{"user_code_failures_per_address": "2/hour"}])
async def test_guessing_from_one_address_across_sessions_is_throttled(
    state: Any, db: Any, logged_in: Browser, new_browser: Any
) -> None:
    for _ in range(2):
        assert (await enter(logged_in, "BCDF-GHJK")).status_code == 400
    other = new_browser()
    await other.login("pat@example.com")
    assert (await enter(other, "BCDF-GHJK")).status_code == 429


async def test_a_code_is_decided_once(logged_in: Browser, public_app: RegisteredApp) -> None:
    user_code = (await ask(logged_in, public_app)).json()["user_code"]
    consent = await enter(logged_in, user_code)
    assert (await decide(logged_in, consent)).status_code == 200
    again = await decide(logged_in, consent, "deny")
    assert again.status_code == 410
    assert "This code was used already" in again.text


async def test_a_forged_decision_is_refused(logged_in: Browser, public_app: RegisteredApp, db: Any) -> None:
    user_code = (await ask(logged_in, public_app)).json()["user_code"]
    other_page = await logged_in.get("/device")
    data = {"user_code": user_code, "decision": "approve", "csrf_token": csrf_from(other_page.text)}
    response = await logged_in.post("/device/decide", data=data)
    assert response.status_code == 403
    row = (await db.execute(select(DeviceAuthorization))).scalar_one()
    assert row.status == "pending"
    # No oracle around the throttle: an unknown code gets the same refusal, before any lookup.
    unknown = await logged_in.post("/device/decide", data={**data, "user_code": "BCDF-GHJK"})
    assert unknown.status_code == 403


@pytest.mark.parametrize("settings_overrides", [{"require_verified_email": True}])
async def test_an_unverified_address_cannot_approve(logged_in: Browser, public_app: RegisteredApp) -> None:
    body = (await ask(logged_in, public_app)).json()
    consent = await enter(logged_in, body["user_code"])
    assert 'id="verify-first"' in consent.text
    assert 'action="/device/decide"' not in consent.text


async def test_the_page_speaks_german(logged_in: Browser, public_app: RegisteredApp) -> None:
    de = {"accept-language": "de"}
    page = await logged_in.get("/device", headers=de)
    assert "Gerät verbinden" in page.text
    user_code = (await ask(logged_in, public_app)).json()["user_code"]
    consent = await enter(logged_in, user_code, **de)
    assert (
        "Fahren Sie nur fort, wenn Sie dies selbst auf einem Gerät begonnen haben, das vor Ihnen steht."
        in (consent.text)
    )


# ---- on a space's host -------------------------------------------------------------------------


async def test_a_device_for_a_space(
    state: Any, db: Any, person: Any, public_app: RegisteredApp, new_browser: Any
) -> None:
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    in_space: Browser = new_browser("co-up.localhost:8000")
    body = (await ask(in_space, public_app, scope="read_user")).json()
    assert body["verification_uri"] == "http://co-up.localhost:8000/device"
    # Its code is that host's: unknown on the main host.
    main: Browser = new_browser()
    await main.login("pat@example.com")
    assert (await enter(main, body["user_code"])).status_code == 400
    await in_space.login("pat@example.com")
    consent = await enter(in_space, body["user_code"])
    assert consent.status_code == 200
    assert "Door Reader wants access in Co-Up on a device" in consent.text
    assert 'id="device-space">Co-Up<' in consent.text
    assert (await decide(in_space, consent)).status_code == 200
    response = await poll(in_space, public_app, body["device_code"])
    assert response.status_code == 200
    token = response.json()["access_token"]
    # The space's host's token, as a code from the authorization endpoint there gives.
    introspected = await main.post(
        "/oauth/introspect", data={"token": token, "client_id": public_app.client_id}
    )
    assert introspected.json()["iss"] == "http://co-up.localhost:8000"


# ---- metadata and the QR code -------------------------------------------------------------------


@pytest.mark.rfc("8628 4")
async def test_metadata_names_the_endpoint_and_the_grant(browser: Browser, new_browser: Any) -> None:
    doc = (await browser.get("/.well-known/oauth-authorization-server")).json()
    assert doc["device_authorization_endpoint"] == "http://localhost:8000/oauth/device_authorization"
    assert GRANT in doc["grant_types_supported"]


@pytest.mark.rfc("8628 3.3.1")
async def test_qr_code_of_the_complete_uri(browser: Browser) -> None:
    svg = await browser.get("/device/qr", params={"user_code": "wdjb-mjht"})
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "http://localhost:8000/device?user_code=WDJB-MJHT" in svg.text
    png = await browser.get("/device/qr", params={"user_code": "WDJB-MJHT", "format": "png"})
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    bad = await browser.get("/device/qr", params={"user_code": "AEIO-U123"})
    assert bad.status_code == 400
    shown = await browser.get("/device/show", params={"user_code": "WDJBMJHT"})
    assert shown.status_code == 200
    assert "WDJB-MJHT" in shown.text and "<svg" in shown.text


@pytest.mark.rfc("8628 6.1")
def test_user_codes_have_no_look_alikes_and_read_back_however_typed() -> None:
    from frontdesk.oauth.device import display_user_code, new_user_code, normalize_user_code

    codes = {new_user_code() for _ in range(200)}
    assert len(codes) > 190  # random, not a sequence
    assert all(len(c) == 8 and set(c) <= set("BCDFGHJKLMNPQRSTVWXZ") for c in codes)
    assert display_user_code("WDJBMJHT") == "WDJB-MJHT"
    assert normalize_user_code(" wdjb-mjht ") == "WDJBMJHT"
    assert normalize_user_code("WDJB MJHT") == "WDJBMJHT"
    assert normalize_user_code("WDJB-MJH0") is None  # a digit: never in a code
    assert normalize_user_code("WDJB-MJHTX") is None
