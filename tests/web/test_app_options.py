"""App options: require PKCE, expiring access tokens (with refresh tokens), and the resource
server flag, on the app page, the CLI and in seed files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdesk.errors import FieldError
from frontdesk.oauth import pkce
from frontdesk.services import apps
from frontdesk.store.models import App
from tests.oauth_support import authorize_params, exchange, get_code, make_user, query, register_app
from tests.support import Browser
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture


@pytest.fixture
async def dev(browser: Browser) -> Browser:
    await browser.signup("dev@example.com", name="Dev Eloper")
    return browser


def form(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "My App",
        "name_in_space": "",
        "main_url": "",
        "redirect_uris": "https://example.com/cb",
        "scope": ["read_user"],
        "password_grant": "1",
        "access_token_ttl": "",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


async def register(b: Browser, **overrides: Any) -> httpx.Response:
    return await b.submit("/oauth2_clients/new", form(**overrides))


async def the_app(db: Any) -> App:
    db.expire_all()
    row: App = (await db.execute(select(App))).scalar_one()
    return row


def field_error(page: httpx.Response, name: str) -> str | None:
    match = re.search(rf'<small class="error" id="e-{name}">([^<]*)</small>', page.text)
    return match.group(1) if match else None


async def test_defaults_never_expire_and_no_pkce(dev: Browser, db: Any) -> None:
    page = await dev.get("/oauth2_clients/new")
    assert 'name="require_pkce" value="1">' in page.text
    assert 'name="access_token_ttl" type="number" value=""' in page.text
    assert "refresh_token" in page.text  # the form says what the lifetime brings
    assert 'name="can_introspect"' not in page.text  # CLI and seed files only
    assert (await register(dev)).status_code == 303
    row = await the_app(db)
    assert row.access_token_ttl is None and not row.require_pkce and not row.can_introspect


async def test_register_with_options(dev: Browser, db: Any) -> None:
    response = await register(dev, require_pkce="1", access_token_ttl=" 3600 ", can_introspect="1")
    assert response.status_code == 303, response.text
    row = await the_app(db)
    assert row.require_pkce and row.access_token_ttl == 3600
    assert not row.can_introspect  # not a form field: ignored
    page = await dev.get(response.headers["location"])
    assert re.search(r'name="require_pkce" value="1" checked', page.text)
    assert 'name="access_token_ttl" type="number" value="3600"' in page.text


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "whole number"), ("-5", "whole number"), ("299", "300 to 31536000"), ("31536001", "300 to")],
)
async def test_lifetime_refused(dev: Browser, db: Any, value: str, message: str) -> None:
    response = await register(dev, access_token_ttl=value)
    assert response.status_code == 422
    error = field_error(response, "access_token_ttl")
    assert error and message in error
    assert f'value="{value}"' in response.text  # what was typed is kept
    assert (await db.execute(select(App))).first() is None


async def test_public_apps_always_require_pkce(dev: Browser, db: Any) -> None:
    response = await register(dev, public="1")  # require_pkce not ticked
    assert response.status_code == 303
    row = await the_app(db)
    assert row.public and row.require_pkce
    url = response.headers["location"]
    page = await dev.get(url)
    assert re.search(r'name="require_pkce" value="1" checked disabled', page.text)
    # Saving the page (the disabled box is not sent) keeps it on.
    saved = await dev.submit(url, form(password_grant=None))
    assert saved.status_code == 303
    assert (await the_app(db)).require_pkce
    await apps.update_app(db, row.client_id, require_pkce=False)
    await db.commit()
    assert (await the_app(db)).require_pkce


async def test_edit_options(dev: Browser, db: Any) -> None:
    url = (await register(dev)).headers["location"]
    saved = await dev.submit(url, form(require_pkce="1", access_token_ttl="600"))
    assert saved.status_code == 303
    row = await the_app(db)
    assert row.require_pkce and row.access_token_ttl == 600
    bad = await dev.submit(url, form(access_token_ttl="ten"))
    assert bad.status_code == 422 and field_error(bad, "access_token_ttl")
    assert (await the_app(db)).access_token_ttl == 600
    cleared = await dev.submit(url, form(access_token_ttl=""))
    assert cleared.status_code == 303
    row = await the_app(db)
    assert row.access_token_ttl is None and not row.require_pkce


async def test_service_validation(state: Any, db: Any) -> None:
    owner = await make_user(state, db, "owner@example.com")
    created = await register_app(state, db, owner, access_token_ttl=300, can_introspect=True)
    row = await apps.get_app(db, created.client_id)
    assert row is not None and row.access_token_ttl == 300 and row.can_introspect
    with pytest.raises(FieldError) as caught:
        await apps.update_app(db, row.client_id, access_token_ttl=10)
    assert caught.value.field == "access_token_ttl"
    updated = await apps.update_app(db, row.client_id, access_token_ttl="", can_introspect=False)
    await db.commit()
    assert updated.access_token_ttl is None and not updated.can_introspect
    stored = await the_app(db)
    assert stored.access_token_ttl is None and not stored.can_introspect


# ---- PKCE required for a confidential app that opted in ---------------------------------------


@pytest.mark.rfc("7636 4.4.1")
async def test_require_pkce_for_a_confidential_app(state: Any, db: Any, new_browser: Any) -> None:
    owner = await make_user(state, db, "owner@example.com")
    await make_user(state, db, "pat@example.com")
    app = await register_app(state, db, owner, require_pkce=True)
    b: Browser = new_browser()
    assert (await b.login("pat@example.com")).status_code == 303
    refused = await b.get("/oauth/authorize", params=authorize_params(app))
    assert refused.status_code == 302  # a GET (no consent decision) redirects with 302
    error = query(refused.headers["location"])
    assert error["error"] == "invalid_request" and error["state"] == "xyz"
    assert refused.headers["location"].startswith(app.redirect_uri)
    verifier = "c" * 43
    code = await get_code(b, app, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    assert (await exchange(b, app, code)).json()["error"] == "invalid_grant"  # no verifier
    code = await get_code(b, app, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    response = await exchange(b, app, code, code_verifier=verifier)
    assert response.status_code == 200, response.text


# ---- CLI and seed files -----------------------------------------------------------------------


def test_cli_options(cli: Any) -> None:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    base = ["clients", "create", "Resource", "--owner", "dev@example.com"]
    base += ["--redirect-uri", "https://example.com/cb", "--scope", "read_user"]
    plain = ok_json(cli(*base, "--json"))
    assert plain["require_pkce"] is False and plain["access_token_ttl"] is None
    assert plain["can_introspect"] is False
    created = ok_json(cli(*base, "--require-pkce", "--access-token-ttl", "900", "--can-introspect", "--json"))
    assert created["require_pkce"] and created["access_token_ttl"] == 900 and created["can_introspect"]
    human = cli("clients", "show", created["client_id"])
    assert "require_pkce, can_introspect" in human.stdout
    assert "tokens:        expire after 900 s, with refresh tokens" in human.stdout
    client_id = created["client_id"]
    updated = ok_json(
        cli(
            "clients",
            "update",
            client_id,
            "--access-token-ttl",
            "0",
            "--no-can-introspect",
            "--no-require-pkce",
            "--json",
        )
    )
    assert updated["access_token_ttl"] is None and not updated["can_introspect"]
    assert not updated["require_pkce"]
    assert "tokens:        never expire" in cli("clients", "show", client_id).stdout
    again = ok_json(cli("clients", "update", client_id, "--access-token-ttl", "3600", "--json"))
    assert again["access_token_ttl"] == 3600 and again["name"] == "Resource"
    bad = cli("clients", "update", client_id, "--access-token-ttl", "5")
    assert bad.exit_code == 1 and "access-token-ttl: Use 300 to 31536000" in bad.stderr
    public = ok_json(cli(*base, "--public", "--json"))
    assert public["require_pkce"] is True


def test_seed_options(cli: Any, tmp_path: Path) -> None:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    entry = {
        "name": "Gateway",
        "client_id": "api-gateway",
        "owner": "dev@example.com",
        "redirect_uris": ["https://gateway.example/cb"],
        "scopes": "read_user",
        "can_introspect": True,
        "require_pkce": True,
        "access_token_ttl": 600,
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"apps": [entry]}))
    ok_json(cli("seed", str(path), "--json"))
    shown = ok_json(cli("clients", "show", "api-gateway", "--json"))
    assert shown["can_introspect"] and shown["require_pkce"] and shown["access_token_ttl"] == 600
    entry.update(client_id="other-app", access_token_ttl="soon")
    path.write_text(json.dumps({"apps": [entry]}))
    result = cli("seed", str(path))
    assert result.exit_code == 1 and "access_token_ttl: must be a number of seconds" in result.stderr
