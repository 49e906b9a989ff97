"""frontdesk/heap.py: one malloc arena unless the operator chose otherwise (glibc only)."""

from __future__ import annotations

import pytest

from frontdesk import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="glibc's malloc only")


def test_an_operators_malloc_arena_max_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert heap.limit_arenas() is False


def test_without_one_the_server_asks_glibc_for_a_single_arena(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert heap.limit_arenas() is True
