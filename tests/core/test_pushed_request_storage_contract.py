"""The contract of :class:`frontdesk.oauth.storage.PushedRequestStore` (RFC 9126), held on the
in-memory storage and the SQL storage (SQLite, and PostgreSQL when configured), as
tests/core/test_storage_contract.py does for the other protocols."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.oauth.storage import PushedRequest
from tests.core.conftest import ISSUER, Backend, Registered, Unit


@pytest.fixture
async def app(backend: Backend) -> Registered:
    return await backend.add_client(await backend.add_person("dev@example.com", "Dana Developer"))


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


PARAMS = (("response_type", "code"), ("scope", "read_user"), ("state", "a=b&c"), ("scope2", "ünïcode"))


async def save(backend: Backend, app: Registered) -> str:
    raw = secrets.token_urlsafe(32)
    pushed = PushedRequest(
        client_id=app.client_id,
        issuer=ISSUER,
        space_id=None,
        params=(("client_id", app.client_id), *PARAMS),
        expires_at=now() + timedelta(seconds=60),
    )
    await backend.storage.save_pushed_request(raw, pushed)
    await backend.commit()
    return raw


@pytest.mark.rfc("9126 2.2")
async def test_found_by_its_random_part_with_its_parameters_in_order(
    backend: Backend, app: Registered
) -> None:
    raw = await save(backend, app)
    found = await backend.storage.find_pushed_request(raw)
    assert found is not None
    assert (found.client_id, found.issuer, found.space_id) == (app.client_id, ISSUER, None)
    assert found.params == (("client_id", app.client_id), *PARAMS)
    assert now() < found.expires_at <= now() + timedelta(seconds=60)
    assert found.opened_at is None
    assert found.used_at is None
    assert await backend.storage.find_pushed_request(raw[:-1]) is None
    assert await backend.storage.find_pushed_request("") is None


async def test_opening_keeps_it_longer_once(backend: Backend, app: Registered) -> None:
    raw = await save(backend, app)
    later = now() + timedelta(minutes=15)
    await backend.storage.open_pushed_request(raw, later)
    await backend.commit()
    opened = await backend.storage.find_pushed_request(raw)
    assert opened is not None
    assert opened.opened_at is not None
    assert opened.expires_at == later
    # A second opening does not extend it again.
    await backend.storage.open_pushed_request(raw, later + timedelta(hours=1))
    again = await backend.storage.find_pushed_request(raw)
    assert again is not None
    assert again.expires_at == later


@pytest.mark.rfc("9126 4")
async def test_used_once(backend: Backend, app: Registered) -> None:
    raw = await save(backend, app)
    assert await backend.storage.use_pushed_request(raw, now())
    assert not await backend.storage.use_pushed_request(raw, now())
    await backend.commit()
    used = await backend.storage.find_pushed_request(raw)
    assert used is not None
    assert used.used_at is not None
    assert not await backend.storage.use_pushed_request("unknown", now())


@pytest.mark.rfc("9126 4")
async def test_of_concurrent_decisions_exactly_one_uses_it(backend: Backend, app: Registered) -> None:
    raw = await save(backend, app)

    async def use(unit: Unit) -> bool:
        won = await unit.storage.use_pushed_request(raw, now())
        await unit.commit()
        return won

    async with backend.unit() as a, backend.unit() as b:
        outcomes = await asyncio.gather(use(a), use(b))
    assert sorted(outcomes) == [False, True]
