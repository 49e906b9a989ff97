"""Helpers for OAuth tests: register apps, walk the authorization flow, call the token endpoint."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from frontdesk.oauth.models import Person
from frontdesk.services import accounts, apps
from tests.support import PASSWORD, Browser, csrf_from

CALLBACK = "https://app.example/auth/callback"
TOKEN_URL = "/oauth/access_token"


@dataclass
class RegisteredApp:
    client_id: str
    client_secret: str | None
    test_token: str
    redirect_uri: str


async def make_user(state: Any, db: Any, email: str, name: str = "Test User") -> Person:
    person = await accounts.create_user(db, state.passwords, email=email, password=PASSWORD, name=name)
    await db.commit()
    return person


async def register_app(
    state: Any,
    db: Any,
    owner: Person,
    *,
    redirect_uris: list[str] | None = None,
    scopes: str = "read_user read_memberships",
    **kwargs: Any,
) -> RegisteredApp:
    uris = redirect_uris or [CALLBACK]
    created = await apps.register_app(
        db,
        state.server_secret,
        owner=owner,
        name=kwargs.pop("name", "Test App"),
        redirect_uris=uris,
        scopes=scopes,
        **kwargs,
    )
    await db.commit()
    return RegisteredApp(created.app.client_id, created.client_secret, created.test_access_token, uris[0])


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"authorization": f"Basic {raw}"}


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def authorize_params(app: RegisteredApp, **extra: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "state": "xyz",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


async def consent(
    browser: Browser, app: RegisteredApp, decision: str = "approve", **extra: str | None
) -> httpx.Response:
    """Open the authorization URL (logged in) and press Approve or Deny on the consent page."""
    page = await browser.get("/oauth/authorize", params=authorize_params(app, **extra))
    if page.status_code != 200:
        return page
    hidden = dict(_hidden_fields(page.text))
    hidden["decision"] = decision
    hidden["csrf_token"] = csrf_from(page.text.split('action="/oauth/authorize"', 1)[1])
    return await browser.post("/oauth/authorize", data=hidden)


def _hidden_fields(html: str) -> list[tuple[str, str]]:
    import html as htmlmod
    import re

    form = html.split('action="/oauth/authorize"', 1)[1].split("</form>", 1)[0]
    return [
        (htmlmod.unescape(n), htmlmod.unescape(v))
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
        if n != "csrf_token"
    ]


async def get_code(browser: Browser, app: RegisteredApp, **extra: str | None) -> str:
    response = await consent(browser, app, **extra)
    assert response.status_code in (302, 303), response.text
    params = query(response.headers["location"])
    assert "code" in params, params
    return params["code"]


async def exchange(
    client: httpx.AsyncClient | Browser, app: RegisteredApp, code: str, **extra: str
) -> httpx.Response:
    data = {
        "client_id": app.client_id,
        "client_secret": app.client_secret or "",
        "grant_type": "authorization_code",
        "code": code,
        **extra,
    }
    return await client.post(TOKEN_URL, data={k: v for k, v in data.items() if v != ""})
