"""The C heap of a server process: one malloc arena, and free memory given back when idle.

Each Argon2id verification (security/passwords.py) allocates one block of
``FRONTDESK_ARGON2_MEMORY_KIB`` (19 MiB by default) with ``malloc`` in a thread of the hashing
pool and frees it when done. glibc gives every thread that allocates its own arena (a heap of
its own), and a block freed at the top of a thread's arena stays in the process: ``malloc_trim``
releases only the main arena's top. A worker that verified one password kept its blocks for
good (one per hashing thread, 19–29 MiB of RSS each; docs/performance.md, "Memory").

With a single arena (``mallopt(M_ARENA_MAX, 1)``, set by the server at start, before any thread
exists) the hashing threads allocate from the main heap, whose free top ``malloc_trim`` gives
back to the kernel; :class:`frontdesk.security.passwords.Passwords` calls
:func:`release_free_memory` once hashing has been idle for a moment, so a burst of logins
costs memory while it lasts and not after. Python's own small objects come from its allocator's
arenas, not from malloc, so threads seldom meet at the one arena's lock.

Only glibc has these calls: elsewhere (musl, macOS) both functions do nothing. An operator's
``MALLOC_ARENA_MAX`` in the environment is left as it is.
"""

from __future__ import annotations

import ctypes
import functools
import os

_M_ARENA_MAX = -8  # glibc malloc.h


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library this process runs on (its own symbols, no search), if it is glibc."""
    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def limit_arenas() -> bool:
    """One malloc arena for the threads started from now on; ``False`` where this is not
    glibc or the operator set ``MALLOC_ARENA_MAX``."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, 1))


def release_free_memory() -> bool:
    """Give the heap's free pages back to the kernel (``malloc_trim(0)``); ``True`` if any
    were."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
