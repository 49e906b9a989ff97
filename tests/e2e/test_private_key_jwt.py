"""A real client authenticating with private_key_jwt (RFC 7523 §2.2) against a real server:
Authlib's own ``PrivateKeyJWT`` client authentication, unmodified, doing client_credentials,
then introspecting and revoking its token; on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from tests.e2e.conftest import Server, cli, unique
from tests.keys_support import ec_key, jwks, rsa_key
from tests.support import PASSWORD

with warnings.catch_warnings():
    # Authlib 1.9 prefers its httpx2 fork and warns once when it runs on httpx, as here.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client

pytestmark = pytest.mark.e2e


def register(server: Server, tmp_path: Path, key_set: str) -> str:
    """An app with keys, registered with the CLI; its client id."""
    owner = f"{unique('keys')}@example.com"
    cli(server, "users", "create", owner, "--password", PASSWORD)
    path = tmp_path / "jwks.json"
    path.write_text(key_set)
    created = cli(
        server,
        "clients",
        "create",
        unique("Key Client"),
        "--owner",
        owner,
        "--scope",
        "read_user",
        "--redirect-uri",
        "https://keys.example/cb",
        "--client-credentials",
        "--private-key-jwt",
        "--jwks",
        str(path),
    )
    assert created["client_secret"] is None
    return str(created["client_id"])


def test_authlib_rs256_with_its_defaults(target: Server, tmp_path: Path) -> None:
    """Authlib's defaults: RS256, aud = the token endpoint URL, exp an hour after iat."""
    key = rsa_key("authlib-rsa")
    client_id = register(target, tmp_path, jwks(key))
    token_url = f"{target.base}/oauth/access_token"
    with OAuth2Client(
        client_id, key, token_endpoint_auth_method=PrivateKeyJWT(), scope="read_user"
    ) as client:
        token = client.fetch_token(token_url, grant_type="client_credentials")
        assert token["token_type"].lower() == "bearer"
        assert token["scope"] == "read_user"
        # Authlib makes a new assertion (new jti) for every request: a second token works.
        again = client.fetch_token(token_url, grant_type="client_credentials")
        assert again["access_token"] != token["access_token"]


def test_authlib_es256_with_the_issuer_as_audience(target: Server, tmp_path: Path) -> None:
    """ES256 with ``aud`` = the issuer (RFC 7523 §3, FAPI 2.0), at the token, introspection
    and revocation endpoints."""
    key = ec_key("authlib-ec")
    client_id = register(target, tmp_path, jwks(key))
    auth = PrivateKeyJWT(token_endpoint=target.base, alg="ES256", headers={"kid": "authlib-ec"})
    with OAuth2Client(
        client_id,
        key,
        token_endpoint_auth_method=auth,
        revocation_endpoint_auth_method=auth,
        scope="read_user",
    ) as client:
        token = client.fetch_token(f"{target.base}/oauth/access_token", grant_type="client_credentials")
        raw = token["access_token"]
        introspected = client.introspect_token(f"{target.base}/oauth/introspect", token=raw)
        assert introspected.status_code == 200, introspected.text
        assert introspected.json()["active"] is True
        revoked = client.revoke_token(f"{target.base}/oauth/revoke", token=raw)
        assert revoked.status_code == 200, revoked.text
        after = client.introspect_token(f"{target.base}/oauth/introspect", token=raw)
        assert after.json() == {"active": False}


def test_authlib_with_a_key_the_server_does_not_know_is_refused(target: Server, tmp_path: Path) -> None:
    client_id = register(target, tmp_path, jwks(rsa_key("registered")))
    stranger = rsa_key("registered")  # the same kid, another key
    client = OAuth2Client(client_id, stranger, token_endpoint_auth_method=PrivateKeyJWT())
    with client, pytest.raises(OAuthError) as refused:
        client.fetch_token(f"{target.base}/oauth/access_token", grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
