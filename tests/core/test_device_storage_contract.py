"""The contract of :class:`frontdesk.oauth.storage.DeviceStore` (RFC 8628), held on the in-memory
storage and the SQL storage (SQLite, and PostgreSQL when configured), as
tests/core/test_storage_contract.py does for the other protocols."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.oauth.models import Person
from frontdesk.oauth.storage import (
    DEVICE_APPROVED,
    DEVICE_DENIED,
    DEVICE_PENDING,
    DEVICE_USED,
    DeviceDecision,
    NewDeviceAuthorization,
)
from frontdesk.security.randoms import DEVICE_CODE_PREFIX, new_secret
from tests.core.conftest import ISSUER, Backend, Registered, Unit


@dataclass
class Scene:
    """An app (owned by ``dev``) and ``pat``, who decides."""

    pat: Person
    app: Registered


@pytest.fixture
async def scene(backend: Backend) -> Scene:
    dev = await backend.add_person("dev@example.com", "Dana Developer")
    pat = await backend.add_person("pat@example.com", "Pat Person")
    return Scene(pat, await backend.add_client(dev))


def now() -> datetime:
    return datetime.now(UTC)


async def save(backend: Backend, scene: Scene, user_code: str = "WDJBMJHT", issuer: str = ISSUER) -> str:
    raw = new_secret(DEVICE_CODE_PREFIX)
    new = NewDeviceAuthorization(
        client_id=scene.app.client_id,
        scopes=("read_user",),
        issuer=issuer,
        space_id=None,
        interval=5,
        expires_at=now() + timedelta(minutes=10),
        device_ip="203.0.113.9",
        device_agent="DoorReader/2.1",
    )
    assert await backend.storage.save_device_authorization(raw, user_code, new, now())
    return raw


def approval(scene: Scene, approved: bool = True) -> DeviceDecision:
    return DeviceDecision(approved=approved, user_id=scene.pat.id, auth_time=now(), amr=("pwd",), sid="s1")


@pytest.mark.rfc("8628 6.1")
async def test_a_live_user_code_is_not_given_twice(backend: Backend, scene: Scene) -> None:
    await save(backend, scene)
    new = NewDeviceAuthorization(
        client_id=scene.app.client_id,
        scopes=(),
        issuer=ISSUER,
        space_id=None,
        interval=5,
        expires_at=now() + timedelta(minutes=10),
    )
    assert not await backend.storage.save_device_authorization("fddc_other", "WDJBMJHT", new, now())
    # Once the first has expired, the code may be drawn again.
    assert await backend.storage.save_device_authorization(
        "fddc_other", "WDJBMJHT", new, now() + timedelta(minutes=11)
    )


async def test_found_by_user_code_on_its_issuer_only(backend: Backend, scene: Scene) -> None:
    await save(backend, scene)
    await backend.commit()
    found = await backend.storage.find_device_by_user_code("WDJBMJHT", ISSUER)
    assert found is not None
    assert (found.client_id, found.status, found.device_agent, found.interval) == (
        scene.app.client_id,
        DEVICE_PENDING,
        "DoorReader/2.1",
        5,
    )
    assert await backend.storage.find_device_by_user_code("WDJBMJHT", "http://other.localhost:8000") is None
    assert await backend.storage.find_device_by_user_code("BCDFGHJK", ISSUER) is None


@pytest.mark.rfc("8628 3.5")
async def test_a_poll_returns_the_previous_poll_and_notes_this_one(backend: Backend, scene: Scene) -> None:
    raw = await save(backend, scene)
    first_at = now()
    first = await backend.storage.poll_device(raw, first_at)
    assert first is not None and first.last_polled_at is None
    second = await backend.storage.poll_device(raw, first_at + timedelta(seconds=5))
    assert second is not None and second.last_polled_at == first_at
    await backend.storage.slow_device(second.id, 10)
    third = await backend.storage.poll_device(raw, first_at + timedelta(seconds=6))
    assert third is not None and third.interval == 10
    assert await backend.storage.poll_device("fddc_unknown", first_at) is None


async def test_decided_once_then_redeemed_once(backend: Backend, scene: Scene) -> None:
    raw = await save(backend, scene)
    found = await backend.storage.poll_device(raw, now())
    assert found is not None
    assert not await backend.storage.redeem_device(found.id)  # still pending
    assert await backend.storage.decide_device(found.id, approval(scene), now())
    assert not await backend.storage.decide_device(found.id, approval(scene, approved=False), now())
    decided = await backend.storage.poll_device(raw, now())
    assert decided is not None
    assert (decided.status, decided.user_id, decided.amr, decided.sid) == (
        DEVICE_APPROVED,
        scene.pat.id,
        ("pwd",),
        "s1",
    )
    assert await backend.storage.redeem_device(found.id)
    assert not await backend.storage.redeem_device(found.id)
    used = await backend.storage.poll_device(raw, now())
    assert used is not None and used.status == DEVICE_USED


async def test_an_expired_authorization_cannot_be_decided(backend: Backend, scene: Scene) -> None:
    raw = await save(backend, scene)
    found = await backend.storage.poll_device(raw, now())
    assert found is not None
    assert not await backend.storage.decide_device(found.id, approval(scene), now() + timedelta(minutes=11))
    assert await backend.storage.decide_device(found.id, approval(scene, approved=False), now())
    denied = await backend.storage.find_device_by_user_code("WDJBMJHT", ISSUER)
    assert denied is not None and denied.status == DEVICE_DENIED


@pytest.mark.rfc("8628 3.5")
async def test_of_concurrent_redemptions_exactly_one_wins(backend: Backend, scene: Scene) -> None:
    raw = await save(backend, scene)
    found = await backend.storage.poll_device(raw, now())
    assert found is not None
    assert await backend.storage.decide_device(found.id, approval(scene), now())
    await backend.commit()

    async def redeem(unit: Unit) -> bool:
        won = await unit.storage.redeem_device(found.id)
        await unit.commit()
        return won

    async with backend.unit() as a, backend.unit() as b:
        outcomes = await asyncio.gather(redeem(a), redeem(b))
    assert sorted(outcomes) == [False, True]
