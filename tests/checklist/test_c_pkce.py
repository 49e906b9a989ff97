"""C. PKCE (checklist items 11–13)."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.oauth import pkce
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    authorize_params,
    exchange,
    get_code,
    query,
    register_app,
)
from tests.support import Browser

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def s256(verifier: str = VERIFIER) -> dict[str, str]:
    return {"code_challenge": pkce.s256(verifier), "code_challenge_method": "S256"}


def error_of(response: Any) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


@pytest.mark.rfc("7636 4.6")
@pytest.mark.rfc("9700 2.1.1")
async def test_item_11_pkce_support_and_enforcement(
    browser: Browser, logged_in: Browser, registered: RegisteredApp
) -> None:
    assert pkce.s256(VERIFIER) == CHALLENGE  # the RFC's own example
    metadata = (await browser.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["code_challenge_methods_supported"] == ["S256"]

    code = await get_code(logged_in, registered, **s256())
    ok = await exchange(logged_in, registered, code, code_verifier=VERIFIER)
    assert ok.status_code == 200, ok.text

    code = await get_code(logged_in, registered, **s256())
    assert (
        error_of(await exchange(logged_in, registered, code, code_verifier="x" + VERIFIER[1:]))
        == "invalid_grant"
    )
    code = await get_code(logged_in, registered, **s256())
    assert error_of(await exchange(logged_in, registered, code)) == "invalid_grant"
    code = await get_code(logged_in, registered, **s256())
    assert error_of(await exchange(logged_in, registered, code, code_verifier=VERIFIER[:42])) in (
        "invalid_request",
        "invalid_grant",
    )
    # Verifier syntax (RFC 7636 §4.1): 43–128 of [A-Za-z0-9-._~].
    for bad in ("a" * 129, "a" * 42 + "+", "a" * 42 + "=", "a" * 42 + " ", "é" * 43):
        code = await get_code(logged_in, registered, **s256(bad if bad.isascii() else "b" * 43))
        assert error_of(await exchange(logged_in, registered, code, code_verifier=bad)) in (
            "invalid_request",
            "invalid_grant",
        ), bad
    for good in ("a" * 43, "a" * 128, "Az09-._~" * 6):
        code = await get_code(logged_in, registered, **s256(good))
        assert (await exchange(logged_in, registered, code, code_verifier=good)).status_code == 200, good


@pytest.mark.rfc("7636 4.4.1")
async def test_item_11_public_apps_must_use_pkce(state: Any, db: Any, dev: Any, logged_in: Browser) -> None:
    public = await register_app(state, db, dev, name="SPA", public=True)
    without = await logged_in.get("/oauth/authorize", params=authorize_params(public))
    assert without.status_code == 302 and query(without.headers["location"])["error"] == "invalid_request"
    code = await get_code(logged_in, public, **s256())
    response = await logged_in.post(
        TOKEN_URL,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": public.client_id,
            "code_verifier": VERIFIER,
        },
    )
    assert response.status_code == 200, response.text


@pytest.mark.rfc("9700 4.8.2")
async def test_item_12_pkce_downgrade_defence(logged_in: Browser, registered: RegisteredApp) -> None:
    """A code issued without ``code_challenge`` refuses any ``code_verifier``; an empty one is
    an absent parameter (RFC 6749 §3.1) and does not count."""
    code = await get_code(logged_in, registered)
    response = await exchange(logged_in, registered, code, code_verifier="a" * 43)
    assert error_of(response) == "invalid_grant"
    code = await get_code(logged_in, registered)
    response = await exchange(logged_in, registered, code, code_verifier=VERIFIER)
    assert error_of(response) == "invalid_grant"


@pytest.mark.rfc("7636 4.2")
@pytest.mark.rfc("9700 2.1.1")
async def test_item_13_plain_method_is_refused(logged_in: Browser, registered: RegisteredApp) -> None:
    """Documented choice: S256 only. ``plain`` (explicit, or implied by a missing method,
    RFC 7636 §4.3) is ``invalid_request``, sent back to the app; so are unknown methods and
    a malformed challenge."""
    for extra in (
        {"code_challenge": VERIFIER, "code_challenge_method": "plain"},
        {"code_challenge": CHALLENGE},
        {"code_challenge": CHALLENGE, "code_challenge_method": "s256"},
        {"code_challenge": CHALLENGE, "code_challenge_method": "S512"},
        {"code_challenge": "short", "code_challenge_method": "S256"},
        {"code_challenge_method": "S256"},
    ):
        response = await logged_in.get("/oauth/authorize", params=authorize_params(registered, **extra))
        assert response.status_code == 302, (extra, response.text)
        params = query(response.headers["location"])
        assert params["error"] == "invalid_request" and "code" not in params, extra
        assert params["state"] == "xyz" and params["iss"] == "http://localhost:8000"
