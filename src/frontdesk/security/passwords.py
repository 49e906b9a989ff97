"""Argon2id password hashing, off the event loop and capped.

Hashes run in a small dedicated thread pool (argon2-cffi releases the GIL) of
``hash_concurrency`` threads, so a flood of logins or password grants uses at most that many
cores, and the threads run at a lower scheduling priority (nice 10, per thread on Linux): the
event loop, which serves every other request, wins the CPU whenever it needs it, while hashing
uses what is left (``FRONTDESK_HASH_NICE``, 0 to switch off). A dedicated pool also bounds
memory: Argon2 allocates ``memory_kib`` per hash, at most one block per thread at a time, and
once hashing has been idle for :data:`RELEASE_AFTER_IDLE_SECONDS` the freed blocks go back to
the kernel (frontdesk/heap.py says why that needs the server's single malloc arena). Callers
beyond ``queue_limit`` waiting are refused at once with :class:`HashingBusy`
rather than queueing without bound.

Accounts brought in from another system keep the hash that system wrote (``users import``,
``docs/integrating.md`` "Importing users"): bcrypt as Devise and Django write it, PBKDF2-SHA256
as Django writes it, and Argon2 in PHC form or Django's. They are checked by libpass (the kept
fork of passlib) or argon2-cffi, in the same pool, and re-hashed to our Argon2id parameters at
the next successful login (``verify`` answers ``needs_rehash``). Their cost parameters are
capped when they are imported and when they are checked, so an imported hash cannot make one
login take minutes or gigabytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from passlib.hash import bcrypt, django_bcrypt, django_bcrypt_sha256, django_pbkdf2_sha256

from frontdesk import heap, metrics
from frontdesk.i18n import N_, message

T = TypeVar("T")

# How long hashing must have been idle before its freed memory is given back (frontdesk/heap.py):
# long enough that a steady stream of logins keeps its blocks, short enough that a burst's
# memory is back within seconds.
RELEASE_AFTER_IDLE_SECONDS = 1.0


def _lower_priority(nice: int) -> None:
    """Run this hashing thread at a lower priority (Linux applies setpriority per thread)."""
    if nice:
        with contextlib.suppress(AttributeError, OSError):  # elsewhere: the default priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class HashingBusy(Exception):
    """Too many password checks are already waiting."""


# The stored value of an account that has no password (created by the platform, or imported
# without a hash): no password ever matches it until one is set. Not a hash of any scheme.
NO_PASSWORD = "!no-password"

# The column holding hashes (store/models.py ``User.password_hash``).
MAX_HASH_LENGTH = 256
# Cost caps for imported hashes: above the defaults Devise, Django and the Argon2 RFC 9106
# profiles use, below what would let one login hold a hashing thread for seconds or take
# hundreds of megabytes.
MAX_BCRYPT_COST = 14
MAX_PBKDF2_ITERATIONS = 3_000_000
MAX_ARGON2_MEMORY_KIB = 262_144
MAX_ARGON2_TIME_COST = 16
MAX_ARGON2_PARALLELISM = 16
# bcrypt reads at most 72 bytes of a password; Devise (Ruby's bcrypt) and Django's
# BCryptPasswordHasher hashed only those, so the same prefix is checked here.
_BCRYPT_INPUT_BYTES = 72


class UnsupportedHash(ValueError):
    """A password hash Frontdesk cannot check (unknown scheme, malformed, or too costly)."""


@dataclass(frozen=True)
class _Scheme:
    name: str  # shown to operators: "bcrypt", "django_pbkdf2_sha256", ...
    handler: Any  # the libpass handler that checks it
    truncate: bool = False  # a raw bcrypt input (72 bytes)
    pepper: bool = False  # Devise appends its pepper before hashing


# Each prefix belongs to one scheme.
_SCHEMES = (
    _Scheme("bcrypt", bcrypt, truncate=True, pepper=True),  # $2a$/$2b$/$2y$ (Devise)
    _Scheme("django_bcrypt_sha256", django_bcrypt_sha256),  # bcrypt_sha256$$2b$...
    _Scheme("django_bcrypt", django_bcrypt, truncate=True),  # bcrypt$$2b$...
    _Scheme("django_pbkdf2_sha256", django_pbkdf2_sha256),  # pbkdf2_sha256$<n>$<salt>$<b64>
)
# Django's Argon2PasswordHasher writes "argon2" followed by the PHC string.
_DJANGO_ARGON2_PREFIX = "argon2$argon2"


def _argon2_phc(stored: str) -> str | None:
    """The PHC string of an Argon2 hash (ours, another system's, or Django's), cost checked;
    ``None`` when ``stored`` is no Argon2 hash. Raises :class:`UnsupportedHash`."""
    if stored.startswith(_DJANGO_ARGON2_PREFIX):
        stored = stored.removeprefix("argon2")
    elif not stored.startswith("$argon2"):
        return None
    try:
        params = extract_parameters(stored)
    except (InvalidHashError, ValueError) as exc:
        raise UnsupportedHash("malformed Argon2 hash") from exc
    if (
        params.memory_cost > MAX_ARGON2_MEMORY_KIB
        or params.time_cost > MAX_ARGON2_TIME_COST
        or params.parallelism > MAX_ARGON2_PARALLELISM
    ):
        raise UnsupportedHash(
            f"Argon2 cost m={params.memory_cost},t={params.time_cost},p={params.parallelism} is "
            f"above the limit (m<={MAX_ARGON2_MEMORY_KIB},t<={MAX_ARGON2_TIME_COST},"
            f"p<={MAX_ARGON2_PARALLELISM})"
        )
    return stored


def _foreign_scheme(stored: str) -> _Scheme:
    """The libpass scheme of a non-Argon2 hash, its cost checked. Raises :class:`UnsupportedHash`."""
    for scheme in _SCHEMES:
        if scheme.handler.identify(stored):
            break
    else:
        raise UnsupportedHash(
            "unsupported hash format (supported: bcrypt $2a$/$2b$/$2y$, Django's bcrypt_sha256$, "
            "bcrypt$, pbkdf2_sha256$ and argon2$, Argon2 PHC $argon2id$/$argon2i$/$argon2d$)"
        )
    try:
        # Django's bcrypt$ is a prefix on a plain bcrypt hash (a libpass wrapper class).
        inner = stored.removeprefix("bcrypt$") if scheme.handler is django_bcrypt else stored
        parser = bcrypt if scheme.handler is django_bcrypt else scheme.handler
        rounds = parser.from_string(inner).rounds
    except (ValueError, TypeError) as exc:
        raise UnsupportedHash(f"malformed {scheme.name} hash") from exc
    if scheme.handler is django_pbkdf2_sha256:
        if rounds > MAX_PBKDF2_ITERATIONS:
            raise UnsupportedHash(f"PBKDF2 iterations {rounds} above the limit ({MAX_PBKDF2_ITERATIONS})")
    elif rounds > MAX_BCRYPT_COST:
        raise UnsupportedHash(f"bcrypt cost {rounds} above the limit ({MAX_BCRYPT_COST})")
    return scheme


def hash_scheme(stored: str) -> str:
    """The scheme of a hash to be imported (``"argon2"``, ``"bcrypt"``,
    ``"django_pbkdf2_sha256"``...). Raises :class:`UnsupportedHash` with a readable reason
    for anything Frontdesk would not be able to check."""
    if not isinstance(stored, str) or not stored:
        raise UnsupportedHash("empty hash")
    if len(stored) > MAX_HASH_LENGTH:
        raise UnsupportedHash(f"longer than {MAX_HASH_LENGTH} characters")
    if not stored.isascii() or not stored.isprintable():
        raise UnsupportedHash("a hash is printable ASCII")
    phc = _argon2_phc(stored)
    if phc is not None:
        return "argon2" if phc == stored else "django_argon2"
    return _foreign_scheme(stored).name


def _timed(func: Callable[..., T], *args: Any) -> T:
    """``func`` in the pool's thread, its time in frontdesk_password_hash_seconds."""
    started = time.perf_counter()
    try:
        return func(*args)
    finally:
        metrics.PASSWORD_SECONDS.observe(time.perf_counter() - started)


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
        bcrypt_pepper: str = "",
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
        self._release_timer: asyncio.TimerHandle | None = None
        # Devise's ``config.pepper``, appended to the password before bcrypt (imported hashes).
        self._bcrypt_pepper = bcrypt_pepper
        # Verified against when the account does not exist, so unknown users cost the same.
        self._dummy_hash = self._hasher.hash("frontdesk dummy password")

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify_sync(self, stored: str, password: str) -> tuple[bool, bool]:
        try:
            phc = _argon2_phc(stored)
            scheme = _foreign_scheme(stored) if phc is None else None
        except UnsupportedHash:  # no password set, or a value no scheme reads: same work, no match
            self._verify_argon2(self._dummy_hash, password)
            return False, False
        if phc is not None:
            ok, needs_rehash = self._verify_argon2(phc, password)
            return ok, ok and (needs_rehash or phc != stored)
        assert scheme is not None
        ok = self._verify_foreign(scheme, stored, password)
        return ok, ok

    def _verify_argon2(self, stored: str, password: str) -> tuple[bool, bool]:
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, False
        return True, self._hasher.check_needs_rehash(stored)

    def _verify_foreign(self, scheme: _Scheme, stored: str, password: str) -> bool:
        secret = password + self._bcrypt_pepper if scheme.pepper else password
        data = secret.encode("utf-8")
        if scheme.truncate:
            data = data[:_BCRYPT_INPUT_BYTES]
        try:
            return bool(scheme.handler.verify(data, stored))
        except (ValueError, TypeError):
            return False

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        if self._waiting >= self._queue_limit:
            metrics.PASSWORD_REFUSED.inc()
            raise HashingBusy
        self._waiting += 1
        metrics.PASSWORD_QUEUE.inc()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, _timed, func, *args)
        finally:
            self._waiting -= 1
            metrics.PASSWORD_QUEUE.dec()
            if self._waiting == 0:  # the queue drained: give the memory back unless more come
                if self._release_timer is not None:
                    self._release_timer.cancel()
                self._release_timer = loop.call_later(RELEASE_AFTER_IDLE_SECONDS, self._release_when_idle)

    def _release_when_idle(self) -> None:
        self._release_timer = None
        if self._waiting == 0:
            # In the pool, so the trim's walk over the heap does not hold up the event loop.
            self._pool.submit(heap.release_free_memory)

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
        return message(N_("Use at least {n} characters."), n=Passwords.MIN_LENGTH)
    if len(password) > Passwords.MAX_LENGTH:
        return message(N_("Use at most {n} characters."), n=Passwords.MAX_LENGTH)
    if email and password.strip().lower() == email.strip().lower():
        return N_("Your password must not be your email address.")
    return None
