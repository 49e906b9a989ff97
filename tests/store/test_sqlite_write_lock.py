"""A SQLite writer waits for another process's write lock without stopping its event loop
(store/sqlite_inline.py): the worker's other requests go on meanwhile, and the write happens
once the lock is free."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from frontdesk.store import sqlite_inline


async def test_a_write_awaits_the_lock_held_elsewhere_while_the_loop_runs(tmp_path: Path) -> None:
    path = str(tmp_path / "lock.db")
    other = sqlite3.connect(path, isolation_level=None)  # another process, in effect
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x INTEGER)")
    ours = await sqlite_inline.creator(path)()
    before = sqlite_inline.LOCK_WAITS.contended

    other.execute("BEGIN IMMEDIATE")  # the other holds SQLite's write lock
    write = asyncio.create_task(ours.execute("INSERT INTO t VALUES (1)"))
    turns = 0
    for _ in range(20):  # the loop keeps serving other work while the write waits
        await asyncio.sleep(0.001)
        turns += 1
    assert turns == 20
    assert not write.done()

    other.execute("INSERT INTO t VALUES (2)")
    other.execute("COMMIT")  # the lock is free: the waiting write goes ahead
    await asyncio.wait_for(write, 5)
    await ours.commit()

    assert sqlite_inline.LOCK_WAITS.contended == before + 1
    assert sorted(row[0] for row in other.execute("SELECT x FROM t")) == [1, 2]
    await ours.close()
    other.close()


async def test_a_write_transaction_holds_the_lock_from_its_first_write(tmp_path: Path) -> None:
    path = str(tmp_path / "lock.db")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INTEGER)")
    ours = await sqlite_inline.creator(path)()
    await ours.execute("INSERT INTO t VALUES (1)")

    # Another writer finds the lock taken at once (BEGIN IMMEDIATE, not at its commit).
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as refused:
        other.execute("BEGIN IMMEDIATE")
    assert refused.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    await ours.commit()
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    await ours.close()
    other.close()
    setup.close()
