"""Scopes (RFC 6749 §3.3): the catalogue, parsing, and what a token may be granted.

The catalogue is the platform's (docs/decisions.md, "Scopes are the platform's"). It is made
of three files of one shape (docs/reference.md, "Scopes"):

* ``scopes.toml`` (this package): the **built-in** scopes, always there: the OpenID Connect
  scopes, the scopes Frontdesk's own endpoints check, and the administrative scopes of the
  admin API. A scope file may change a built-in scope's description and add to its
  ``includes``; anything else is an error.
* ``cobot_scopes.toml`` (this package): Cobot's published scopes (API 1 and API 2), the default
  catalogue when ``FRONTDESK_SCOPES_FILE`` is not set.
* the operator's file (``FRONTDESK_SCOPES_FILE``): the built-in scopes plus its own, and
  Cobot's too with ``extends = "cobot"``.

Umbrella scopes (``includes``) are expanded **when a grant starts** (:func:`token_scopes`): a
token stores every scope it holds, so changing the file later never widens a token that was
issued before (only the built-in umbrellas, which no file can narrow or widen, are also
expanded when a token is used, for tokens stored before expansion existed).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from frontdesk.names import UnsafeName, check_name
from frontdesk.oauth.errors import InvalidScope

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")

Hosts = Literal["main", "space", "any"]
HOSTS: tuple[Hosts, ...] = ("main", "space", "any")
# The longest scope name and description a file may define.
MAX_NAME = 100
MAX_DESCRIPTION = 300
# Every scope string is stored in columns of this size (store/models.py): a granted set that
# would not fit is refused as invalid_scope rather than failing to store.
MAX_SCOPE_STRING = 2000

BUILTIN_FILE = "scopes.toml"
COBOT_FILE = "cobot_scopes.toml"
SCOPES_FILE_SETTING = "FRONTDESK_SCOPES_FILE"

_SCOPE_KEYS = frozenset({"description", "includes", "restricted", "hosts"})
# Built-in entries also say whether a scope is administrative (the file may not).
_BUILTIN_KEYS = _SCOPE_KEYS | {"admin"}
_TOP_KEYS = frozenset({"extends", "scopes"})
_EXTENDS = ("cobot",)


class CatalogueError(ValueError):
    """A scope file that cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class ScopeInfo:
    """One scope of the catalogue."""

    name: str
    # Finishes the sentence "This app wants to …" on the consent page.
    description: str
    # Only trusted apps may hold it (an operator marks apps trusted).
    restricted: bool = False
    # Umbrella scopes: the scopes this one includes (expanded when a grant starts).
    includes: tuple[str, ...] = ()
    # Where it may be requested: the main host, space hosts (subdomains and custom
    # domains), or both.
    hosts: Hosts = "any"
    # An administrative scope (admin:<resource>:read|write, scim): only through the
    # client_credentials grant, only for apps listing it (see is_admin_scope).
    admin: bool = False
    # Always there (scopes.toml); a scope file may only describe it differently or add to
    # its includes.
    builtin: bool = False

    @property
    def implies(self) -> tuple[str, ...]:
        """The older name of :attr:`includes`."""
        return self.includes

    def offered_on(self, *, space: bool) -> bool:
        """Whether the scope may be requested on a space's host (``space``) or the main host."""
        return self.hosts == "any" or self.hosts == ("space" if space else "main")


Scope = ScopeInfo


@dataclass(frozen=True)
class Catalogue:
    scopes: dict[str, ScopeInfo]
    # Where it came from, for the CLI and error messages ("built-in + cobot", a path).
    source: str = ""

    def __contains__(self, name: object) -> bool:
        return name in self.scopes

    def describe(self, name: str) -> str:
        info = self.scopes.get(name)
        return info.description if info else name

    def names(self) -> list[str]:
        return list(self.scopes)

    def expand(self, granted: Iterable[str]) -> frozenset[str]:
        """The granted scopes plus everything they include (transitively)."""
        return frozenset(self.expand_ordered(granted))

    def expand_ordered(self, granted: Iterable[str]) -> tuple[str, ...]:
        """The granted scopes in their order, then what they include (transitively), each once."""
        result: dict[str, None] = dict.fromkeys(granted)
        todo = list(result)
        while todo:
            info = self.scopes.get(todo.pop(0))
            for member in info.includes if info else ():
                if member not in result:
                    result[member] = None
                    todo.append(member)
        return tuple(result)

    @cached_property
    def umbrellas(self) -> dict[str, frozenset[str]]:
        """For each scope, the scopes that include it (transitively), worked out once per
        catalogue so that checking a token's scope on each request expands nothing."""
        found: dict[str, set[str]] = {}
        for name in self.scopes:
            for member in self.expand_ordered((name,))[1:]:
                found.setdefault(member, set()).add(name)
        return {member: frozenset(names) for member, names in found.items()}

    def holds(self, held: Collection[str], scope: str) -> bool:
        """Whether ``held`` has ``scope`` itself or an umbrella that includes it."""
        return scope in held or not self.umbrellas.get(scope, _NONE).isdisjoint(held)


_NONE: frozenset[str] = frozenset()


def token_scopes(granted: Iterable[str], cat: Catalogue | None = None) -> tuple[str, ...]:
    """What a new grant stores (RFC 6749 §3.3): the granted scopes with their umbrellas
    expanded under today's catalogue. Grants that start from a person's consent or an app's
    own scopes (authorization code, password, client credentials) call it once; tokens made
    from a token (refresh, space tokens) copy the stored set, so a later change of the scope
    file never widens them."""
    scopes = (cat or catalogue()).expand_ordered(granted)
    if len(format_scope(scopes)) > MAX_SCOPE_STRING:
        raise InvalidScope("the requested scopes are too many to grant at once; ask for fewer")
    return scopes


def narrowed_scopes(
    requested: Iterable[str], held: tuple[str, ...], cat: Catalogue | None = None
) -> tuple[str, ...]:
    """A narrower token from one holding ``held`` (a refresh, RFC 6749 §6): the requested
    scopes with what they include, but only what ``held`` has: never more than before."""
    held_set = set(held)
    return tuple(s for s in (cat or catalogue()).expand_ordered(requested) if s in held_set)


def scopes_within(requested: tuple[str, ...], held: tuple[str, ...], holder: str) -> tuple[str, ...]:
    """The scopes of a token made from one that holds ``held`` (a refresh, RFC 6749 §6; an
    exchange, RFC 8693 §2.1): ``held`` when none are requested, else the requested ones
    narrowed within it; asking beyond it is ``invalid_scope`` naming ``holder``."""
    if not requested:
        return held
    beyond = [s for s in requested if s not in held]
    if beyond:
        raise InvalidScope(
            f"the {holder} does not cover {format_scope(beyond)}; ask for {format_scope(held)} or less"
        )
    # What the requested scopes include, as far as the holder has it: a narrowing never
    # widens under a changed scope file.
    return narrowed_scopes(requested, held)


# ---- the built-in umbrellas, checked when a token is used ------------------------------------


def holds(held: tuple[str, ...], scope: str) -> bool:
    """Whether a token holding ``held`` may use ``scope``: held itself, or included by a
    built-in umbrella (``scopes.toml``; no scope file changes those). Umbrellas of the scope
    file were expanded when the token was granted (:func:`token_scopes`)."""
    return _builtin().holds(held, scope)


def with_builtin_umbrellas(held: Iterable[str]) -> frozenset[str]:
    """``held`` with the built-in umbrellas expanded (the same for every scope file)."""
    return _builtin().expand(held)


# ---- loading ---------------------------------------------------------------------------------


def _package_text(name: str) -> str:
    return files("frontdesk.oauth").joinpath(name).read_text(encoding="utf-8")


def _line_of(text: str, name: str) -> int | None:
    """The line (1-based) of ``[scopes.<name>]`` in ``text``, for error messages."""
    pattern = re.compile(r"^\s*\[\s*scopes\s*\.\s*(['\"]?)" + re.escape(name) + r"\1\s*\]")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return None


class _Reader:
    """Reads one file's scopes into ``into``, with errors that say where."""

    def __init__(self, label: str, text: str, *, builtin: bool) -> None:
        self.label = label
        self.text = text
        self.builtin = builtin

    def fail(self, message: str, name: str | None = None) -> CatalogueError:
        line = _line_of(self.text, name) if name is not None else None
        where = f"{self.label}, line {line}" if line else self.label
        return CatalogueError(f"{where}: {message}")

    def parse(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{self.label}: not valid TOML: {exc}") from exc

    def tables(self, raw: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        unknown = sorted(set(raw) - _TOP_KEYS)
        if unknown:
            raise self.fail(
                f"unknown key {unknown[0]!r} at the top; a scope file has an optional "
                "'extends' and [scopes.<name>] tables"
            )
        scopes = raw.get("scopes", {})
        if not isinstance(scopes, dict):
            raise self.fail("'scopes' must be tables: [scopes.<name>]")
        for name, entry in scopes.items():
            if not isinstance(entry, dict):
                raise self.fail(f"scope {name!r} must be a table: [scopes.{name}]")
        return scopes

    def scope(self, name: str, entry: Mapping[str, Any]) -> ScopeInfo:
        if not _SCOPE_TOKEN.match(name) or len(name) > MAX_NAME:
            raise self.fail(
                f"{name!r} is not a scope name: at most {MAX_NAME} printable ASCII characters, "
                'no spaces, no " and no \\ (RFC 6749 §3.3)',
                name,
            )
        allowed = _BUILTIN_KEYS if self.builtin else _SCOPE_KEYS
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise self.fail(
                f"scope {name!r}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_SCOPE_KEYS))})",
                name,
            )
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            raise self.fail(f"scope {name!r}: 'description' (text for the consent page) is required", name)
        description = " ".join(description.split())
        if len(description) > MAX_DESCRIPTION:
            raise self.fail(
                f"scope {name!r}: the description is longer than {MAX_DESCRIPTION} characters", name
            )
        try:
            check_name(description)
        except UnsafeName as exc:
            raise self.fail(f"scope {name!r}: description: {exc}", name) from exc
        includes = entry.get("includes", [])
        if not isinstance(includes, list) or not all(isinstance(s, str) for s in includes):
            raise self.fail(f"scope {name!r}: 'includes' must be a list of scope names", name)
        if name in includes:
            raise self.fail(f"scope {name!r} includes itself", name)
        restricted = entry.get("restricted", False)
        if not isinstance(restricted, bool):
            raise self.fail(f"scope {name!r}: 'restricted' must be true or false", name)
        hosts = entry.get("hosts", "any")
        if hosts not in HOSTS:
            raise self.fail(f"scope {name!r}: 'hosts' must be one of {', '.join(HOSTS)}", name)
        admin = entry.get("admin", False)
        if not isinstance(admin, bool):
            raise self.fail(f"scope {name!r}: 'admin' must be true or false", name)
        if not self.builtin and is_admin_scope(name):
            raise self.fail(
                f"scope {name!r}: names 'scim' and 'admin:…' are reserved for Frontdesk's admin API", name
            )
        return ScopeInfo(
            name=name,
            description=description,
            restricted=restricted,
            includes=tuple(dict.fromkeys(includes)),
            hosts=hosts,
            admin=admin or is_admin_scope(name),
            builtin=self.builtin,
        )

    def merge(self, into: dict[str, ScopeInfo], tables: Mapping[str, Mapping[str, Any]]) -> None:
        for name, entry in tables.items():
            info = self.scope(name, entry)
            before = into.get(name)
            if before is not None and before.builtin and not self.builtin:
                info = self._over_builtin(before, info, entry)
            into[name] = info

    def _over_builtin(self, builtin: ScopeInfo, info: ScopeInfo, entry: Mapping[str, Any]) -> ScopeInfo:
        """A file's entry for a built-in scope: a new description, and its ``includes`` added
        to the built-in ones; the rest must stay as Frontdesk's own endpoints rely on it."""
        name = builtin.name
        for key in ("restricted", "hosts"):
            if key in entry and getattr(info, key) != getattr(builtin, key):
                raise self.fail(
                    f"scope {name!r} is built in with {key} = {_toml(getattr(builtin, key))}; a scope "
                    "file may change its description and add to its includes, nothing else",
                    name,
                )
        # The file's includes add to the built-in ones (which Frontdesk's endpoints rely on).
        includes = tuple(dict.fromkeys([*builtin.includes, *info.includes]))
        return ScopeInfo(
            name=name,
            description=info.description,
            restricted=builtin.restricted,
            includes=includes,
            hosts=builtin.hosts,
            admin=builtin.admin,
            builtin=True,
        )

    def check(self, scopes: Mapping[str, ScopeInfo]) -> None:
        """What holds across scopes: includes name known scopes, and an umbrella gives no
        more than itself (no restricted or administrative scope under an ordinary one)."""
        for info in scopes.values():
            for member in info.includes:
                target = scopes.get(member)
                if target is None:
                    raise self.fail(
                        f"scope {info.name!r} includes {member!r}, which is not defined", info.name
                    )
                if target.restricted and not info.restricted:
                    raise self.fail(
                        f"scope {info.name!r} includes the restricted scope {member!r}; mark "
                        f"{info.name!r} restricted too or leave {member!r} out",
                        info.name,
                    )
                if target.admin and not info.admin:
                    raise self.fail(
                        f"scope {info.name!r} includes the administrative scope {member!r}", info.name
                    )


def _toml(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else f'"{value}"'


def _read_builtin() -> dict[str, ScopeInfo]:
    reader = _Reader(f"frontdesk/oauth/{BUILTIN_FILE}", _package_text(BUILTIN_FILE), builtin=True)
    scopes: dict[str, ScopeInfo] = {}
    reader.merge(scopes, reader.tables(reader.parse()))
    reader.check(scopes)
    return scopes


def _add_cobot(scopes: dict[str, ScopeInfo]) -> None:
    reader = _Reader(f"frontdesk/oauth/{COBOT_FILE}", _package_text(COBOT_FILE), builtin=False)
    reader.merge(scopes, reader.tables(reader.parse()))


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue: the built-in scopes, then Cobot's (no file) or the operator's file at
    ``path``. Raises :class:`CatalogueError` naming the file and line for a bad file."""
    scopes = _read_builtin()
    if path is None:
        _add_cobot(scopes)
        reader = _Reader(f"frontdesk/oauth/{COBOT_FILE}", "", builtin=False)
        reader.check(scopes)
        return Catalogue(scopes, source="built-in + cobot (default)")
    label = f"{SCOPES_FILE_SETTING} {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CatalogueError(f"{label}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{label}: not UTF-8 text") from exc
    except OSError as exc:
        raise CatalogueError(f"{label}: cannot be read ({exc.strerror or exc})") from exc
    reader = _Reader(label, text, builtin=False)
    raw = reader.parse()
    tables = reader.tables(raw)
    extends = raw.get("extends")
    if extends is not None and extends not in _EXTENDS:
        raise reader.fail(f'extends = {extends!r}: the only catalogue to extend is "cobot"')
    if extends == "cobot":
        _add_cobot(scopes)
    reader.merge(scopes, tables)
    reader.check(scopes)
    base = "built-in + cobot" if extends == "cobot" else "built-in"
    return Catalogue(scopes, source=f"{base} + {path}")


_BUILTIN: Catalogue | None = None
_ACTIVE: Catalogue | None = None


def _builtin() -> Catalogue:
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = Catalogue(_read_builtin(), source="built-in")
    return _BUILTIN


def catalogue() -> Catalogue:
    """The catalogue in use: the one :func:`use_catalogue` installed (composition.py does,
    from the settings), else the default (built-in + Cobot's)."""
    global _ACTIVE
    if _ACTIVE is None:
        _ACTIVE = load_catalogue(None)
    return _ACTIVE


def use_catalogue(cat: Catalogue) -> Catalogue:
    """Make ``cat`` the catalogue of this process (one per process: the settings' file)."""
    global _ACTIVE
    _ACTIVE = cat
    return cat


# Administrative scopes (docs/integrating.md, "Admin API"): held only by apps that list them
# in their admin scopes, and only through the client_credentials grant (RFC 6749 §4.4).
ADMIN_RESOURCES = ("users", "spaces", "memberships", "apps", "tokens", "audit", "webhooks")
ADMIN_SCOPES = (*(f"admin:{r}:{m}" for r in ADMIN_RESOURCES for m in ("read", "write")), "scim")


def is_admin_scope(name: str) -> bool:
    """``admin:<resource>:read|write`` and ``scim``: never granted to a person's token."""
    return name == "scim" or name.startswith("admin:")


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
    space_host: bool | None = None,
) -> tuple[str, ...]:
    """What a new token gets (RFC 6749 §3.3): the requested scopes limited to what the app is
    allowed; nothing requested means the app's own scopes. Unknown scopes, restricted scopes
    for untrusted apps, administrative scopes (only the client_credentials grant gives them),
    scopes not offered on this host (``space_host``: a space's host or the main one; None:
    not checked), or a request that keeps nothing are ``invalid_scope``."""
    cat = cat or catalogue()
    check_known(requested, cat)
    admin = [s for s in requested if is_admin_scope(s)]
    if admin:
        raise InvalidScope(f"scope {admin[0]!r} is only granted through the client_credentials grant")
    if space_host is not None:
        where = "a space's host" if space_host else "the main host"
        for name in requested:
            if not cat.scopes[name].offered_on(space=space_host):
                raise InvalidScope(f"scope {name!r} is not offered on {where}")
    if not requested:
        own = tuple(
            s
            for s in allowed
            if s in cat and (space_host is None or cat.scopes[s].offered_on(space=space_host))
        )
        if not own:
            raise InvalidScope("no scope requested and the app has no default scopes")
        return own
    allowed_set = set(allowed)
    granted = tuple(s for s in requested if s in allowed_set)
    if not granted:
        raise InvalidScope("none of the requested scopes is allowed for this app")
    for name in granted:
        if cat.scopes[name].restricted and not trusted:
            raise InvalidScope(f"scope {name!r} is only for trusted apps")
    return granted
