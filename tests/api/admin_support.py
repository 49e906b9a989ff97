"""Helpers for the admin API tests: an administrative app and its client_credentials tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from frontdesk.oauth.scopes import ADMIN_SCOPES
from tests.oauth_support import TOKEN_URL, RegisteredApp, basic, make_user, register_app
from tests.support import Browser


@dataclass
class Operator:
    """An administrative app holding every admin scope; ``token(scopes)`` gets a token."""

    app: RegisteredApp
    browser: Browser
    owner: Any

    async def token(self, scopes: str, **extra: str) -> str:
        assert self.app.client_secret is not None
        response = await self.browser.post(
            TOKEN_URL,
            data={"grant_type": "client_credentials", "scope": scopes, **extra},
            headers=basic(self.app.client_id, self.app.client_secret),
        )
        assert response.status_code == 200, response.text
        raw: str = response.json()["access_token"]
        return raw

    async def headers(self, scopes: str) -> dict[str, str]:
        return {"authorization": f"Bearer {await self.token(scopes)}"}


@pytest.fixture(name="operator")
async def operator_fixture(state: Any, db: Any, browser: Browser) -> Operator:
    owner = await make_user(state, db, "ops@example.com", "Ops")
    app = await register_app(
        state, db, owner, name="Platform", scopes="read_user", admin_scopes=" ".join(ADMIN_SCOPES)
    )
    return Operator(app=app, browser=browser, owner=owner)
