"""The one place tenant queries are scoped to a space (cf. Hydra's per-network chokepoint).

Every query that reads or writes rows belonging to a space goes through :class:`SpaceScope`,
so forgetting the ``space_id`` filter is not possible by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Delete, Select, Update, delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute


class SpaceOwned(Protocol):
    space_id: InstrumentedAttribute[str]


M = TypeVar("M")


@dataclass(frozen=True)
class SpaceScope:
    space_id: str

    def select(self, model: type[M]) -> Select[M]:
        return select(model).where(model.space_id == self.space_id)  # type: ignore[attr-defined]

    def count(self, model: type[Any]) -> Select[int]:
        return select(func.count()).select_from(model).where(model.space_id == self.space_id)

    def update(self, model: type[Any]) -> Update:
        return update(model).where(model.space_id == self.space_id)

    def delete(self, model: type[Any]) -> Delete:
        return delete(model).where(model.space_id == self.space_id)
