"""Passkeys (issue 13): registering them on the account page, as the second factor after the
password, and passwordless login; the ID token's amr/acr, single-use challenges bound to the
browser, the signature counter, the failure throttle, and the password grant's refusal. The
authenticator is tests/soft_authenticator.py (a real ES256 key; the server's checks all run)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from frontdesk.oauth.amr import ACR_MFA
from frontdesk.store.models import WebAuthnChallenge
from frontdesk.store.types import utcnow
from tests.oauth.test_second_factor import verify_id_token
from tests.oauth_support import (
    RegisteredApp,
    authorize_params,
    code_token,
    decide,
    exchange,
    make_user,
    password_grant,
    query,
    register_app,
)
from tests.soft_authenticator import SoftAuthenticator, b64
from tests.support import PASSWORD, Browser, csrf_from

ORIGIN = "http://localhost:8000"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"second_factor_failures_per_account_address": "3/15 minutes"}


@pytest.fixture
async def oidc_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name="OIDC App", scopes="read_user openid email")


async def options(b: Browser, page: str, url: str, purpose: str = "") -> tuple[str, dict[str, Any]]:
    """The page's anti-forgery token and the options its script would fetch."""
    shown = await b.get(page)
    assert shown.status_code == 200, shown.text
    token = csrf_from(shown.text)
    answer = await b.post(url, data={"csrf_token": token, "purpose": purpose})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return token, answer.json()


async def add_passkey(b: Browser, key: SoftAuthenticator, name: str = "Laptop") -> httpx.Response:
    token, opts = await options(b, "/account/passkeys", "/account/passkeys/options")
    return await b.post(
        "/account/passkeys", data={"csrf_token": token, "name": name, "credential": key.create(opts)}
    )


async def password_step(b: Browser, next_url: str = "/") -> None:
    form = {"email": "pat@example.com", "password": PASSWORD, "next": next_url}
    response = await b.submit("/login?again=1", form, action="/login")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/login/factor?next=" + quote(next_url, safe="")


async def passkey_factor(
    b: Browser, key: SoftAuthenticator, next_url: str = "/", **kw: Any
) -> httpx.Response:
    token, opts = await options(
        b, "/login/factor?next=" + quote(next_url, safe=""), "/login/passkey/options", "factor"
    )
    return await b.post(
        "/login/factor/passkey",
        data={"csrf_token": token, "credential": key.get(opts, **kw), "next": next_url},
    )


async def passwordless(b: Browser, key: SoftAuthenticator, next_url: str = "", **kw: Any) -> httpx.Response:
    page = "/login" + ("?next=" + quote(next_url, safe="") if next_url else "")
    token, opts = await options(b, page, "/login/passkey/options", "login")
    return await b.post(
        "/login/passkey", data={"csrf_token": token, "credential": key.get(opts, **kw), "next": next_url}
    )


@pytest.fixture
async def with_passkey(logged_in: Browser) -> SoftAuthenticator:
    key = SoftAuthenticator(ORIGIN)
    added = await add_passkey(logged_in, key)
    assert added.status_code == 303, added.text
    return key


# ---- registering ----------------------------------------------------------------------------


async def test_registration_options_ask_for_a_discoverable_passkey(logged_in: Browser, person: Any) -> None:
    _, opts = await options(logged_in, "/account/passkeys", "/account/passkeys/options")
    assert opts["rp"]["id"] == "localhost"
    assert opts["user"]["id"] == b64(person.id.encode()) and opts["user"]["name"] == "pat@example.com"
    assert opts["authenticatorSelection"]["residentKey"] == "preferred"
    assert opts["authenticatorSelection"]["userVerification"] == "preferred"
    assert opts["excludeCredentials"] == []
    assert len(opts["challenge"]) >= 43


async def test_add_rename_and_remove_a_passkey(logged_in: Browser) -> None:
    key = SoftAuthenticator(ORIGIN)
    added = await add_passkey(logged_in, key, "Work laptop")
    assert added.status_code == 303 and added.headers["location"] == "/account/passkeys"
    page = await logged_in.get("/account/passkeys")
    assert "Work laptop" in page.text and "not used yet" in page.text
    passkey_id = page.text.split('<li id="passkey-', 1)[1].split('"', 1)[0]
    # The same authenticator is excluded from a second registration.
    _, opts = await options(logged_in, "/account/passkeys", "/account/passkeys/options")
    assert [d["id"] for d in opts["excludeCredentials"]] == [b64(key.credential_id)]

    token = csrf_from(page.text)
    renamed = await logged_in.post(
        f"/account/passkeys/{passkey_id}/rename", data={"csrf_token": token, "name": "Phone"}
    )
    assert renamed.status_code == 303
    assert "Phone" in (await logged_in.get("/account/passkeys")).text
    wrong = await logged_in.post(
        f"/account/passkeys/{passkey_id}/remove", data={"csrf_token": token, "password": "not it"}
    )
    assert wrong.status_code == 401
    removed = await logged_in.post(
        f"/account/passkeys/{passkey_id}/remove", data={"csrf_token": token, "password": PASSWORD}
    )
    assert removed.status_code == 303
    assert 'id="no-passkeys"' in (await logged_in.get("/account/passkeys")).text


async def test_a_registration_answer_counts_once(logged_in: Browser) -> None:
    key = SoftAuthenticator(ORIGIN)
    token, opts = await options(logged_in, "/account/passkeys", "/account/passkeys/options")
    answer = key.create(opts)
    first = await logged_in.post(
        "/account/passkeys", data={"csrf_token": token, "name": "A", "credential": answer}
    )
    assert first.status_code == 303
    again = await logged_in.post(
        "/account/passkeys", data={"csrf_token": token, "name": "B", "credential": answer}
    )
    assert again.status_code == 422


async def test_a_registration_from_another_origin_is_refused(logged_in: Browser) -> None:
    key = SoftAuthenticator(ORIGIN)
    token, opts = await options(logged_in, "/account/passkeys", "/account/passkeys/options")
    answer = key.create(opts, origin="https://evil.example")
    refused = await logged_in.post(
        "/account/passkeys", data={"csrf_token": token, "name": "A", "credential": answer}
    )
    assert refused.status_code == 422
    assert 'id="no-passkeys"' in refused.text


async def test_a_credential_registered_by_another_account_is_refused(
    with_passkey: SoftAuthenticator, state: Any, db: Any, new_browser: Any
) -> None:
    await make_user(state, db, "sam@example.com")
    sam: Browser = new_browser()
    assert (await sam.login("sam@example.com")).status_code == 303
    refused = await add_passkey(sam, with_passkey)
    assert refused.status_code == 422
    assert "registered already" in refused.text


# ---- as the second factor ----------------------------------------------------------------------


async def test_a_passkey_confirms_the_login_and_the_id_token_says_so(
    with_passkey: SoftAuthenticator, oidc_app: RegisteredApp, new_browser: Any
) -> None:
    b: Browser = new_browser()
    await password_step(b, "/account")
    page = await b.get("/login/factor?next=%2Faccount")
    assert 'id="factor-passkey"' in page.text
    _, opts = await options(b, "/login/factor", "/login/passkey/options", "factor")
    assert [d["id"] for d in opts["allowCredentials"]] == [b64(with_passkey.credential_id)]
    done = await passkey_factor(b, with_passkey, "/account")
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert (await b.get("/account")).status_code == 200
    claims = await verify_id_token(b, (await code_token(b, oidc_app, scope="openid"))["id_token"])
    assert claims["amr"] == ["pwd", "hwk", "user", "mfa"] and claims["acr"] == ACR_MFA


async def test_another_accounts_passkey_is_no_second_factor(
    with_passkey: SoftAuthenticator, state: Any, db: Any, new_browser: Any
) -> None:
    await make_user(state, db, "sam@example.com")
    sam: Browser = new_browser()
    assert (await sam.login("sam@example.com")).status_code == 303
    sams_key = SoftAuthenticator(ORIGIN)
    assert (await add_passkey(sam, sams_key)).status_code == 303
    b: Browser = new_browser()
    await password_step(b)
    assert (await passkey_factor(b, sams_key)).status_code == 401


async def test_wrong_passkeys_are_throttled(with_passkey: SoftAuthenticator, new_browser: Any) -> None:
    b: Browser = new_browser()
    await password_step(b)
    stranger = SoftAuthenticator(ORIGIN, credential_id=with_passkey.credential_id)  # another key
    for _ in range(3):
        assert (await passkey_factor(b, stranger)).status_code == 401
    refused = await passkey_factor(b, with_passkey)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


async def test_the_password_grant_refuses_an_account_with_a_passkey(
    with_passkey: SoftAuthenticator, browser: Browser, registered: RegisteredApp
) -> None:
    response = await password_grant(browser, registered)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# ---- passwordless -------------------------------------------------------------------------------


async def test_passwordless_login_keeps_the_authorization_request(
    with_passkey: SoftAuthenticator, oidc_app: RegisteredApp, new_browser: Any
) -> None:
    b: Browser = new_browser()
    asked = await b.get("/oauth/authorize", params=authorize_params(oidc_app, scope="openid"))
    assert asked.status_code == 303
    next_url = parse_qs(urlsplit(asked.headers["location"]).query)["next"][0]
    _, opts = await options(b, "/login", "/login/passkey/options", "login")
    assert opts["allowCredentials"] == [] and opts["userVerification"] == "required"
    done = await passwordless(b, with_passkey, next_url)
    assert done.status_code == 303
    assert done.headers["location"].startswith("/oauth/authorize?")
    consent = await b.get(done.headers["location"])
    assert consent.status_code == 200, consent.text
    approved = await decide(b, consent)
    assert approved.status_code == 303
    response = await exchange(b, oidc_app, query(approved.headers["location"])["code"])
    claims = await verify_id_token(b, response.json()["id_token"])
    assert claims["amr"] == ["hwk", "user", "mfa"] and claims["acr"] == ACR_MFA


async def test_passwordless_needs_user_verification(
    with_passkey: SoftAuthenticator, new_browser: Any
) -> None:
    with_passkey.user_verifying = False
    b: Browser = new_browser()
    refused = await passwordless(b, with_passkey)
    assert refused.status_code == 401
    assert (await b.get("/account")).status_code == 303


async def test_a_login_challenge_is_single_use_and_bound_to_the_browser(
    with_passkey: SoftAuthenticator, new_browser: Any
) -> None:
    a: Browser = new_browser()
    token, opts = await options(a, "/login", "/login/passkey/options", "login")
    answer = with_passkey.get(opts)
    # Another browser cannot answer a's challenge (its own token, no challenge of its own).
    other: Browser = new_browser()
    other_token = await other.token("/login")
    stolen = await other.post("/login/passkey", data={"csrf_token": other_token, "credential": answer})
    assert stolen.status_code == 401
    done = await a.post("/login/passkey", data={"csrf_token": token, "credential": answer})
    assert done.status_code == 303
    c: Browser = new_browser()
    c_token, _ = await options(c, "/login", "/login/passkey/options", "login")
    # Replayed with a challenge of its own: the signed challenge is not that one.
    replay = await c.post("/login/passkey", data={"csrf_token": c_token, "credential": answer})
    assert replay.status_code == 401


async def test_a_signature_counter_that_goes_back_is_refused_and_recorded(
    with_passkey: SoftAuthenticator, logged_in: Browser, new_browser: Any
) -> None:
    b: Browser = new_browser()
    assert (await passwordless(b, with_passkey, count=5)).status_code == 303
    cloned: Browser = new_browser()
    refused = await passwordless(cloned, with_passkey, count=3)
    assert refused.status_code == 401
    assert (await cloned.get("/account")).status_code == 303
    activity = await logged_in.get("/account/activity")
    assert "signature counter went backwards" in activity.text
    # The counter kept its value: the next real use (6) works.
    assert (await passwordless(new_browser(), with_passkey, count=6)).status_code == 303


async def test_passkey_answer_that_is_not_json_is_refused(
    with_passkey: SoftAuthenticator, new_browser: Any
) -> None:
    b: Browser = new_browser()
    token, _ = await options(b, "/login", "/login/passkey/options", "login")
    refused = await b.post("/login/passkey", data={"csrf_token": token, "credential": json.dumps({"id": 1})})
    assert refused.status_code == 401


# ---- which hosts offer passkeys ---------------------------------------------------------------


async def test_a_space_subdomain_takes_the_passkey_and_a_custom_domain_does_not_offer_it(
    with_passkey: SoftAuthenticator, tenants: Any, new_browser: Any
) -> None:
    space: Browser = new_browser("co-up.localhost:8000")
    done = await passwordless(space, with_passkey, origin="http://co-up.localhost:8000")
    assert done.status_code == 303
    assert (await space.get("/admin/members")).status_code == 200
    # members.harbour.test is no subdomain of the RP id (localhost): nothing offered.
    custom: Browser = new_browser("members.harbour.test:8000")
    page = await custom.get("/login")
    assert page.status_code == 200 and 'id="passkey-login"' not in page.text
    refused = await custom.post(
        "/login/passkey/options", data={"csrf_token": csrf_from(page.text), "purpose": "login"}
    )
    assert refused.status_code == 404


async def test_an_expired_challenge_is_refused(
    with_passkey: SoftAuthenticator, db: Any, new_browser: Any
) -> None:
    b: Browser = new_browser()
    token, opts = await options(b, "/login", "/login/passkey/options", "login")
    await db.execute(update(WebAuthnChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    refused = await b.post("/login/passkey", data={"csrf_token": token, "credential": with_passkey.get(opts)})
    assert refused.status_code == 401
    assert "took too long" in refused.text


# ---- how many checks an address may start ------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"passkey_challenge_rate_per_address": "3/minute"}])
async def test_passkey_checks_started_are_limited_per_address(
    logged_in: Browser, db: Any, new_browser: Any
) -> None:
    """Each check stores a challenge: a flood of fresh browsers from one address is refused
    before it writes one, in the page's language for /static/passkeys.js to show, while
    another address goes on."""
    await options(logged_in, "/account/passkeys", "/account/passkeys/options")
    for _ in range(2):
        await options(new_browser(), "/login", "/login/passkey/options", "login")
    b: Browser = new_browser()
    token = csrf_from((await b.get("/login")).text)
    refused = await b.post("/login/passkey/options", data={"csrf_token": token, "purpose": "login"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.json() == {
        "error": "too_many_requests",
        "error_description": "Too many passkey checks from your address. Try again in a minute.",
    }
    german = await b.post(
        "/login/passkey/options",
        data={"csrf_token": token, "purpose": "login"},
        headers={"accept-language": "de-DE,de;q=0.9"},
    )
    assert german.status_code == 429
    assert german.json()["error_description"] == (
        "Zu viele Passkey-Prüfungen von Ihrer Adresse. Versuchen Sie es in einer Minute erneut."
    )
    again = await logged_in.post(
        "/account/passkeys/options", data={"csrf_token": await logged_in.token("/account/passkeys")}
    )
    assert again.status_code == 429
    assert len((await db.scalars(select(WebAuthnChallenge))).all()) == 3
    elsewhere: Browser = new_browser(client_ip="203.0.113.9")
    await options(elsewhere, "/login", "/login/passkey/options", "login")
