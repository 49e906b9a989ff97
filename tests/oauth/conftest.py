from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from frontdesk.services import spaces
from tests.oauth_support import RegisteredApp, make_user, register_app
from tests.support import Browser


@pytest.fixture
async def dev(state: Any, db: Any) -> Any:
    """The developer who owns the test app."""
    return await make_user(state, db, "dev@example.com", name="Dana Developer")


@pytest.fixture
async def registered(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name_in_space="Space Helper", main_url="https://app.example")


# The access token lifetime of ``expiring``, the app that opted in to expiring access tokens
# and rotating refresh tokens (RFC 6749 §1.5; project decisions 5 and 6).
TTL = 300


@pytest.fixture
async def expiring(state: Any, db: Any, dev: Any) -> RegisteredApp:
    """A confidential app with expiring access tokens and refresh tokens."""
    return await register_app(state, db, dev, name="Expiring", access_token_ttl=TTL)


@pytest.fixture
async def person(state: Any, db: Any) -> Any:
    return await make_user(state, db, "pat@example.com", name="Pat Person")


@pytest.fixture
async def logged_in(browser: Browser, person: Any) -> Browser:
    assert (await browser.login("pat@example.com")).status_code == 303
    return browser


@dataclass
class Tenants:
    """``co-up`` (subdomain) and ``harbour`` (custom domain members.harbour.test), both owned
    by the logged-in person Pat; ``quay`` belongs to Olga, and Pat is no member there."""

    co_up: Any
    harbour: Any
    quay: Any
    olga: Any


@pytest.fixture
async def tenants(state: Any, db: Any, person: Any) -> Tenants:
    olga = await make_user(state, db, "olga@example.com", name="Olga Other")
    co_up = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    harbour = await spaces.create_space(
        db,
        state.settings,
        subdomain="harbour",
        name="Harbour",
        owner=person,
        custom_domain="members.harbour.test",
    )
    await db.commit()
    quay = await spaces.create_space(db, state.settings, subdomain="quay", name="Quay", owner=olga)
    await db.commit()
    return Tenants(co_up=co_up, harbour=harbour, quay=quay, olga=olga)
