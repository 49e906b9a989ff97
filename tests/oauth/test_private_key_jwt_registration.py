"""Registering apps with keys (private_key_jwt, RFC 7523 §2.2; RFC 7591 §2 ``jwks``,
``jwks_uri``) everywhere apps are registered: the app pages, the admin API, the CLI and
dynamic registration; and what a registered JWK Set may hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from frontdesk.errors import FieldError
from frontdesk.oauth.client_keys import KeySetError, clean_key_set
from frontdesk.services import apps
from frontdesk.store.models import App
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.keys_support import ISSUER, assertion, assertion_form, ec_key, ed_key, jwks, rsa_key
from tests.oauth_support import TOKEN_URL, make_user, register_app
from tests.support import Browser
from tests.test_cli import cli, ok_json  # noqa: F401  (the cli fixture)

KEY = ec_key("reg-1")


async def client_credentials(b: Browser, client_id: str, key: Any = KEY) -> httpx.Response:
    form = assertion_form(assertion(key, client_id), grant_type="client_credentials")
    return await b.post(TOKEN_URL, data=form)


# ---- what a JWK Set may hold ------------------------------------------------------------------


@pytest.mark.rfc("7591 2")
@pytest.mark.parametrize(
    ("case", "keys", "reason"),
    [
        ("a private EC key", [ec_key("p").as_dict(private=True)], "private key material"),
        ("a private RSA key", [rsa_key("p").as_dict(private=True)], "private key material"),
        ("a symmetric key", [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}], "key type 'oct'"),
        ("a short RSA key", [rsa_key("short", bits=1024).as_dict(private=False)], "2048 bits"),
        (
            "a P-521 key",
            [{"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "big"}],
            "curve 'P-521'",
        ),
        ("an encryption key", [{**ec_key("enc").as_dict(private=False), "use": "enc"}], "signing key"),
        ("an HMAC algorithm", [{**ec_key("h").as_dict(private=False), "alg": "HS256"}], "'HS256'"),
        ("a kid used twice", [ec_key("same").as_dict(private=False)] * 2, "used twice"),
        ("no keys", [], "no keys"),
        (
            "a broken key",
            [{"kty": "EC", "crv": "P-256", "x": "!", "y": "!", "kid": "b"}],
            "not a valid EC key",
        ),
    ],
)
def test_refused_key_sets(case: str, keys: list[Any], reason: str) -> None:
    with pytest.raises(KeySetError, match=re.escape(reason)):
        clean_key_set({"keys": keys})


def test_accepted_key_sets() -> None:
    text = clean_key_set(jwks(ec_key("a"), rsa_key("b"), ed_key("c")))
    assert [k["kid"] for k in json.loads(text)["keys"]] == ["a", "b", "c"]
    with pytest.raises(KeySetError, match="not valid JSON"):
        clean_key_set("{nope")
    with pytest.raises(KeySetError, match='"keys" array'):
        clean_key_set({"key": []})


async def test_the_service_checks_the_keys_with_the_method(state: Any, db: Any) -> None:
    owner = await make_user(state, db, "keys@example.com")
    common: dict[str, Any] = {"owner": owner, "name": "K", "redirect_uris": ["https://k.example/cb"]}
    with pytest.raises(FieldError, match="needs the app's public keys"):
        await apps.register_app(
            db,
            state.server_secret,
            scopes="read_user",
            token_endpoint_auth_method="private_key_jwt",
            **common,
        )
    with pytest.raises(FieldError, match="not both"):
        await apps.register_app(
            db,
            state.server_secret,
            scopes="read_user",
            token_endpoint_auth_method="private_key_jwt",
            jwks=jwks(KEY),
            jwks_uri="https://k.example/jwks.json",
            **common,
        )
    with pytest.raises(FieldError, match="public app"):
        await apps.register_app(
            db,
            state.server_secret,
            scopes="read_user",
            public=True,
            token_endpoint_auth_method="private_key_jwt",
            jwks=jwks(KEY),
            **common,
        )
    with pytest.raises(FieldError, match="client_secret_jwt is not offered"):
        await apps.register_app(
            db,
            state.server_secret,
            scopes="read_user",
            token_endpoint_auth_method="client_secret_jwt",
            **common,
        )
    with pytest.raises(FieldError, match="private key material"):
        await apps.register_app(
            db,
            state.server_secret,
            scopes="read_user",
            token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [KEY.as_dict(private=True)]},
            **common,
        )


async def test_a_key_app_has_no_secret_to_rotate(state: Any, db: Any) -> None:
    owner = await make_user(state, db, "rotate@example.com")
    app = await register_app(
        state, db, owner, scopes="read_user", token_endpoint_auth_method="private_key_jwt", jwks=jwks(KEY)
    )
    with pytest.raises(FieldError, match="no client secret"):
        await apps.rotate_secret(db, state.server_secret, app.client_id)
    row = await db.get(App, app.client_id)
    assert row.secret_digest is None and row.secret_sealed is None


# ---- the app pages ----------------------------------------------------------------------------


def page_form(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Key App",
        "redirect_uris": "https://example.com/cb",
        "scope": ["read_user"],
        "client_credentials": "1",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": jwks(KEY),
        "jwks_uri": "",
    }
    values.update(overrides)
    return values


async def test_pages_register_show_and_change_keys(browser: Browser) -> None:
    await browser.signup("dev@example.com", name="Dev Eloper")
    new = await browser.get("/oauth2_clients/new")
    assert 'value="private_key_jwt"' in new.text
    made = await browser.submit("/oauth2_clients/new", page_form())
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    client_id = location.rsplit("/", 1)[1]
    page = await browser.get(location)
    assert page.status_code == 200
    assert 'id="client-secret"' not in page.text
    assert "none: this app authenticates with its keys" in page.text
    assert "<code>reg-1</code>" in page.text
    assert "Regenerate client secret" not in page.text
    assert (await client_credentials(browser, client_id)).status_code == 200

    # Rotating to a key published at a URL: the page keeps the choice and shows the URL.
    edit = page_form(jwks="", jwks_uri="https://keys.example/jwks.json")
    saved = await browser.submit(location, edit)
    assert saved.status_code == 303, saved.text
    page = await browser.get(location)
    assert "https://keys.example/jwks.json" in page.text


async def test_pages_refuse_a_private_key(browser: Browser) -> None:
    await browser.signup("dev@example.com", name="Dev Eloper")
    private = json.dumps({"keys": [KEY.as_dict(private=True)]})
    refused = await browser.submit("/oauth2_clients/new", page_form(jwks=private))
    assert refused.status_code == 422
    assert "private key material" in refused.text


async def test_pages_speak_german(browser: Browser) -> None:
    await browser.signup("dev@example.com", name="Dev Eloper")
    page = await browser.get("/oauth2_clients/new", headers={"accept-language": "de"})
    assert "Private key JWT: signierte Assertions" in page.text


# ---- the admin API ----------------------------------------------------------------------------


async def test_admin_api_round_trip(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    headers = await operator.headers("admin:apps:read admin:apps:write")
    b = operator.browser
    made = await b.post(
        "/api/admin/apps",
        json={
            "owner_id": dev.id,
            "name": "Keyed",
            "redirect_uris": ["https://keyed.example/cb"],
            "scopes": "read_user",
            "client_credentials": True,
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": json.loads(jwks(KEY)),
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["client_secret"] is None
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert [k["kid"] for k in body["jwks"]["keys"]] == ["reg-1"]
    assert (await client_credentials(b, body["client_id"])).status_code == 200

    rotated = ec_key("reg-2")
    changed = await b.http.patch(
        f"/api/admin/apps/{body['client_id']}", json={"jwks": json.loads(jwks(rotated))}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert [k["kid"] for k in changed.json()["jwks"]["keys"]] == ["reg-2"]
    assert (await client_credentials(b, body["client_id"], rotated)).status_code == 200
    assert (await client_credentials(b, body["client_id"], KEY)).status_code == 401

    refused = await b.http.patch(
        f"/api/admin/apps/{body['client_id']}",
        json={"jwks": {"keys": [KEY.as_dict(private=True)]}},
        headers=headers,
    )
    assert refused.status_code == 400
    assert "private key material" in refused.text


# ---- the CLI ------------------------------------------------------------------------------------


def test_cli_round_trip(cli: Any, tmp_path: Path) -> None:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    key_file = tmp_path / "jwks.json"
    key_file.write_text(jwks(KEY))
    made = ok_json(
        cli(
            "clients",
            "create",
            "CLI Keys",
            "--owner",
            "dev@example.com",
            "--redirect-uri",
            "https://example.com/cb",
            "--scope",
            "read_user",
            "--private-key-jwt",
            "--jwks",
            str(key_file),
            "--json",
        )
    )
    assert made["client_secret"] is None
    assert made["token_endpoint_auth_method"] == "private_key_jwt"
    assert made["jwks"]["keys"][0]["kid"] == "reg-1"
    shown = cli("clients", "show", made["client_id"])
    assert "private_key_jwt" in shown.stdout
    changed = ok_json(
        cli(
            "clients",
            "update",
            made["client_id"],
            "--no-jwks",
            "--jwks-uri",
            "https://keys.example/jwks.json",
            "--json",
        )
    )
    assert changed["jwks"] is None
    assert changed["jwks_uri"] == "https://keys.example/jwks.json"
    back = ok_json(cli("clients", "update", made["client_id"], "--no-private-key-jwt", "--json"))
    assert back["token_endpoint_auth_method"] == "client_secret_basic"
    refused = cli(
        "clients",
        "create",
        "Bad",
        "--owner",
        "dev@example.com",
        "--redirect-uri",
        "https://example.com/cb",
        "--scope",
        "read_user",
        "--private-key-jwt",
    )
    assert refused.exit_code != 0
    assert "public keys" in refused.output


# ---- dynamic registration (RFC 7591) ----------------------------------------------------------

KEYED_CLIENT = {
    "client_name": "Keyed RP",
    "redirect_uris": ["https://rp.example/cb"],
    "token_endpoint_auth_method": "private_key_jwt",
    "grant_types": ["authorization_code"],
    "response_types": ["code"],
    "scope": "openid read_user",
}


@pytest.mark.rfc("7591 3.2.1")
async def test_dynamic_registration_with_jwks(browser: Browser, db: Any) -> None:
    body = {**KEYED_CLIENT, "jwks": json.loads(jwks(KEY))}
    response = await browser.post("/oauth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    assert "client_secret" not in data
    assert data["token_endpoint_auth_method"] == "private_key_jwt"
    assert data["jwks"]["keys"][0]["kid"] == "reg-1"
    app = await db.get(App, data["client_id"])
    assert app.public is False and app.secret_digest is None
    assert app.token_endpoint_auth_method == "private_key_jwt"
    # A key client authenticates at the revocation endpoint with an assertion (no grant needed).
    revoked = await browser.post(
        "/oauth/revoke", data=assertion_form(assertion(KEY, data["client_id"], aud=ISSUER), token="nothing")
    )
    assert revoked.status_code == 200, revoked.text


@pytest.mark.rfc("7591 3.2.1")
async def test_dynamic_registration_with_jwks_uri(browser: Browser) -> None:
    body = {**KEYED_CLIENT, "jwks_uri": "https://rp.example/jwks.json"}
    response = await browser.post("/oauth/register", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["jwks_uri"] == "https://rp.example/jwks.json"


@pytest.mark.rfc("7591 3.2.2")
@pytest.mark.parametrize(
    ("case", "changes", "words"),
    [
        ("client_secret_jwt", {"token_endpoint_auth_method": "client_secret_jwt"}, "client_secret_jwt"),
        ("no keys", {}, "jwks or jwks_uri"),
        ("both", {"jwks": json.loads(jwks(KEY)), "jwks_uri": "https://rp.example/j"}, "not both"),
        ("a private key", {"jwks": {"keys": [KEY.as_dict(private=True)]}}, "private key material"),
        ("jwks not an object", {"jwks": "keys"}, "JWK Set"),
        ("jwks_uri with a fragment", {"jwks_uri": "https://rp.example/j#x"}, "fragment"),
    ],
)
async def test_dynamic_registration_refuses(
    browser: Browser, case: str, changes: dict[str, Any], words: str
) -> None:
    response = await browser.post("/oauth/register", json={**KEYED_CLIENT, **changes})
    assert response.status_code == 400, case
    assert response.json()["error"] == "invalid_client_metadata"
    assert words in response.json()["error_description"]
