"""Argon2id password hashing, off the event loop and capped.

Hashes run in a small dedicated thread pool (argon2-cffi releases the GIL) of
``hash_concurrency`` threads, so a flood of logins or password grants uses at most that many
cores, and the threads run at a lower scheduling priority (nice 10, per thread on Linux): the
event loop, which serves every other request, wins the CPU whenever it needs it, while hashing
uses what is left (``FRONTDESK_HASH_NICE``, 0 to switch off). A dedicated pool also bounds
memory: Argon2 allocates ``memory_kib`` per hash and the C allocator keeps an arena per
thread. Callers beyond ``queue_limit`` waiting are refused at once with :class:`HashingBusy`
rather than queueing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")


def _lower_priority(nice: int) -> None:
    """Run this hashing thread at a lower priority (Linux applies setpriority per thread)."""
    if nice:
        with contextlib.suppress(AttributeError, OSError):  # elsewhere: the default priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class HashingBusy(Exception):
    """Too many password checks are already waiting."""


class Passwords:
    MIN_LENGTH = 8
    MAX_LENGTH = 1024

    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        concurrency: int,
        queue_limit: int = 64,
        nice: int = 10,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._queue_limit = queue_limit
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, concurrency),
            thread_name_prefix="argon2",
            initializer=_lower_priority,
            initargs=(nice,),
        )
        self._waiting = 0
        # Verified against when the account does not exist, so unknown users cost the same.
        self._dummy_hash = self._hasher.hash("frontdesk dummy password")

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify_sync(self, stored: str, password: str) -> tuple[bool, bool]:
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, False
        return True, self._hasher.check_needs_rehash(stored)

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        if self._waiting >= self._queue_limit:
            raise HashingBusy
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        """Return ``(matches, needs_rehash)``. ``stored=None`` (no such user) does the same
        work against a dummy hash and never matches."""
        if stored is None:
            await self._run(self._verify_sync, self._dummy_hash, password)
            return False, False
        return await self._run(self._verify_sync, stored, password)


def check_password_strength(password: str, *, email: str = "") -> str | None:
    """A readable reason the password is refused, or ``None``."""
    if len(password) < Passwords.MIN_LENGTH:
        return f"Use at least {Passwords.MIN_LENGTH} characters."
    if len(password) > Passwords.MAX_LENGTH:
        return f"Use at most {Passwords.MAX_LENGTH} characters."
    if email and password.strip().lower() == email.strip().lower():
        return "Your password must not be your email address."
    return None
