from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from frontdesk.oauth.models import NewToken
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_secret
from frontdesk.services import spaces
from frontdesk.store.sql_storage import SqlStorage
from tests.oauth_support import RegisteredApp, make_user, register_app


@dataclass
class World:
    app: RegisteredApp
    owner: Any
    admin: Any
    member: Any
    outsider: Any
    space: Any
    other_space: Any


@pytest.fixture
async def world(state: Any, db: Any) -> World:
    owner = await make_user(state, db, "owner@example.com", "Olivia Owner")
    admin = await make_user(state, db, "admin@example.com", "Adam Admin")
    member = await make_user(state, db, "member@example.com", "Mia Member")
    outsider = await make_user(state, db, "out@example.com", "Otto Outsider")
    dev = await make_user(state, db, "dev@example.com", "Dev")
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    other = await spaces.create_space(db, state.settings, subdomain="other", name="Other", owner=outsider)
    await db.commit()
    await spaces.add_member(db, space, email="admin@example.com", role="admin", admin_name="Adam at the desk")
    await db.commit()
    await spaces.add_member(db, space, email="member@example.com", role="member")
    await db.commit()
    app = await register_app(state, db, dev, scopes="read_user read_memberships navigation")
    return World(app, owner, admin, member, outsider, space, other)


@pytest.fixture
def issue(state: Any, db: Any, world: World) -> Any:
    async def make(user: Any, scopes: str = "read_user read_memberships", **kwargs: Any) -> str:
        raw = new_secret(ACCESS_TOKEN_PREFIX)
        storage = SqlStorage(db, state.server_secret)
        await storage.save_token(
            raw,
            NewToken(
                client_id=world.app.client_id,
                user_id=user.id,
                scopes=tuple(scopes.split()),
                grant_type="password",
                **kwargs,
            ),
        )
        await db.commit()
        return raw

    return make
