"""Two-step login (issue 13): TOTP set-up and login with pyotp codes, recovery codes, the
throttle and replay protection, the password grant's refusal, amr/acr in ID tokens,
acr_values asking for a second factor, and a space that requires it of its admins."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from frontdesk.oauth.amr import ACR_MFA, ACR_PASSWORD
from frontdesk.services import second_factor, spaces
from frontdesk.store.models import LoginSession, RecoveryCode, Space, TotpFactor
from frontdesk.store.types import utcnow
from tests.oauth.conftest import Tenants
from tests.oauth_support import (
    RegisteredApp,
    authorize_params,
    code_token,
    decide,
    exchange,
    password_grant,
    query,
    register_app,
)
from tests.support import PASSWORD, Browser, csrf_from

MFA = ["pwd", "otp", "mfa"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Small enough to reach in a test; the address and account ceilings stay out of the way.
    return {"second_factor_failures_per_account_address": "3/15 minutes"}


@pytest.fixture
async def oidc_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name="OIDC App", scopes="read_user openid email")


def code_at(secret: str, steps_ahead: int) -> str:
    """The app's code ``steps_ahead`` time steps from now (one step of drift is accepted)."""
    return pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30 * steps_ahead))


async def set_up_totp(b: Browser) -> tuple[str, list[str], str]:
    """Turn two-step login on through the pages: (secret, recovery codes, the set-up page)."""
    started = await b.submit("/account/two-factor", {}, action="/account/two-factor/start")
    assert started.status_code == 303, started.text
    page = await b.get(started.headers["location"])
    assert page.status_code == 200
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert match, page.text
    secret = match.group(1)
    confirmed = await b.post(
        "/account/two-factor/confirm",
        data={"csrf_token": csrf_from(page.text), "code": pyotp.TOTP(secret).now()},
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", confirmed.text)
    assert len(codes) == 10
    return secret, codes, page.text


async def factor(b: Browser, kind: str, code: str, next_url: str = "/") -> Any:
    page = await b.get("/login/factor?next=" + quote(next_url, safe=""))
    assert page.status_code == 200, page.text
    field = "code" if kind == "totp" else "recovery_code"
    return await b.post(
        "/login/factor",
        data={"csrf_token": csrf_from(page.text), "kind": kind, field: code, "next": next_url},
    )


async def password_step(b: Browser, email: str = "pat@example.com", next_url: str = "/") -> None:
    form = {"email": email, "password": PASSWORD, "next": next_url}
    response = await b.submit("/login?again=1", form, action="/login")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/login/factor?next=" + quote(next_url, safe="")


@pytest.fixture
async def with_totp(logged_in: Browser) -> tuple[str, list[str]]:
    """Pat has two-step login on (set up through the pages in another browser)."""
    secret, codes, _ = await set_up_totp(logged_in)
    return secret, codes


async def verify_id_token(b: Browser, id_token: str) -> dict[str, Any]:
    keys = (await b.get("/jwks.json")).json()
    return dict(jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=["RS256"]).claims)


# ---- set-up and login --------------------------------------------------------------------------


async def test_set_up_shows_a_qr_code_and_keeps_the_secret_sealed(
    logged_in: Browser, db: Any, person: Any
) -> None:
    secret, codes, page = await set_up_totp(logged_in)
    assert "<svg" in page and "QR code" in page  # drawn inline, no outside service
    row = (await db.execute(select(TotpFactor).where(TotpFactor.user_id == person.id))).scalar_one()
    assert secret not in row.secret_sealed
    stored = (
        await db.execute(select(RecoveryCode.digest).where(RecoveryCode.user_id == person.id))
    ).scalars()
    digests = set(stored)
    assert len(digests) == 10
    assert not {c.replace("-", "") for c in codes} & digests and not set(codes) & digests
    status = await logged_in.get("/account/two-factor")
    assert 'id="recovery-codes-left">10<' in status.text


async def test_login_asks_for_the_code(with_totp: tuple[str, list[str]], new_browser: Any) -> None:
    secret, _ = with_totp
    b: Browser = new_browser()
    await password_step(b, next_url="/account")
    # The password alone is no login: the account page sends back to the login form.
    assert (await b.get("/account")).status_code == 303
    wrong = await factor(b, "totp", "000000" if code_at(secret, 1) != "000000" else "111111", "/account")
    assert wrong.status_code == 401
    done = await factor(b, "totp", code_at(secret, 1), "/account")
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert (await b.get("/account")).status_code == 200


async def test_a_code_is_accepted_once(with_totp: tuple[str, list[str]], new_browser: Any) -> None:
    secret, _ = with_totp
    code = code_at(secret, 1)
    first: Browser = new_browser()
    await password_step(first)
    assert (await factor(first, "totp", code)).status_code == 303
    second: Browser = new_browser()
    await password_step(second)
    assert (await factor(second, "totp", code)).status_code == 401
    # The set-up's own code was used too: an older step is refused as well.
    assert (await factor(second, "totp", code_at(secret, 0))).status_code == 401


async def test_recovery_code_works_once(with_totp: tuple[str, list[str]], new_browser: Any) -> None:
    _, codes = with_totp
    first: Browser = new_browser()
    await password_step(first)
    assert (await factor(first, "recovery", codes[3].upper().replace("-", " "))).status_code == 303
    second: Browser = new_browser()
    await password_step(second)
    assert (await factor(second, "recovery", codes[3])).status_code == 401
    assert (await factor(second, "recovery", codes[4])).status_code == 303


async def test_wrong_codes_are_throttled(with_totp: tuple[str, list[str]], new_browser: Any) -> None:
    secret, _ = with_totp
    right = code_at(secret, 1)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    b: Browser = new_browser()
    await password_step(b)
    for _ in range(3):
        assert (await factor(b, "totp", wrong)).status_code == 401
    refused = await factor(b, "totp", right)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


async def test_recovery_codes_regenerate_and_turning_off(
    with_totp: tuple[str, list[str]], logged_in: Browser, new_browser: Any
) -> None:
    secret, old = with_totp
    wrong = await logged_in.submit(
        "/account/two-factor", {"password": "not it"}, action="/account/two-factor/recovery-codes"
    )
    assert wrong.status_code == 401
    made = await logged_in.submit(
        "/account/two-factor", {"password": PASSWORD}, action="/account/two-factor/recovery-codes"
    )
    assert made.status_code == 200
    new = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", made.text)
    assert len(new) == 10 and not set(new) & set(old)
    b: Browser = new_browser()
    await password_step(b)
    assert (await factor(b, "recovery", old[0])).status_code == 401
    assert (await factor(b, "recovery", new[0])).status_code == 303
    # Off takes the password and a code.
    no_code = await logged_in.submit(
        "/account/two-factor",
        {"disable_password": PASSWORD, "disable_code": "123"},
        action="/account/two-factor/disable",
    )
    assert no_code.status_code == 401
    off = await logged_in.submit(
        "/account/two-factor",
        {"disable_password": PASSWORD, "disable_code": code_at(secret, 1)},
        action="/account/two-factor/disable",
    )
    assert off.status_code == 303
    later: Browser = new_browser()
    plain = await later.login("pat@example.com")
    assert plain.status_code == 303 and plain.headers["location"] == "/"


# ---- the password grant ----------------------------------------------------------------------


async def test_password_grant_refuses_an_account_with_a_second_factor(
    with_totp: tuple[str, list[str]], browser: Browser, registered: RegisteredApp, state: Any, db: Any
) -> None:
    response = await password_grant(browser, registered)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert "web flow" in body["error_description"]
    # Someone without a second factor still gets tokens.
    from tests.oauth_support import make_user

    await make_user(state, db, "sam@example.com")
    assert (await password_grant(browser, registered, username="sam@example.com")).status_code == 200


# ---- amr, acr and acr_values -----------------------------------------------------------------


async def test_id_token_says_how_the_person_logged_in(
    with_totp: tuple[str, list[str]], oidc_app: RegisteredApp, new_browser: Any, db: Any, person: Any
) -> None:
    secret, _ = with_totp
    plain: Browser = new_browser()
    await plain.login("dev@example.com")
    body = await code_token(plain, oidc_app, scope="openid")
    claims = await verify_id_token(plain, body["id_token"])
    assert claims["amr"] == ["pwd"] and claims["acr"] == ACR_PASSWORD

    b: Browser = new_browser()
    await password_step(b)
    assert (await factor(b, "totp", code_at(secret, 1))).status_code == 303
    body = await code_token(b, oidc_app, scope="openid")
    claims = await verify_id_token(b, body["id_token"])
    assert claims["amr"] == MFA and claims["acr"] == ACR_MFA
    # auth_time is when the second factor completed the login (the new session's).
    newest = (
        (
            await db.execute(
                select(LoginSession)
                .where(LoginSession.user_id == person.id, LoginSession.pending_factor.is_(False))
                .order_by(LoginSession.created_at.desc())
            )
        )
        .scalars()
        .first()
    )
    assert claims["auth_time"] == int(newest.authenticated_at.timestamp())


async def test_metadata_lists_the_acr_values(browser: Browser) -> None:
    doc = (await browser.get("/.well-known/openid-configuration")).json()
    assert doc["acr_values_supported"] == [ACR_PASSWORD, ACR_MFA]
    assert {"amr", "acr"} <= set(doc["claims_supported"])


async def test_acr_values_mfa_asks_a_password_session_for_the_second_factor(
    logged_in: Browser, oidc_app: RegisteredApp, state: Any, db: Any, person: Any
) -> None:
    params = authorize_params(oidc_app, scope="openid", acr_values=ACR_MFA)
    # No second factor yet: the factor page says to set one up.
    asked = await logged_in.get("/oauth/authorize", params=params)
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/login/factor?next=")
    page = await logged_in.get(asked.headers["location"])
    assert page.status_code == 200 and 'id="set-up-second-factor"' in page.text
    # prompt=none cannot ask: login_required goes back to the app.
    silent = await logged_in.get("/oauth/authorize", params={**params, "prompt": "none"})
    assert silent.status_code == 302 and query(silent.headers["location"])["error"] == "login_required"

    # The account gets an authenticator app elsewhere; this session is still password-only.
    raw = await second_factor.begin_totp(db, state.server_secret, person.id)
    await second_factor.confirm_totp(db, state.server_secret, person.id, pyotp.TOTP(raw).now())
    await db.commit()
    asked = await logged_in.get("/oauth/authorize", params=params)
    assert asked.status_code == 303
    next_url = parse_qs(urlsplit(asked.headers["location"]).query)["next"][0]
    stepped = await factor(logged_in, "totp", code_at(raw, 1), next_url)
    assert stepped.status_code == 303 and stepped.headers["location"] == next_url
    consent = await logged_in.get(next_url)
    assert consent.status_code == 200, consent.text
    approved = await decide(logged_in, consent)
    assert approved.status_code == 303
    response = await exchange(logged_in, oidc_app, query(approved.headers["location"])["code"])
    claims = await verify_id_token(logged_in, response.json()["id_token"])
    assert claims["acr"] == ACR_MFA and "mfa" in claims["amr"]
    # A password-only request (or none) is satisfied by the same session without asking.
    again = await logged_in.get("/oauth/authorize", params=authorize_params(oidc_app, scope="openid"))
    assert again.status_code == 302 and "code" in query(again.headers["location"])


# ---- a space that requires a second factor of its admins ---------------------------------------


async def test_space_admin_pages_need_a_second_factor(
    tenants: Tenants, new_browser: Any, state: Any, db: Any, person: Any
) -> None:
    b: Browser = new_browser("co-up.localhost:8000")
    assert (await b.login("pat@example.com")).status_code == 303
    assert (await b.get("/admin/settings")).status_code == 200
    # Pat has no second factor: turning the requirement on is refused (it would lock Pat out).
    refused = await b.submit(
        "/admin/settings", {"require_admin_second_factor": "1"}, action="/admin/settings/second-factor"
    )
    assert refused.status_code == 303
    assert (await b.get("/admin/members")).status_code == 200
    assert (await spaces.get_space(db, tenants.co_up.id)).require_admin_second_factor is False  # type: ignore[union-attr]

    await db.execute(
        update(Space).where(Space.id == tenants.co_up.id).values(require_admin_second_factor=True)
    )
    await db.commit()
    blocked = await b.get("/admin/members")
    assert blocked.status_code == 403
    assert 'href="http://localhost:8000/account/two-factor"' in blocked.text
    assert (await b.get("/admin/settings")).status_code == 403
    # Another space without the requirement is not affected.
    other: Browser = new_browser("members.harbour.test:8000")
    assert (await other.login("pat@example.com")).status_code == 303
    assert (await other.get("/admin/members")).status_code == 200

    raw = await second_factor.begin_totp(db, state.server_secret, person.id)
    await second_factor.confirm_totp(db, state.server_secret, person.id, pyotp.TOTP(raw).now())
    await db.commit()
    assert (await b.get("/admin/members")).status_code == 200
    page = await b.get("/admin/settings")
    assert page.status_code == 200 and 'id="f-require_admin_second_factor" checked' in page.text


async def test_prompt_login_with_a_second_factor_does_not_loop(
    with_totp: tuple[str, list[str]], oidc_app: RegisteredApp, new_browser: Any
) -> None:
    """prompt=login (and max_age=0) send the person through password and code; the request
    then continues with a code, and the ID token says both factors were used."""
    secret, recovery = with_totp
    b: Browser = new_browser()
    await password_step(b)
    assert (await factor(b, "totp", code_at(secret, 1))).status_code == 303
    assert (await code_token(b, oidc_app, scope="openid"))["id_token"]
    # The app's codes are spent for this time window (each is accepted once): recovery codes.
    for extra, code in (({"prompt": "login"}, recovery[0]), ({"max_age": "0"}, recovery[1])):
        asked = await b.get("/oauth/authorize", params=authorize_params(oidc_app, scope="openid", **extra))
        assert asked.status_code == 303 and asked.headers["location"].startswith("/login?again=1&next=")
        next_url = parse_qs(urlsplit(asked.headers["location"]).query)["next"][0]
        await password_step(b, next_url=next_url)
        done = await factor(b, "recovery", code, next_url)
        assert done.status_code == 303
        back = await b.get(done.headers["location"])
        assert back.status_code == 302, back.text
        response = await exchange(b, oidc_app, query(back.headers["location"])["code"])
        claims = await verify_id_token(b, response.json()["id_token"])
        assert claims["amr"] == MFA


async def test_the_id_token_on_refresh_keeps_the_login_methods(
    with_totp: tuple[str, list[str]], state: Any, db: Any, dev: Any, new_browser: Any
) -> None:
    secret, _ = with_totp
    app = await register_app(
        state, db, dev, name="Refreshing", scopes="read_user openid", access_token_ttl=600
    )
    b: Browser = new_browser()
    await password_step(b)
    assert (await factor(b, "totp", code_at(secret, 1))).status_code == 303
    first = await code_token(b, app, scope="openid")
    refreshed = await b.post(
        "/oauth/access_token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": app.client_id,
            "client_secret": app.client_secret or "",
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    claims = await verify_id_token(b, refreshed.json()["id_token"])
    assert claims["amr"] == MFA and claims["acr"] == ACR_MFA
