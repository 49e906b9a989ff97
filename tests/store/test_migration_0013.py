"""Migration 0013 seals the callback URLs of existing webhook endpoints (apps put secrets into
them): afterwards no column holds the URL, the app shows it again (services/webhooks.py opens
it with the server secret), the 409 lookup finds it by its digest; a downgrade opens them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Conflict
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import webhooks
from frontdesk.settings import Settings
from frontdesk.store.db import create_engine
from frontdesk.store.migrate import alembic_config, upgrade
from tests.store.test_migration_0007 import _columns, _run, fresh_url  # noqa: F401
from tests.support import make_settings

CREATED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
URL = "https://hooks.example/cobot/canceled?secret=per-space-secret-0815"


async def _downgrade(settings: Settings, revision: str) -> None:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> None:
                cfg = alembic_config()
                cfg.attributes["connection"] = sync_conn
                cfg.attributes["settings"] = settings
                command.downgrade(cfg, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def test_existing_urls_are_sealed_and_shown_again(fresh_url: str) -> None:  # noqa: F811
    settings = make_settings(fresh_url)
    await upgrade(settings, "0012")
    t = CREATED if not fresh_url.startswith("sqlite") else CREATED.replace(tzinfo=None)
    await _run(
        fresh_url,
        "INSERT INTO webhook_endpoints (id, url, event_types, subscribed_as, description, secret_sealed, "
        "active, created_at) VALUES ('e1', :url, '[\"membership.changed\"]', NULL, '', 'x', true, :t)",
        {"url": URL, "t": t},
    )
    await upgrade(settings, "0013")
    assert "url" not in await _columns(fresh_url, "webhook_endpoints")
    [row] = await _run(fresh_url, "SELECT * FROM webhook_endpoints")
    assert all("per-space-secret-0815" not in str(value) for value in row)
    assert all("hooks.example" not in str(value) for value in row)

    server_secret = ServerSecret(settings.resolve_secret_key())
    engine = create_engine(settings, pool_size=1)
    try:
        async with AsyncSession(engine) as db:
            [endpoint] = await webhooks.list_endpoints(db, server_secret)
            assert endpoint.url == URL
    finally:
        await engine.dispose()

    await _downgrade(settings, "0012")
    assert [tuple(r) for r in await _run(fresh_url, "SELECT id, url FROM webhook_endpoints")] == [("e1", URL)]
    assert "url_sealed" not in await _columns(fresh_url, "webhook_endpoints")


async def test_the_duplicate_check_finds_a_migrated_url(fresh_url: str) -> None:  # noqa: F811
    settings = make_settings(fresh_url)
    await upgrade(settings, "0012")
    t = CREATED if not fresh_url.startswith("sqlite") else CREATED.replace(tzinfo=None)
    for statement in (
        "INSERT INTO users (id, email, email_key, name, password_hash, created_at, updated_at) "
        "VALUES ('u1', 'a@example.com', 'a@example.com', 'A', 'x', :t, :t)",
        "INSERT INTO spaces (id, subdomain, name, owner_id, created_at) "
        "VALUES ('s1', 'co-up', 'Co-Up', 'u1', :t)",
        "INSERT INTO apps (client_id, owner_id, name, main_url, redirect_uris, scopes, password_grant, "
        "public, allow_redirect_query, trusted, created_at, updated_at) "
        "VALUES ('app1', 'u1', 'App', '', '[]', 'read_user', true, false, false, false, :t, :t)",
        "INSERT INTO webhook_endpoints (id, space_id, app_id, url, event_types, subscribed_as, description, "
        "secret_sealed, active, created_at) VALUES ('e1', 's1', 'app1', :url, '[\"membership.changed\"]', "
        "'canceled_membership', '', 'x', true, :t)",
    ):
        await _run(fresh_url, statement, {"url": URL, "t": t})
    await upgrade(settings, "0013")
    server_secret = ServerSecret(settings.resolve_secret_key())
    engine = create_engine(settings, pool_size=1)
    try:
        async with AsyncSession(engine) as db:
            with pytest.raises(Conflict):
                await webhooks.create_endpoint(
                    db,
                    server_secret,
                    settings,
                    url=URL,
                    event_types=["canceled_membership"],
                    space_id="s1",
                    app_id="app1",
                    subscribed_as="canceled_membership",
                )
    finally:
        await engine.dispose()
