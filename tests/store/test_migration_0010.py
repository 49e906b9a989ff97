"""Migration 0010 (resource indicators, JWT access tokens) on a database with rows in it:
existing apps keep opaque tokens and existing tokens no audience (good at every host, as
before); a downgrade takes the columns away and keeps the rows. On SQLite both directions
rebuild tables (batch mode): no row that references a rebuilt table may be lost
(store/migrations/env.py switches foreign keys off for that)."""

from __future__ import annotations

from datetime import UTC, datetime

from frontdesk.store.migrate import upgrade
from tests.store.test_migration_0007 import _columns, _downgrade, _run, fresh_url  # noqa: F401
from tests.support import make_settings

CREATED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


async def test_existing_apps_and_tokens_keep_their_behaviour(fresh_url: str) -> None:  # noqa: F811
    settings = make_settings(fresh_url)
    await upgrade(settings, "0009")
    t = CREATED if not fresh_url.startswith("sqlite") else CREATED.replace(tzinfo=None)
    await _run(
        fresh_url,
        "INSERT INTO users (id, email, email_key, name, password_hash, created_at, updated_at) "
        "VALUES ('u1', 'a@example.com', 'a@example.com', 'A', 'x', :t, :t)",
        {"t": t},
    )
    await _run(
        fresh_url,
        "INSERT INTO apps (client_id, owner_id, name, main_url, redirect_uris, scopes, password_grant, "
        "public, allow_redirect_query, trusted, created_at, updated_at) "
        "VALUES ('app1', 'u1', 'App', '', '[]', 'read_user', true, false, false, false, :t, :t)",
        {"t": t},
    )
    await _run(
        fresh_url,
        "INSERT INTO access_tokens (id, digest, app_id, user_id, scope, grant_type, created_at) "
        "VALUES ('t1', 'd1', 'app1', 'u1', 'read_user', 'password', :t)",
        {"t": t},
    )
    await upgrade(settings, "0010")
    assert [tuple(r) for r in await _run(fresh_url, "SELECT jwt_access_tokens FROM apps")] == [(False,)]
    assert [tuple(r) for r in await _run(fresh_url, "SELECT audience FROM access_tokens")] == [(None,)]
    await _downgrade(fresh_url, "0009")
    assert "jwt_access_tokens" not in await _columns(fresh_url, "apps")
    assert "audience" not in await _columns(fresh_url, "access_tokens")
    assert "audience" not in await _columns(fresh_url, "refresh_tokens")
    assert "resource" not in await _columns(fresh_url, "authorization_codes")
    assert len(await _run(fresh_url, "SELECT id FROM access_tokens")) == 1
