"""Fixtures for the checklist: the OAuth fixtures of tests/oauth (a developer, their app, a
logged-in person) and a few spaces to test tenants with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from frontdesk.services import spaces
from tests.oauth.conftest import dev, logged_in, person, registered  # noqa: F401 - fixtures
from tests.oauth_support import make_user


@dataclass
class Tenants:
    """``co-up`` (subdomain) and ``harbour`` (custom domain members.harbour.test), both owned
    by the logged-in person Pat; ``quay`` belongs to Olga, and Pat is no member there."""

    co_up: Any
    harbour: Any
    quay: Any
    olga: Any


@pytest.fixture
async def tenants(state: Any, db: Any, person: Any) -> Tenants:  # noqa: F811 - the imported fixture
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
