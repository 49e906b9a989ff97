"""Public native apps are asked every time (issue 11, item 9; RFC 8252 §8.6): any program on
the device can listen on a loopback port or claim a private-use scheme and present the app's
client_id, so a consent on record proves nothing about who asks now."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.oauth import pkce
from tests.oauth_support import authorize_params, consent, query, register_app
from tests.support import Browser

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
S256 = {"code_challenge": pkce.s256(VERIFIER), "code_challenge_method": "S256"}


@pytest.mark.rfc("8252 8.6")
@pytest.mark.parametrize(
    ("registered", "first", "later"),
    [
        ("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", "http://127.0.0.1:40000/cb"),
        ("http://[::1]/cb", "http://[::1]:51234/cb", "http://[::1]:51234/cb"),
        ("com.example.app:/cb", "com.example.app:/cb", "com.example.app:/cb"),
    ],
)
async def test_a_public_native_app_gets_the_consent_page_every_time(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: str, first: str, later: str
) -> None:
    app = await register_app(state, db, dev, name="Native", redirect_uris=[registered], public=True)
    approved = await consent(logged_in, app, redirect_uri=first, **S256)
    assert approved.status_code == 303
    assert "code" in query(approved.headers["location"])
    again = await logged_in.get("/oauth/authorize", params=authorize_params(app, redirect_uri=later, **S256))
    assert again.status_code == 200
    assert 'action="/oauth/authorize"' in again.text  # the consent page, no silent code
    silent = await logged_in.get(
        "/oauth/authorize", params=authorize_params(app, redirect_uri=later, prompt="none", **S256)
    )
    assert silent.status_code == 302
    assert query(silent.headers["location"])["error"] == "consent_required"


@pytest.mark.rfc("8252 8.6")
async def test_apps_whose_identity_is_assured_keep_their_consent(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    """A confidential app on a loopback URI authenticates at the token endpoint, and a public
    app on an https URI is reached only at its own host: both are answered at once once the
    person consented."""
    confidential = await register_app(state, db, dev, name="Desktop", redirect_uris=["http://127.0.0.1/cb"])
    assert (
        await consent(logged_in, confidential, redirect_uri="http://127.0.0.1:5000/cb")
    ).status_code == 303
    again = await logged_in.get(
        "/oauth/authorize", params=authorize_params(confidential, redirect_uri="http://127.0.0.1:6000/cb")
    )
    assert again.status_code == 302
    assert "code" in query(again.headers["location"])
    spa = await register_app(
        state, db, dev, name="SPA", redirect_uris=["https://spa.example/cb"], public=True
    )
    assert (await consent(logged_in, spa, **S256)).status_code == 303
    web = await logged_in.get("/oauth/authorize", params=authorize_params(spa, **S256))
    assert web.status_code == 302
    assert "code" in query(web.headers["location"])
