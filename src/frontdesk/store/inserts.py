"""Writes to unique columns that may race, on both databases.

A unique insert that may race (two sign-ups with one address, two spaces with one subdomain)
is written this way instead of catching ``IntegrityError``: the loser learns that the value
was taken and its transaction stays usable, so nobody but the unit of work's owner ever has to
roll anything back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_unless_taken(db: AsyncSession, model: type[Any], values: dict[str, Any]) -> bool:
    """Stage one row of ``model``; False (and nothing written) when a unique column of it is
    taken already."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = model.__mapper__.primary_key[0]
    result = await db.execute(insert(model).values(**values).on_conflict_do_nothing().returning(key))
    return result.first() is not None


async def update_unless_taken(db: AsyncSession, statement: Executable) -> bool:
    """Run an UPDATE that may collide with a unique column; False (and nothing changed) when
    it does. PostgreSQL aborts the whole transaction on a violation, so the statement runs in
    a savepoint there; SQLite aborts only the statement."""
    try:
        if db.get_bind().dialect.name == "postgresql":
            async with db.begin_nested():
                result = await db.execute(statement)
        else:
            result = await db.execute(statement)
    except IntegrityError:
        return False
    return bool(getattr(result, "rowcount", 0))


async def insert_many_unless_taken(
    db: AsyncSession, model: type[Any], rows: list[dict[str, Any]], returning: Any
) -> set[Any]:
    """Stage many rows of ``model`` in one statement, skipping each whose unique column is
    taken already; the ``returning`` values of the rows written."""
    if not rows:
        return set()
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await db.execute(insert(model).values(rows).on_conflict_do_nothing().returning(returning))
    return set(result.scalars())
