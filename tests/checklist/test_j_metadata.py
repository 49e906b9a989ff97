"""J. Mix-up, ``iss`` and metadata (checklist items 37–38)."""

from __future__ import annotations

from typing import Any

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from tests.oauth_support import RegisteredApp, authorize_params, consent, query
from tests.support import Browser

HOSTS = ["localhost:8000", "co-up.localhost:8000", "members.harbour.test:8000"]
METADATA = "/.well-known/oauth-authorization-server"


@pytest.mark.rfc("8414 2")
@pytest.mark.rfc("8414 3")
@pytest.mark.rfc("9700 2.6")
@pytest.mark.parametrize("host", HOSTS)
async def test_item_37_per_tenant_metadata(tenants: Any, new_browser: Any, host: str) -> None:
    """Each host (main site, space subdomain, custom domain) is its own issuer: the scheme and
    host that served the document, no trailing slash, every endpoint under it. (oauth4webapi's
    processDiscoveryResponse is not run here, no npm client in the dev tools; the issuer check
    it does is the exact string comparison below.)"""
    b: Browser = new_browser(host)
    response = await b.get(METADATA)
    assert response.status_code == 200
    doc = response.json()
    issuer = f"http://{host}"
    assert doc["issuer"] == issuer
    for field in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        assert doc[field].startswith(issuer + "/"), field
    assert doc["response_types_supported"] == ["code"]
    assert {"authorization_code", "password"} <= set(doc["grant_types_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(doc["token_endpoint_auth_methods_supported"])
    assert set(doc["token_endpoint_auth_methods_supported"]) <= {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "read_user" in doc["scopes_supported"] and "signin" not in doc["scopes_supported"]
    # The OpenID path answers the same document.
    assert (await b.get("/.well-known/openid-configuration")).json() == doc


@pytest.mark.rfc("8414 2")
@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://frontdesk.test"}])
async def test_item_37_issuer_over_https(tenants: Any, new_browser: Any) -> None:
    """Over https the documents also pass Authlib's RFC 8414 validation (which insists on an
    https issuer)."""
    for host in ("frontdesk.test", "co-up.frontdesk.test", "members.harbour.test"):
        b: Browser = new_browser(host, scheme="https")
        doc = (await b.get(METADATA)).json()
        assert doc["issuer"] == f"https://{host}"
        AuthorizationServerMetadata(doc).validate()


@pytest.mark.rfc("9207 2")
@pytest.mark.rfc("9700 4.4")
@pytest.mark.parametrize("host", HOSTS)
async def test_item_38_iss_in_every_authorization_response(
    tenants: Any, registered: RegisteredApp, new_browser: Any, host: str
) -> None:
    """Success, access_denied, invalid_scope, unsupported_response_type, login_required and
    consent_required all carry ``iss`` equal to that host's metadata issuer, exactly."""
    b: Browser = new_browser(host)
    issuer = (await b.get(METADATA)).json()["issuer"]
    assert not issuer.endswith("/")
    anonymous = await b.get("/oauth/authorize", params=authorize_params(registered, prompt="none"))
    assert anonymous.status_code == 302
    params = query(anonymous.headers["location"])
    assert params["error"] == "login_required" and params["iss"] == issuer and params["state"] == "xyz"
    assert (await b.login("pat@example.com")).status_code == 303
    locations = {
        "consent_required": await b.get(
            "/oauth/authorize", params=authorize_params(registered, prompt="none")
        ),
        "invalid_scope": await b.get("/oauth/authorize", params=authorize_params(registered, scope="bogus")),
        "unsupported_response_type": await b.get(
            "/oauth/authorize", params=authorize_params(registered, response_type="token")
        ),
        "access_denied": await consent(b, registered, decision="deny"),
        "code": await consent(b, registered),
    }
    for expected, response in locations.items():
        assert response.status_code in (302, 303), expected
        params = query(response.headers["location"])
        assert params["iss"] == issuer, expected
        assert (params.get("error") or "code") == expected
        assert params["state"] == "xyz"
