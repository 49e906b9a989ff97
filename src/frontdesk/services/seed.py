"""Load a sandbox (users, spaces, memberships, apps) from a YAML or JSON document.

Seeding is idempotent: running the same file twice changes nothing the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FieldError, FrontdeskError
from frontdesk.security.passwords import Passwords
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import accounts, apps, spaces
from frontdesk.settings import Settings


class SeedError(FrontdeskError):
    pass


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "existing": self.existing}


def load_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SeedError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SeedError(
            f"{path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise SeedError(f"{path} must hold a mapping with 'users', 'spaces' (and 'apps')")
    unknown = set(data) - {"users", "spaces", "apps"}
    if unknown:
        raise SeedError(f"unknown top-level keys in {path}: {', '.join(sorted(unknown))}")
    return data


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise SeedError(f"'{key}' must be a list")
    return value


def _mapping(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise SeedError(f"{where} must be a mapping")
    return item


APP_KEYS = frozenset(
    {
        "name",
        "owner",
        "redirect_uris",
        "scopes",
        "name_in_space",
        "main_url",
        "public",
        "password_grant",
        "allow_redirect_query",
        "trusted",
        "require_pkce",
        "access_token_ttl",
        "can_introspect",
        "client_id",
        "client_secret",
        "client_credentials",
        "admin_scopes",
    }
)


async def seed(
    db: AsyncSession,
    passwords: Passwords,
    settings: Settings,
    data: dict[str, Any],
    *,
    server_secret: ServerSecret | None = None,
) -> SeedReport:
    """Create what ``data`` describes and does not exist yet. Apps need ``server_secret`` (the
    server's, so that their secrets and test tokens work on the server)."""
    report = SeedReport()
    for i, item in enumerate(_list(data, "users")):
        where = f"users[{i}]"
        entry = _mapping(item, where)
        email = str(entry.get("email") or "")
        if await accounts.find_by_email(db, email) is not None:
            report.existing.append(f"user {email}")
            continue
        try:
            await accounts.create_user(
                db,
                passwords,
                email=email,
                password=str(entry.get("password") or ""),
                name=entry.get("name"),
                # The operator vouches for the address (as the admin API's email_verified).
                email_verified=entry.get("email_verified") is True,
            )
        except FieldError as exc:
            raise SeedError(f"{where}.{exc.field}: {exc.message}") from exc
        report.created.append(f"user {email}")

    for i, item in enumerate(_list(data, "spaces")):
        where = f"spaces[{i}]"
        entry = _mapping(item, where)
        subdomain = str(entry.get("subdomain") or "")
        space = await spaces.get_by_subdomain(db, subdomain) if subdomain else None
        if space is None:
            owner = await accounts.find_by_email(db, str(entry.get("admin") or ""))
            if owner is None:
                raise SeedError(f"{where}.admin: no user with email {entry.get('admin')!r}")
            try:
                space = await spaces.create_space(
                    db,
                    settings,
                    subdomain=subdomain,
                    name=str(entry.get("name") or ""),
                    owner=owner,
                    custom_domain=entry.get("custom_domain"),
                    domain_verified=True,  # the operator's seed file vouches for it
                )
            except FieldError as exc:
                raise SeedError(f"{where}.{exc.field}: {exc.message}") from exc
            report.created.append(f"space {space.subdomain}")
        else:
            report.existing.append(f"space {space.subdomain}")
        for j, member in enumerate(entry.get("members") or []):
            mwhere = f"{where}.members[{j}]"
            mentry = {"email": member} if isinstance(member, str) else _mapping(member, mwhere)
            user = await accounts.find_by_email(db, str(mentry.get("email") or ""))
            if user is None:
                raise SeedError(f"{mwhere}.email: no user with email {mentry.get('email')!r}")
            role = str(mentry.get("role") or "member")
            current = await spaces.membership_of(db, space.id, user.id)
            if current is not None and current.role == role:
                report.existing.append(f"{role} {user.email} in {space.subdomain}")
                continue
            try:
                await spaces.add_member(
                    db, space, email=user.email, role=role, admin_name=mentry.get("admin_name")
                )
            except FieldError as exc:
                raise SeedError(f"{mwhere}.{exc.field}: {exc.message}") from exc
            report.created.append(f"{role} {user.email} in {space.subdomain}")

    for i, item in enumerate(_list(data, "apps")):
        await _seed_app(db, server_secret, _mapping(item, f"apps[{i}]"), f"apps[{i}]", report)
    return report


def _flag(entry: dict[str, Any], key: str, where: str) -> bool | None:
    value = entry.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise SeedError(f"{where}.{key}: must be true or false")


def _ttl(entry: dict[str, Any], where: str) -> int | None:
    value = entry.get("access_token_ttl")
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise SeedError(f"{where}.access_token_ttl: must be a number of seconds")


def _strings(entry: dict[str, Any], key: str, where: str) -> list[str]:
    value = entry.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise SeedError(f"{where}.{key}: must be a string or a list of strings")


async def _seed_app(
    db: AsyncSession,
    server_secret: ServerSecret | None,
    entry: dict[str, Any],
    where: str,
    report: SeedReport,
) -> None:
    """One app, reported without its secret. It exists if its client id is taken or, when
    the entry names no client id, if its owner already has an app of that name."""
    unknown = set(entry) - APP_KEYS
    if unknown:
        raise SeedError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    name = str(entry.get("name") or "")
    owner = await accounts.find_by_email(db, str(entry.get("owner") or ""))
    if owner is None:
        raise SeedError(f"{where}.owner: no user with email {entry.get('owner')!r}")
    client_id = entry.get("client_id")
    if client_id is not None:
        client_id = str(client_id)
        existing = await apps.get_app(db, client_id)
    else:
        existing = await apps.find_by_name(db, owner.id, " ".join(name.split()))
    if existing is not None:
        report.existing.append(f"app {existing.name} ({existing.client_id})")
        return
    if server_secret is None:
        raise SeedError("seeding apps needs the server's server_secret")
    secret = entry.get("client_secret")
    try:
        created = await apps.register_app(
            db,
            server_secret,
            owner=owner,
            name=name,
            redirect_uris=_strings(entry, "redirect_uris", where),
            scopes=_strings(entry, "scopes", where),
            name_in_space=entry.get("name_in_space"),
            main_url=str(entry.get("main_url") or ""),
            password_grant=_flag(entry, "password_grant", where),
            public=bool(_flag(entry, "public", where)),
            allow_redirect_query=bool(_flag(entry, "allow_redirect_query", where)),
            trusted=bool(_flag(entry, "trusted", where)),
            require_pkce=bool(_flag(entry, "require_pkce", where)),
            access_token_ttl=_ttl(entry, where),
            can_introspect=bool(_flag(entry, "can_introspect", where)),
            client_credentials=_flag(entry, "client_credentials", where),
            admin_scopes=_strings(entry, "admin_scopes", where),
            client_id=client_id,
            client_secret=str(secret) if secret is not None else None,
            registered_via="seed",
        )
    except FieldError as exc:
        raise SeedError(f"{where}.{exc.field}: {exc.message}") from exc
    report.created.append(f"app {created.app.name} ({created.app.client_id})")
