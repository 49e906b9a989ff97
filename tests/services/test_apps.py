"""App registration: validation, sealed secrets, the owner's test token."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from frontdesk.errors import FieldError
from frontdesk.oauth.models import Person
from frontdesk.services import accounts
from frontdesk.services import apps as svc
from frontdesk.store.models import AccessToken, App
from frontdesk.store.sql_storage import SqlStorage

URIS = ["https://example.com/cb"]


@pytest.fixture
async def owner(db: Any, passwords: Any) -> Person:
    person = await accounts.create_user(
        db, passwords, email="dev@example.com", password="dev-password-123", name="Dev"
    )
    await db.commit()
    return person


async def make(db: Any, state: Any, owner: Person, **kwargs: Any) -> svc.CreatedApp:
    values: dict[str, Any] = {"name": "My App", "redirect_uris": URIS, "scopes": "read_user"}
    values.update(kwargs)
    created = await svc.register_app(db, state.server_secret, owner=owner, **values)
    await db.commit()
    return created


async def stored(db: Any, client_id: str) -> App:
    """The app's row as committed (secret digest and sealed copy included)."""
    row: App | None = await db.get(App, client_id, populate_existing=True)
    assert row is not None
    return row


async def test_create_returns_credentials_that_work(db: Any, state: Any, owner: Person) -> None:
    created = await make(db, state, owner, scopes="read_user, navigation", main_url="https://x.example/")
    app = created.app
    assert len(app.client_id) == 32 and app.scopes == ("read_user", "navigation")
    assert app.password_grant is True and app.public is False
    assert app.registered_via == "web"
    assert created.client_secret and created.client_secret.startswith("fdcs_")
    assert created.test_access_token.startswith("fdat_")
    storage = SqlStorage(db, state.server_secret)
    client = await storage.get_client(app.client_id)
    assert client is not None and await storage.check_client_secret(client, created.client_secret)
    assert not await storage.check_client_secret(client, created.client_secret + "x")
    info = await storage.lookup_token(created.test_access_token)
    assert info is not None and info.user_id == owner.id and info.grant_type == "test"
    # The test token holds the umbrella expanded (oauth/scopes.token_scopes).
    assert info.scopes == ("read_user", "navigation", "read_navigation_links", "write_navigation_links")
    assert info.expires_at is None
    revealed = await svc.reveal(db, state.server_secret, app.client_id)
    assert revealed == svc.Revealed(created.client_secret, created.test_access_token)


async def test_no_plaintext_secret_in_the_database(db: Any, state: Any, owner: Person) -> None:
    created = await make(db, state, owner)
    assert created.client_secret is not None
    dumps = []
    for table in ("apps", "access_tokens"):
        rows = (await db.execute(text(f"SELECT * FROM {table}"))).all()
        dumps.append(repr(rows))
    everything = "\n".join(dumps)
    assert created.client_secret not in everything
    assert created.test_access_token not in everything
    assert created.client_secret[5:] not in everything and created.test_access_token[5:] not in everything


async def test_public_apps_have_no_secret_and_no_password_grant(db: Any, state: Any, owner: Person) -> None:
    created = await make(db, state, owner, public=True)
    assert created.client_secret is None
    row = await stored(db, created.app.client_id)
    assert row.secret_digest is None and row.secret_sealed is None
    assert created.app.password_grant is False and row.password_grant is False
    assert (await svc.reveal(db, state.server_secret, created.app.client_id)).client_secret is None
    with pytest.raises(FieldError, match="Public apps cannot use the password grant") as exc:
        await make(db, state, owner, public=True, password_grant=True)
    assert exc.value.field == "password_grant"
    with pytest.raises(FieldError, match="no client secret"):
        await svc.regenerate_secret(db, state.server_secret, created.app.client_id)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"name": "  "}, "name", "Enter a name"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"name_in_space": "y" * 101}, "name_in_space", "at most 100"),
        ({"redirect_uris": []}, "redirect_uris", "at least one"),
        ({"redirect_uris": ["/cb"]}, "redirect_uris", "/cb: A redirect URI must be absolute"),
        ({"redirect_uris": ["https://a.example/cb#x"]}, "redirect_uris", "fragment"),
        ({"redirect_uris": ["http://a.example/cb"]}, "redirect_uris", "Use https"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "redirect_uris", "javascript: scheme"),
        ({"redirect_uris": ["https://u:p@a.example/cb"]}, "redirect_uris", "user information"),
        ({"redirect_uris": URIS + URIS}, "redirect_uris", "listed twice"),
        ({"scopes": ""}, "scopes", "at least one"),
        ({"scopes": "read_user bogus"}, "scopes", "Unknown scope “bogus”"),
        ({"scopes": "signin"}, "scopes", "trusted apps only"),
        ({"main_url": "ftp://x.example/"}, "main_url", "absolute http"),
        ({"main_url": "example.com"}, "main_url", "absolute http"),
        ({"client_id": "short"}, "client_id", "8 to 32"),
        ({"client_id": "has space in it"}, "client_id", "8 to 32"),
        ({"client_id": "x" * 33}, "client_id", "8 to 32"),
        ({"client_secret": "too-short"}, "client_secret", "32 to 200"),
        ({"client_secret": "a" * 31 + "%"}, "client_secret", "URL-safe"),
        ({"client_secret": "a" * 40, "public": True}, "client_secret", "no client secret"),
    ],
)
async def test_validation(
    db: Any, state: Any, owner: Person, kwargs: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(FieldError, match=message) as exc:
        await make(db, state, owner, **kwargs)
    assert exc.value.field == field
    assert (await db.execute(select(App))).first() is None


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/cb?x=1",
        "http://localhost:1234/cb",
        "http://127.0.0.1/cb",
        "http://[::1]/cb",
        "com.example.app:/cb",
    ],
)
async def test_accepted_redirect_uris(db: Any, state: Any, owner: Person, uri: str) -> None:
    created = await make(db, state, owner, redirect_uris=[uri])
    assert created.app.redirect_uris == (uri,)
    assert (await stored(db, created.app.client_id)).redirect_uris == [uri]


async def test_trusted_apps_may_hold_restricted_scopes(db: Any, state: Any, owner: Person) -> None:
    created = await make(db, state, owner, scopes=["signin", "read_user"], trusted=True)
    assert created.app.scopes == ("signin", "read_user") and created.app.trusted
    # Untrusting the app re-checks its scopes.
    with pytest.raises(FieldError, match="trusted apps only"):
        await svc.update_app(db, created.app.client_id, trusted=False)
    updated = await svc.update_app(db, created.app.client_id, trusted=False, scopes="read_user")
    await db.commit()
    assert updated.trusted is False and updated.scopes == ("read_user",)
    assert await svc.get_app(db, created.app.client_id) == updated


async def test_seeded_credentials(db: Any, state: Any, owner: Person) -> None:
    secret = "sandbox-secret-0123456789-abcdefghijkl"
    created = await make(db, state, owner, client_id="sandbox-app", client_secret=secret)
    assert created.app.client_id == "sandbox-app" and created.client_secret == secret
    storage = SqlStorage(db, state.server_secret)
    client = await storage.get_client("sandbox-app")
    assert client is not None and await storage.check_client_secret(client, secret)
    with pytest.raises(FieldError, match="taken") as exc:
        await make(db, state, owner, client_id="sandbox-app")
    assert exc.value.field == "client_id"


async def test_regenerate_secret(db: Any, state: Any, owner: Person) -> None:
    created = await make(db, state, owner)
    app = created.app
    old_digest, old_secret = (await stored(db, app.client_id)).secret_digest, created.client_secret
    assert old_digest is not None and old_secret is not None
    new = await svc.regenerate_secret(db, state.server_secret, app.client_id)
    await db.commit()
    assert new != old_secret and (await stored(db, app.client_id)).secret_digest != old_digest
    storage = SqlStorage(db, state.server_secret)
    client = await storage.get_client(app.client_id)
    assert client is not None
    assert not await storage.check_client_secret(client, old_secret)
    assert await storage.check_client_secret(client, new)
    assert (await svc.reveal(db, state.server_secret, app.client_id)).client_secret == new


async def test_test_token_revoke_and_recreate(db: Any, state: Any, owner: Person) -> None:
    created = await make(db, state, owner)
    app = created.app
    storage = SqlStorage(db, state.server_secret)
    assert await svc.revoke_test_token(db, app.client_id) is True
    await db.commit()
    assert await svc.revoke_test_token(db, app.client_id) is False
    old = await storage.lookup_token(created.test_access_token)
    assert old is not None and old.revoked
    assert (await svc.reveal(db, state.server_secret, app.client_id)).test_access_token is None
    row = await db.get(AccessToken, old.id)
    await db.refresh(row)
    assert row.sealed is None  # a revoked test token's plaintext is not kept

    first = await svc.recreate_test_token(db, state.server_secret, app.client_id)
    second = await svc.recreate_test_token(db, state.server_secret, app.client_id)
    await db.commit()
    first_info = await storage.lookup_token(first)
    second_info = await storage.lookup_token(second)
    assert first_info is not None and first_info.revoked  # at most one live test token
    assert second_info is not None and not second_info.revoked
    assert (await svc.reveal(db, state.server_secret, app.client_id)).test_access_token == second
    live = (
        await db.execute(
            select(AccessToken).where(AccessToken.app_id == app.client_id, AccessToken.revoked_at.is_(None))
        )
    ).scalars()
    assert [t.id for t in live] == [second_info.id]


async def test_update_keeps_tokens_and_validates(db: Any, state: Any, owner: Person) -> None:
    created = await make(db, state, owner)
    app = created.app
    await svc.update_app(
        db,
        app.client_id,
        name="Renamed",
        scopes="read_user navigation",
        redirect_uris=["https://example.com/new"],
        allow_redirect_query=True,
        password_grant=False,
        main_url="",
    )
    await db.commit()
    cid = app.client_id
    db.expire_all()
    fresh = await svc.get_app(db, cid)
    assert fresh is not None and fresh.name == "Renamed" and fresh.scopes == ("read_user", "navigation")
    assert fresh.redirect_uris == ("https://example.com/new",) and fresh.allow_redirect_query
    assert fresh.password_grant is False
    info = await SqlStorage(db, state.server_secret).lookup_token(created.test_access_token)
    assert info is not None and info.scopes == ("read_user",) and not info.revoked
    with pytest.raises(FieldError) as exc:
        await svc.update_app(db, fresh.client_id, name="Again", redirect_uris=["http://insecure.example/"])
    assert exc.value.field == "redirect_uris"
    assert await svc.get_app(db, cid) == fresh  # nothing changed
    with pytest.raises(FieldError, match="cannot switch"):
        await svc.update_app(db, fresh.client_id, public=True)
    with pytest.raises(TypeError):
        await svc.update_app(db, fresh.client_id, owner_id="someone")


async def test_apps_of_and_delete(db: Any, state: Any, owner: Person, passwords: Any) -> None:
    other = await accounts.create_user(db, passwords, email="o@example.com", password="other-password-1")
    await db.commit()
    b = await make(db, state, owner, name="beta")
    await make(db, state, owner, name="Alpha")
    await make(db, state, other, name="Theirs")
    assert [a.name for a in await svc.apps_of(db, owner.id)] == ["Alpha", "beta"]
    assert await svc.get_app(db, "nope") is None and await svc.get_app(db, "") is None
    await svc.delete_app(db, b.app.client_id)
    await db.commit()
    assert [a.name for a in await svc.apps_of(db, owner.id)] == ["Alpha"]
    assert await SqlStorage(db, state.server_secret).lookup_token(b.test_access_token) is None
