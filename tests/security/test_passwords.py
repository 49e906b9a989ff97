"""Argon2id hashing runs off the event loop, capped, with a bounded queue."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from frontdesk.security.passwords import HashingBusy, Passwords, check_password_strength


async def test_hash_and_verify_argon2id(passwords: Passwords) -> None:
    stored = await passwords.hash("s3cret-password")
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert await passwords.verify(stored, "s3cret-password") == (True, False)
    assert await passwords.verify(stored, "wrong") == (False, False)
    assert await passwords.verify("not a hash", "x") == (False, False)


async def test_unknown_user_never_matches(passwords: Passwords) -> None:
    assert await passwords.verify(None, "frontdesk dummy password") == (False, False)


async def test_outdated_parameters_ask_for_rehash() -> None:
    old = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=1)
    new = Passwords(time_cost=2, memory_kib=64, parallelism=1, concurrency=1)
    assert await new.verify(await old.hash("pw-pw-pw-pw"), "pw-pw-pw-pw") == (True, True)


def test_production_defaults_are_owasp_baseline() -> None:
    from tests.support import make_settings

    s = make_settings("sqlite:///x.db")
    defaults = type(s).model_fields
    assert defaults["argon2_time_cost"].default == 2
    assert defaults["argon2_memory_kib"].default == 19456
    assert defaults["argon2_parallelism"].default == 1


async def test_concurrency_is_capped_and_runs_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    passwords = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=2)
    stored = passwords.hash_sync("pw-pw-pw-pw")
    running = 0
    peak = 0
    lock = threading.Lock()
    loop_thread = threading.get_ident()
    threads: set[int] = set()
    original = passwords._verify_sync

    def slow(h: str, p: str) -> tuple[bool, bool]:
        nonlocal running, peak
        threads.add(threading.get_ident())
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return original(h, p)

    monkeypatch.setattr(passwords, "_verify_sync", slow)
    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(passwords.verify, stored, "pw-pw-pw-pw")
    assert peak == 2
    assert loop_thread not in threads


async def test_queue_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    passwords = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=1, queue_limit=2)
    release = threading.Event()
    monkeypatch.setattr(passwords, "_verify_sync", lambda h, p: (release.wait(5), False))
    results: list[object] = []

    async def attempt() -> None:
        try:
            results.append(await passwords.verify("x", "y"))
        except HashingBusy:
            results.append("busy")

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(attempt)
        await anyio.sleep(0.05)
        release.set()
    assert results.count("busy") == 1


@pytest.mark.parametrize(
    ("password", "ok"),
    [("short", False), ("long enough", True), ("Alice@Example.com", False), ("x" * 1025, False)],
)
def test_password_strength(password: str, ok: bool) -> None:
    assert (check_password_strength(password, email="alice@example.com") is None) is ok
