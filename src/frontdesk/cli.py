"""The ``frontdesk`` command for operators.

Every command that creates or shows something takes ``--json``. Bad input gives a one-line
error on stderr and a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FieldError, FrontdeskError
from frontdesk.security.passwords import Passwords
from frontdesk.settings import ConfigurationError, Settings
from frontdesk.store.db import Database, DatabaseNotMigrated

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Operate a Frontdesk server.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
users_app = typer.Typer(no_args_is_help=True, help="User accounts.")
spaces_app = typer.Typer(no_args_is_help=True, help="Spaces (tenants).")
members_app = typer.Typer(no_args_is_help=True, help="Memberships of spaces.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(spaces_app, name="spaces")
app.add_typer(members_app, name="members")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return Settings()
    except (ValueError, ConfigurationError) as exc:
        fail(f"bad configuration: {exc}".replace("\n", " "))


def passwords_for(cfg: Settings) -> Passwords:
    return Passwords(
        time_cost=cfg.argon2_time_cost,
        memory_kib=cfg.argon2_memory_kib,
        parallelism=cfg.argon2_parallelism,
        concurrency=cfg.hash_concurrency,
    )


def run(work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` with the configuration, turning known failures into one-line errors."""
    cfg = settings()
    try:
        return asyncio.run(work(cfg))
    except FieldError as exc:
        fail(f"{exc.field.replace('_', '-')}: {exc.message}")
    except (FrontdeskError, ConfigurationError, DatabaseNotMigrated) as exc:
        fail(getattr(exc, "message", None) or str(exc))


def with_db(work: Callable[[Settings, AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in a session on a migrated database."""

    async def go(cfg: Settings) -> T:
        db = Database(cfg)
        try:
            await db.check_migrated()
            async with db.session() as session:
                return await work(cfg, session)
        finally:
            await db.dispose()

    return run(go)


def emit(data: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in lines:
            typer.echo(line)


# ---- serve ---------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request (secrets redacted).")] = True,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Serve Frontdesk over HTTP (put a TLS proxy in front in production)."""
    import uvicorn

    from frontdesk.logs import uvicorn_log_config

    async def check(cfg: Settings) -> None:
        cfg.resolve_secret_key()
        db = Database(cfg)
        try:
            await db.check_migrated()
        finally:
            await db.dispose()

    run(check)
    uvicorn.run(
        "frontdesk.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        proxy_headers=False,  # Frontdesk reads X-Forwarded-* itself, from trusted proxies only
        server_header=False,
        access_log=access_log,
        log_config=uvicorn_log_config(log_level, access_log),
    )


# ---- db ------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the database schema."""
    from frontdesk.store.migrate import upgrade

    async def go(cfg: Settings) -> tuple[str | None, str | None]:
        cfg.resolve_secret_key()
        return await upgrade(cfg, revision)

    before, after = run(go)
    if before == after:
        typer.echo(f"database already at {after}")
    else:
        typer.echo(f"database upgraded from {before or 'empty'} to {after}")


# ---- users ---------------------------------------------------------------------------------


def user_dict(user: Any) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "created_at": user.created_at.isoformat()}


@users_app.command("create")
def users_create(
    email: str,
    password: Annotated[
        str,
        typer.Option(
            help="The password (prompted if omitted).", prompt=True, hide_input=True, confirmation_prompt=True
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user account."""
    from frontdesk.services.accounts import create_user

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        user = await create_user(db, passwords_for(cfg), email=email, password=password, name=name)
        return user_dict(user)

    data = with_db(work)
    emit(data, as_json, [f"created user {data['email']} (id {data['id']})"])


@users_app.command("show")
def users_show(email: str, as_json: JsonOpt = False) -> None:
    """Show a user and their spaces."""
    from frontdesk.services import accounts, spaces

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        user = await accounts.find_by_email(db, email)
        if user is None:
            raise FrontdeskError(f"no user with email {email}")
        data = user_dict(user)
        data["spaces"] = [
            {"subdomain": s.space.subdomain, "role": s.role} for s in await spaces.spaces_of(db, user.id)
        ]
        return data

    data = with_db(work)
    lines = [f"{data['email']}  id={data['id']}  name={data['name']}"]
    lines += [f"  {s['role']:6} {s['subdomain']}" for s in data["spaces"]]
    emit(data, as_json, lines)


# ---- spaces --------------------------------------------------------------------------------


def space_dict(cfg: Settings, space: Any) -> dict[str, Any]:
    from frontdesk.services.spaces import space_url

    return {
        "id": space.id,
        "subdomain": space.subdomain,
        "name": space.name,
        "custom_domain": space.custom_domain,
        "url": space_url(cfg, space),
    }


@spaces_app.command("create")
def spaces_create(
    subdomain: str,
    name: Annotated[str, typer.Option(help="Display name of the space.")],
    admin: Annotated[str, typer.Option(help="Email of the owner, who becomes its first admin.")],
    custom_domain: Annotated[str | None, typer.Option(help="A custom domain for the space.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a space."""
    from frontdesk.services import accounts, spaces

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        spaces.validate_subdomain(subdomain)
        spaces.validate_custom_domain(custom_domain, cfg)
        owner = await accounts.find_by_email(db, admin)
        if owner is None:
            raise FrontdeskError(f"no user with email {admin}")
        space = await spaces.create_space(
            db, cfg, subdomain=subdomain, name=name, owner=owner, custom_domain=custom_domain
        )
        return space_dict(cfg, space)

    data = with_db(work)
    emit(data, as_json, [f"created space {data['subdomain']} at {data['url']} (id {data['id']})"])


@spaces_app.command("show")
def spaces_show(subdomain: str, as_json: JsonOpt = False) -> None:
    """Show a space and its members."""
    from frontdesk.services import spaces

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        space = await spaces.get_by_subdomain(db, subdomain)
        if space is None:
            raise FrontdeskError(f"no space with subdomain {subdomain}")
        data = space_dict(cfg, space)
        data["members"] = [
            {"email": m.user.email, "role": m.role, "user_id": m.user_id}
            for m in await spaces.list_members(db, space.id)
        ]
        return data

    data = with_db(work)
    lines = [f"{data['subdomain']}  {data['name']}  {data['url']}  id={data['id']}"]
    lines += [f"  {m['role']:6} {m['email']}" for m in data["members"]]
    emit(data, as_json, lines)


@spaces_app.command("list")
def spaces_list(as_json: JsonOpt = False) -> None:
    """List all spaces."""
    from sqlalchemy import select

    from frontdesk.store.models import Space

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        rows = (await db.execute(select(Space).order_by(Space.subdomain))).scalars()
        return {"spaces": [space_dict(cfg, s) for s in rows]}

    data = with_db(work)
    emit(data, as_json, [f"{s['subdomain']:20} {s['url']}" for s in data["spaces"]])


# ---- members -------------------------------------------------------------------------------


@members_app.command("add")
def members_add(
    subdomain: str,
    email: str,
    admin: Annotated[bool, typer.Option("--admin", help="Make them an admin of the space.")] = False,
    admin_name: Annotated[str | None, typer.Option(help="Their name as admin in this space.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user to a space (or change their role)."""
    from frontdesk.services import spaces

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        space = await spaces.get_by_subdomain(db, subdomain)
        if space is None:
            raise FrontdeskError(f"no space with subdomain {subdomain}")
        m = await spaces.add_member(
            db, space, email=email, role="admin" if admin else "member", admin_name=admin_name
        )
        return {
            "id": m.id,
            "space": space.subdomain,
            "email": m.user.email,
            "user_id": m.user_id,
            "role": m.role,
        }

    data = with_db(work)
    emit(data, as_json, [f"{data['email']} is now {data['role']} of {data['space']}"])


# ---- seed ----------------------------------------------------------------------------------


@app.command()
def seed(
    file: Annotated[Path, typer.Argument(help="A YAML or JSON sandbox file, e.g. examples/sandbox.yaml.")],
    as_json: JsonOpt = False,
) -> None:
    """Load users, spaces and memberships (idempotent)."""
    from frontdesk.services.seed import load_document
    from frontdesk.services.seed import seed as do_seed

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        document = load_document(file)
        return (await do_seed(db, passwords_for(cfg), cfg, document)).as_dict()

    data = with_db(work)
    lines = [f"created {item}" for item in data["created"]] + [f"exists  {item}" for item in data["existing"]]
    emit(data, as_json, lines or ["nothing to do"])


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
