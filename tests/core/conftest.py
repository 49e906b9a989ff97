"""Fixtures for the protocol core's tests: one storage API over two implementations.

``backend`` is parametrised over the in-memory storage (:mod:`tests.core.memory`) and the SQL
storage (:class:`frontdesk.store.sql_storage.SqlStorage` over a migrated SQLite copy, and over
PostgreSQL when FRONTDESK_TEST_DATABASE_URL is set, exactly as ``database_url`` in
tests/conftest.py). Both expose the same test-facing API, so every test here runs on each:

* ``backend.storage``: the :class:`frontdesk.oauth.storage.Storage` the core is handed, one
  unit of work; ``commit()`` and ``rollback()`` end what it staged.
* ``backend.unit()``: another unit of work over the same data (a second session), for races.
* Setup, committed at once: ``add_person``, ``add_client``, ``add_space``, ``set_role``,
  ``remove_space``, ``remove_person``; and ``events()``, the committed audit log.

On SQL the rows are made through :mod:`frontdesk.services`, as the server makes them.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth.authorize import AuthorizationEndpoint
from frontdesk.oauth.bearer import BearerValidator
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.grants.authorization_code import AuthorizationCodeGrant
from frontdesk.oauth.grants.password import PasswordGrant
from frontdesk.oauth.grants.refresh_token import RefreshTokenGrant
from frontdesk.oauth.models import Client, NewToken, Person
from frontdesk.oauth.oidc import IdTokenExtra
from frontdesk.oauth.refresh import RefreshTokenExtra
from frontdesk.oauth.scopes import catalogue, parse_scope
from frontdesk.oauth.storage import Storage
from frontdesk.oauth.token_endpoint import TokenEndpoint
from frontdesk.oauth.tokens import TokenIssuer
from frontdesk.security.passwords import Passwords
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, CLIENT_SECRET_PREFIX, new_id, new_secret
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import accounts, apps, spaces
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.store.models import AuditEvent, Space, User
from frontdesk.store.sql_storage import SqlStorage
from tests.conftest import truncate_postgres
from tests.core.memory import MemoryStorage, RecordedEvent
from tests.support import PASSWORD, make_settings

CALLBACK = "https://app.example/cb"
ISSUER = "http://localhost:8000"
SCOPES = "read_user read_memberships"


# ---- what a test gets -----------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    """A client as its developer knows it: id, secret (None for public) and test token."""

    client: Client
    secret: str | None
    test_token: str

    @property
    def client_id(self) -> str:
        return self.client.client_id


class Unit(Protocol):
    """One unit of work: the storage it stages writes in, and its end."""

    @property
    def storage(self) -> Storage: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Backend(Unit, Protocol):
    name: str

    def unit(self) -> AbstractAsyncContextManager[Unit]:
        """Another unit of work over the same data (rolled back when left)."""
        ...

    async def add_person(self, email: str, name: str = "Test Person") -> Person: ...

    async def remove_person(self, person: Person) -> None: ...

    async def add_client(
        self,
        owner: Person,
        *,
        scopes: str = SCOPES,
        redirect_uris: tuple[str, ...] = (CALLBACK,),
        public: bool = False,
        trusted: bool = False,
        require_pkce: bool = False,
        access_token_ttl: int | None = None,
        password_grant: bool | None = None,
        allow_redirect_query: bool = False,
    ) -> Registered: ...

    async def add_space(self, owner: Person, subdomain: str) -> str: ...

    async def set_role(self, space_id: str, person: Person, role: str | None) -> None: ...

    async def remove_space(self, space_id: str) -> None: ...

    async def events(self) -> list[RecordedEvent]: ...


# ---- in memory ------------------------------------------------------------------------------


class MemoryUnit:
    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage

    @property
    def storage(self) -> Storage:
        return self._storage

    async def commit(self) -> None:
        await self._storage.commit()

    async def rollback(self) -> None:
        await self._storage.rollback()


class MemoryBackend(MemoryUnit):
    name = "memory"

    def __init__(self) -> None:
        self.memory = MemoryStorage()
        super().__init__(self.memory)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[MemoryUnit]:
        other = self.memory.unit()
        try:
            yield MemoryUnit(other)
        finally:
            await other.rollback()

    async def add_person(self, email: str, name: str = "Test Person") -> Person:
        person = await self.memory.add_person(email, name)
        await self.commit()
        return person

    async def remove_person(self, person: Person) -> None:
        await self.memory.remove_person(person.id)
        await self.commit()

    async def add_client(
        self,
        owner: Person,
        *,
        scopes: str = SCOPES,
        redirect_uris: tuple[str, ...] = (CALLBACK,),
        public: bool = False,
        trusted: bool = False,
        require_pkce: bool = False,
        access_token_ttl: int | None = None,
        password_grant: bool | None = None,
        allow_redirect_query: bool = False,
    ) -> Registered:
        # The same client services.apps.register_app makes (its defaults included).
        client = Client(
            client_id=new_id(),
            name="Test App",
            redirect_uris=redirect_uris,
            scopes=parse_scope(scopes),
            owner_id=owner.id,
            owner_name=owner.name,
            password_grant=(not public) if password_grant is None else password_grant,
            public=public,
            allow_redirect_query=allow_redirect_query,
            trusted=trusted,
            require_pkce=require_pkce or public,
            access_token_ttl=access_token_ttl,
            created_at=datetime.now(UTC),
        )
        secret = None if public else new_secret(CLIENT_SECRET_PREFIX)
        await self.memory.add_client(client, secret)
        test_token = new_secret(ACCESS_TOKEN_PREFIX)
        await self.memory.save_token(
            test_token,
            NewToken(
                client_id=client.client_id,
                user_id=owner.id,
                scopes=client.scopes,
                grant_type="test",
                keep_sealed=True,
            ),
        )
        await self.commit()
        return Registered(client, secret, test_token)

    async def add_space(self, owner: Person, subdomain: str) -> str:
        space_id = await self.memory.add_space(subdomain, owner.id)
        await self.commit()
        return space_id

    async def set_role(self, space_id: str, person: Person, role: str | None) -> None:
        await self.memory.set_role(space_id, person.id, role)
        await self.commit()

    async def remove_space(self, space_id: str) -> None:
        await self.memory.remove_space(space_id)
        await self.commit()

    async def events(self) -> list[RecordedEvent]:
        return self.memory.events

    async def close(self) -> None:
        await self.memory.rollback()


# ---- SQL ------------------------------------------------------------------------------------


class SqlUnit:
    def __init__(self, session: AsyncSession, server_secret: ServerSecret) -> None:
        self.session = session
        self._storage = SqlStorage(session, server_secret)

    @property
    def storage(self) -> Storage:
        return self._storage

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()


class SqlBackend(SqlUnit):
    def __init__(self, name: str, database: Database, settings: Settings, passwords: Passwords) -> None:
        self.name = name
        self.database = database
        self.settings = settings
        self.passwords = passwords
        super().__init__(database.session(), database.server_secret)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[SqlUnit]:
        async with self.database.session() as session:
            yield SqlUnit(session, self.database.server_secret)

    async def add_person(self, email: str, name: str = "Test Person") -> Person:
        person = await accounts.create_user(
            self.session, self.passwords, email=email, password=PASSWORD, name=name
        )
        await self.commit()
        return person

    async def remove_person(self, person: Person) -> None:
        await self.session.execute(delete(User).where(User.id == person.id))
        await self.commit()

    async def add_client(
        self,
        owner: Person,
        *,
        scopes: str = SCOPES,
        redirect_uris: tuple[str, ...] = (CALLBACK,),
        public: bool = False,
        trusted: bool = False,
        require_pkce: bool = False,
        access_token_ttl: int | None = None,
        password_grant: bool | None = None,
        allow_redirect_query: bool = False,
    ) -> Registered:
        created = await apps.register_app(
            self.session,
            self.database.server_secret,
            owner=owner,
            name="Test App",
            redirect_uris=list(redirect_uris),
            scopes=scopes,
            public=public,
            trusted=trusted,
            require_pkce=require_pkce,
            access_token_ttl=access_token_ttl,
            password_grant=password_grant,
            allow_redirect_query=allow_redirect_query,
        )
        await self.commit()
        return Registered(created.app, created.client_secret, created.test_access_token)

    async def add_space(self, owner: Person, subdomain: str) -> str:
        space = await spaces.create_space(
            self.session, self.settings, subdomain=subdomain, name=subdomain.title(), owner=owner
        )
        await self.commit()
        return space.id

    async def set_role(self, space_id: str, person: Person, role: str | None) -> None:
        space = await spaces.get_space(self.session, space_id)
        assert space is not None
        membership = await spaces.membership_of(self.session, space_id, person.id)
        if membership is None:
            if role is not None:
                await spaces.add_member(self.session, space, email=person.email, role=role)
        elif role is None:
            await spaces.remove_member(self.session, space, membership.id)
        elif role != membership.role:
            await spaces.change_role(self.session, space, membership.id, role)
        await self.commit()

    async def remove_space(self, space_id: str) -> None:
        # No service deletes spaces; the database cascades as it would for an operator.
        await self.session.execute(delete(Space).where(Space.id == space_id))
        await self.commit()

    async def events(self) -> list[RecordedEvent]:
        """The committed audit log (read in a session of its own)."""
        async with self.database.session() as session:
            rows = (await session.execute(select(AuditEvent).order_by(AuditEvent.created_at))).scalars()
            return [
                RecordedEvent(r.event, r.user_id, r.app_id, r.space_id, r.ip, dict(r.detail)) for r in rows
            ]

    async def close(self) -> None:
        await self.session.rollback()
        await self.session.close()
        await self.database.dispose()


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, passwords: Passwords
) -> AsyncIterator[MemoryBackend | SqlBackend]:
    """The storage under test: in memory, or SQL on a migrated database (the same databases
    as tests/conftest.py's ``database_url``)."""
    if request.param == "memory":
        memory = MemoryBackend()
        yield memory
        await memory.close()
        return
    if request.param == "sqlite":
        path = tmp_path / "frontdesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        await truncate_postgres(url)
    settings = make_settings(url)
    sql = SqlBackend(request.param, Database(settings), settings, passwords)
    yield sql
    await sql.close()


class Clock:
    """A clock the test moves by hand (the core reads time only through its config)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@dataclass
class Core:
    """The protocol core's endpoints, wired as :meth:`frontdesk.composition.OAuthServer.build`
    wires them, without limiters and on the test's clock."""

    config: OAuthConfig
    authorization: AuthorizationEndpoint
    token: TokenEndpoint
    bearer: BearerValidator
    issuer: TokenIssuer


SERVER_SECRET = ServerSecret(b"tests/core server secret, 32 bytes or more")


@pytest.fixture
def core(clock: Clock) -> Core:
    config = OAuthConfig(clock=clock)
    issuer = TokenIssuer(config, [RefreshTokenExtra(clock=clock), IdTokenExtra(clock=clock)])
    return Core(
        config=config,
        authorization=AuthorizationEndpoint(config, SERVER_SECRET.mac),
        token=TokenEndpoint(
            config, [AuthorizationCodeGrant, PasswordGrant, RefreshTokenGrant], issuer=issuer
        ),
        bearer=BearerValidator(catalogue(), clock),
        issuer=issuer,
    )
