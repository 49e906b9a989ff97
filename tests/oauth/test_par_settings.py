""" "PAR required" per app (RFC 9126 §6) where apps are configured: the app page, the admin
API, the CLI and dynamic registration (``require_pushed_authorization_requests``)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.store.models import App
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import make_user, query
from tests.support import Browser
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture

FORM = {
    "name": "My App",
    "name_in_space": "",
    "main_url": "",
    "redirect_uris": "https://example.com/cb",
    "scope": ["read_user"],
    "password_grant": "1",
    "access_token_ttl": "",
}


async def par_required(db: Any, client_id: str | None = None) -> bool:
    db.expire_all()
    stmt = select(App.par_required)
    if client_id is not None:
        stmt = stmt.where(App.client_id == client_id)
    return bool((await db.execute(stmt)).scalar_one())


async def test_the_app_page(browser: Browser, db: Any) -> None:
    await browser.signup("dev@example.com", name="Dev Eloper")
    new = await browser.get("/oauth2_clients/new")
    assert 'name="par_required" value="1">' in new.text
    made = await browser.submit("/oauth2_clients/new", {**FORM, "par_required": "1"})
    assert made.status_code == 303, made.text
    assert await par_required(db)
    url = made.headers["location"]
    page = await browser.get(url)
    assert 'id="par-required"' in page.text
    assert "PAR required" in page.text
    assert 'name="par_required" value="1" checked' in page.text
    # Saved without the box ticked: switched off, and the page says nothing about PAR.
    saved = await browser.submit(url, FORM)
    assert saved.status_code == 303
    assert not await par_required(db)
    assert 'id="par-required"' not in (await browser.get(url)).text


async def test_the_app_page_in_german(browser: Browser, db: Any) -> None:
    await browser.signup("dev@example.com", name="Dev Eloper")
    made = await browser.submit("/oauth2_clients/new", {**FORM, "par_required": "1"})
    page = await browser.get(made.headers["location"], headers={"accept-language": "de"})
    assert "PAR erforderlich" in page.text


async def test_the_admin_api(operator: Operator, state: Any, db: Any) -> None:
    dev = await make_user(state, db, "dev@example.com", "Dev")
    headers = await operator.headers("admin:apps:read admin:apps:write")
    b = operator.browser
    made = await b.post(
        "/api/admin/apps",
        json={
            "owner_id": dev.id,
            "name": "Strict",
            "redirect_uris": ["https://strict.example/cb"],
            "scopes": "read_user",
            "par_required": True,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["par_required"] is True
    client_id = made.json()["client_id"]
    assert await par_required(db, client_id)
    changed = await b.http.patch(
        f"/api/admin/apps/{client_id}", json={"par_required": False}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["par_required"] is False
    assert not await par_required(db, client_id)


def test_the_cli(cli: Any) -> None:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    base = ["clients", "create", "Strict", "--owner", "dev@example.com"]
    base += ["--redirect-uri", "https://example.com/cb", "--scope", "read_user"]
    assert ok_json(cli(*base, "--json"))["par_required"] is False
    created = ok_json(cli(*base, "--par-required", "--json"))
    assert created["par_required"] is True
    assert "par_required" in cli("clients", "show", created["client_id"]).stdout
    updated = ok_json(cli("clients", "update", created["client_id"], "--no-par-required", "--json"))
    assert updated["par_required"] is False
    again = ok_json(cli("clients", "update", created["client_id"], "--par-required", "--json"))
    assert again["par_required"] is True


@pytest.mark.rfc("9126 6")
async def test_dynamic_registration(browser: Browser, db: Any, person: Any) -> None:
    body = {"redirect_uris": ["http://127.0.0.1:8123/cb"], "require_pushed_authorization_requests": True}
    made = await browser.post("/oauth/register", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["require_pushed_authorization_requests"] is True
    client_id = made.json()["client_id"]
    assert await par_required(db, client_id)
    # The registered client's direct requests are refused once the person has logged in.
    assert (await browser.login("pat@example.com")).status_code == 303
    direct = await browser.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": "http://127.0.0.1:8123/cb",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert direct.status_code == 302
    assert query(direct.headers["location"])["error"] == "invalid_request"
    plain = await browser.post("/oauth/register", json={"redirect_uris": ["http://127.0.0.1:8123/cb"]})
    assert "require_pushed_authorization_requests" not in plain.json()
    assert not await par_required(db, plain.json()["client_id"])
    wrong = await browser.post(
        "/oauth/register", json={**body, "require_pushed_authorization_requests": "yes"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_client_metadata"
