"""K. Transport (checklist item 39)."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.services import accounts
from tests.support import PASSWORD, Browser

PROXY = "198.51.100.7"  # the test browser's default peer address
HTTPS = {"public_url": "https://frontdesk.test", "trusted_proxies": [PROXY]}
PLAIN = {"x-forwarded-proto": "http"}
TLS = {"x-forwarded-proto": "https"}


def refused(response: Any) -> bool:
    """400 ``use https``, never served (200) and never redirected (3xx)."""
    return (
        response.status_code == 400
        and "location" not in response.headers
        and response.json()
        == {
            "error": "invalid_request",
            "error_description": "use https",
        }
    )


@pytest.mark.rfc("6749 1.6")
@pytest.mark.rfc("6750 5.3")
@pytest.mark.rfc("9700 4.13")
@pytest.mark.parametrize("settings_overrides", [HTTPS])
async def test_item_39_https_enforcement(state: Any, db: Any, new_browser: Any) -> None:
    """What Frontdesk itself does behind its TLS-terminating proxy: credential requests that
    reached the proxy over plain http are refused, not redirected; https answers carry HSTS and
    Secure ``__Host-`` cookies; ``X-Forwarded-Proto`` is believed only from the configured proxy.

    Not applicable: the TLS configuration itself (sslyze/testssl.sh) belongs to the proxy that
    terminates TLS, not to Frontdesk. Optional and not done: revoking a token seen over http."""
    await accounts.create_user(db, state.passwords, email="pat@example.com", password=PASSWORD)
    await db.commit()
    proxy: Browser = new_browser("frontdesk.test")
    form = {"grant_type": "password", "username": "pat@example.com", "password": PASSWORD}
    for path in ("/oauth/token", "/oauth/access_token", "/oauth/revoke", "/oauth/introspect"):
        assert refused(await proxy.post(path, data=form, headers=PLAIN)), path
    assert refused(await proxy.get("/api/user", headers={**PLAIN, "authorization": "Bearer fdat_x"}))
    assert refused(await proxy.get("/api/user", params={"access_token": "fdat_x"}, headers=PLAIN))
    assert refused(await proxy.get("/login", headers=PLAIN))
    assert refused(
        await proxy.post("/login", data={"email": "pat@example.com", "password": PASSWORD}, headers=PLAIN)
    )
    assert refused(await proxy.get("/oauth/authorize?client_id=x", headers=PLAIN))
    # Harmless pages are redirected to the configured https origin.
    home = await proxy.get("/", headers=PLAIN)
    assert home.status_code == 308 and home.headers["location"] == "https://frontdesk.test/"

    # Over https (through the proxy): served, with HSTS, and cookies are Secure and __Host-.
    login_page = await proxy.get("/login", headers=TLS)
    assert login_page.status_code == 200
    assert login_page.headers["strict-transport-security"].startswith("max-age=")
    assert int(login_page.headers["strict-transport-security"].split("=")[1].split(";")[0]) >= 15_552_000
    token = await proxy.post("/oauth/token", data={"grant_type": "nope"}, headers=TLS)
    assert token.json()["error"] == "unsupported_grant_type" and "strict-transport-security" in token.headers
    tls: Browser = new_browser("frontdesk.test", scheme="https")  # TLS to Frontdesk itself
    login = await tls.submit("/login", {"email": "pat@example.com", "password": PASSWORD})
    assert login.status_code == 303
    cookies = login.headers.get_list("set-cookie")
    assert cookies and all(c.startswith("__Host-") for c in cookies), cookies
    for cookie in cookies:
        attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path=/"} <= attrs and not any(a.startswith("domain") for a in attrs)

    # A forged X-Forwarded-Proto from anyone but the proxy is ignored.
    stranger: Browser = new_browser("frontdesk.test", client_ip="203.0.113.9")
    assert refused(await stranger.post("/oauth/token", data=form, headers=TLS))
    assert refused(await stranger.get("/api/user", headers={**TLS, "authorization": "Bearer fdat_x"}))
