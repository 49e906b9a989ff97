"""Scopes (RFC 6749 §3.3): the catalogue, parsing, and what a token may be granted."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from frontdesk.oauth.errors import InvalidScope

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


@dataclass(frozen=True)
class ScopeInfo:
    name: str
    description: str
    restricted: bool = False
    implies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    scopes: dict[str, ScopeInfo]

    def __contains__(self, name: object) -> bool:
        return name in self.scopes

    def describe(self, name: str) -> str:
        info = self.scopes.get(name)
        return info.description if info else name

    def names(self) -> list[str]:
        return list(self.scopes)

    def expand(self, granted: Iterable[str]) -> frozenset[str]:
        """The granted scopes plus everything they imply (transitively)."""
        result: set[str] = set()
        todo = list(granted)
        while todo:
            name = todo.pop()
            if name in result:
                continue
            result.add(name)
            info = self.scopes.get(name)
            if info:
                todo.extend(info.implies)
        return frozenset(result)


@cache
def catalogue() -> Catalogue:
    raw = tomllib.loads(files("frontdesk.oauth").joinpath("scopes.toml").read_text())
    return Catalogue(
        {
            name: ScopeInfo(
                name=name,
                description=str(entry["description"]),
                restricted=bool(entry.get("restricted", False)),
                implies=tuple(entry.get("implies", ())),
            )
            for name, entry in raw.items()
        }
    )


def parse_scope(raw: str | None) -> tuple[str, ...]:
    """Split a scope parameter on spaces (and, tolerated, commas); keep order, drop repeats."""
    if not raw:
        return ()
    seen: dict[str, None] = {}
    for part in re.split(r"[\s,]+", raw.strip()):
        if part:
            seen.setdefault(part, None)
    return tuple(seen)


def format_scope(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def check_known(scopes: Iterable[str], cat: Catalogue | None = None) -> None:
    cat = cat or catalogue()
    for name in scopes:
        if not _SCOPE_TOKEN.match(name):
            raise InvalidScope(f"malformed scope {name!r}")
        if name not in cat:
            raise InvalidScope(f"unknown scope {name!r}")


def grant_scopes(
    requested: tuple[str, ...],
    allowed: tuple[str, ...],
    *,
    trusted: bool = False,
    cat: Catalogue | None = None,
) -> tuple[str, ...]:
    """What a new token gets (RFC 6749 §3.3): the requested scopes limited to what the app is
    allowed; nothing requested means the app's own scopes. Unknown scopes, restricted scopes
    for untrusted apps, or a request that keeps nothing are ``invalid_scope``."""
    cat = cat or catalogue()
    check_known(requested, cat)
    if not requested:
        if not allowed:
            raise InvalidScope("no scope requested and the app has no default scopes")
        return allowed
    allowed_set = set(allowed)
    granted = tuple(s for s in requested if s in allowed_set)
    if not granted:
        raise InvalidScope("none of the requested scopes is allowed for this app")
    for name in granted:
        if cat.scopes[name].restricted and not trusted:
            raise InvalidScope(f"scope {name!r} is only for trusted apps")
    return granted
