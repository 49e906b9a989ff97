"""The ``frontdesk`` command for operators.

Every command that creates or shows something takes ``--json``. Bad input gives a one-line
error on stderr and a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from typer.core import TyperGroup

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]

from frontdesk.errors import FieldError, FrontdeskError
from frontdesk.oauth.models import JWT_ACCESS_TOKEN_TTL, Person
from frontdesk.oauth.scopes import catalogue, load_catalogue, use_catalogue
from frontdesk.records import SpaceRef
from frontdesk.security.passwords import Passwords
from frontdesk.services import pruning
from frontdesk.settings import ConfigurationError, Settings
from frontdesk.store.db import Database, DatabaseNotMigrated


class OneLineErrors(TyperGroup):
    """The ``frontdesk`` group: usage errors are one line on stderr (exit status 2), as every
    other error is, instead of a framed box; the help is click's plain text."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        def inner() -> Any:
            return super(OneLineErrors, self).main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )

        if not standalone_mode:
            return inner()
        try:
            result = inner()
        except click_errors.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(exc.exit_code)
        except click_errors.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "frontdesk"
            typer.echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
            sys.exit(exc.exit_code)
        except click_errors.ClickException as exc:
            typer.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def group(**options: Any) -> typer.Typer:
    # rich_markup_mode=None: plain help, wrapped (not cut) to the terminal up to 120 columns,
    # without rich's type placeholders (<bool>, <str>).
    options.setdefault("no_args_is_help", True)
    return typer.Typer(
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"max_content_width": 120},
        **options,
    )


app = group(cls=OneLineErrors, add_completion=False, help="Operate a Frontdesk server.")
db_app = group(help="Database schema and pruning.")
users_app = group(help="User accounts.")
spaces_app = group(help="Spaces (tenants).")
members_app = group(help="Memberships of spaces.")
clients_app = group(help="Registered apps (OAuth clients).")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(spaces_app, name="spaces")
app.add_typer(members_app, name="members")
app.add_typer(clients_app, name="clients")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]
PasswordOpt = Annotated[
    str | None,
    typer.Option(
        help="The password. Without it: asked twice at a terminal, else the first line of "
        "standard input (e.g. piped from a password manager; keeps it out of the process list)."
    ),
]
T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings(*, follow_server: bool = True) -> Settings:
    """The configuration. Without FRONTDESK_PUBLIC_URL, links follow the server last started
    on the same SQLite database (``frontdesk serve`` notes its public URL next to it), so
    ``make run PORT=…`` and the commands in another terminal agree."""
    try:
        cfg = Settings()
    except ValidationError as exc:
        fail(f"bad configuration: {'; '.join(setting_error(e) for e in exc.errors())}")
    except (ValueError, ConfigurationError) as exc:
        fail(f"bad configuration: {exc}".replace("\n", " "))
    # The commands check apps' scopes against the operator's catalogue, as the server does.
    use_catalogue(load_catalogue(cfg.scopes_file))
    return cfg.following_the_server() if follow_server else cfg


def setting_error(error: Any) -> str:
    """One setting's problem as ``FRONTDESK_<NAME>: <why>`` (pydantic's own wording)."""
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    name = "FRONTDESK_" + "_".join(str(part) for part in error.get("loc", ())).upper()
    return message if message.startswith(name) else f"{name}: {message}"


def passwords_for(cfg: Settings) -> Passwords:
    return Passwords(
        time_cost=cfg.argon2_time_cost,
        memory_kib=cfg.argon2_memory_kib,
        parallelism=cfg.argon2_parallelism,
        concurrency=cfg.hash_concurrency,
        bcrypt_pepper=cfg.import_bcrypt_pepper.get_secret_value(),
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
    except OSError as exc:
        if exc.filename is not None:  # a file, not the database server
            fail(f"{exc.strerror or exc}: {exc.filename}")
        fail(f"cannot reach the database {database_name(cfg)}: {exc}")
    except sa_exc.DBAPIError as exc:
        fail(f"cannot use the database {database_name(cfg)}: {first_line(exc.orig or exc)}")


def database_name(cfg: Settings) -> str:
    """The database URL for messages, without its password."""
    return make_url(cfg.database_url).render_as_string(hide_password=True)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def require_database(cfg: Settings) -> None:
    """Every command but ``db upgrade`` works on an existing database: a missing SQLite file is
    an error, not a new empty file (with its secret file next to it)."""
    path = cfg.sqlite_path()
    if path is not None and not path.exists():
        raise DatabaseNotMigrated(
            f"There is no database at {path}. Run `frontdesk db upgrade` "
            "(with the same FRONTDESK_DATABASE_URL) to create it."
        )


@contextlib.asynccontextmanager
async def migrated_database(cfg: Settings) -> AsyncIterator[Database]:
    """The existing, migrated database of ``cfg`` (see :func:`require_database`), disposed
    of afterwards."""
    require_database(cfg)
    db = Database(cfg)
    try:
        await db.check_migrated()
        yield db
    finally:
        await db.dispose()


def with_db(work: Callable[[Settings, AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` as one unit of work on a migrated database: committed when it returns,
    rolled back when it fails. A running server sees the change at once (the commit's cache
    invalidation reaches it, see frontdesk.store.invalidation)."""

    async def go(cfg: Settings) -> T:
        async with migrated_database(cfg) as db, db.unit_of_work() as uow:
            result = await work(cfg, uow.session)
            await uow.commit()
            return result

    return run(go)


def confirm(yes: bool, question: str) -> None:
    """Ask before deleting, unless ``--yes`` or nobody is at a terminal to answer."""
    if not yes and sys.stdin.isatty():
        typer.confirm(question, abort=True)


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
    from frontdesk.web.supervisor import exec_supervisor

    async def check(cfg: Settings) -> None:
        require_database(cfg)  # before the secret: no secret file beside a missing database
        cfg.resolve_secret_key()
        async with migrated_database(cfg):
            pass

    run(check)
    cfg = settings(follow_server=False)
    if cfg.env == "development" and "public_url" not in cfg.model_fields_set:
        # Links follow --port unless FRONTDESK_PUBLIC_URL says otherwise; the app reads it from
        # the environment, in every worker.
        os.environ["FRONTDESK_PUBLIC_URL"] = f"http://localhost:{port}"
        cfg = settings(follow_server=False)
    try:
        cfg.note_served_url()
    except OSError as exc:
        typer.echo(f"warning: other frontdesk commands will not know this server's URL: {exc}", err=True)
    from frontdesk.store.migrate import HEAD_FROM_SERVE, head_revision

    # This process has imported what the checks needed (SQLAlchemy, the store, the settings,
    # Alembic): it becomes a fresh supervisor (web/supervisor.py), told the head revision the
    # check read so that no process of the server loads Alembic (store/migrate.py).
    os.environ[HEAD_FROM_SERVE] = head_revision() or ""
    exec_supervisor(
        {
            "host": host,
            "port": port,
            "workers": workers,
            "reload": reload,
            "access_log": access_log,
            "log_level": log_level,
            "max_header_bytes": cfg.max_header_bytes,
            "shutdown_timeout_seconds": cfg.shutdown_timeout_seconds,
            # FRONTDESK_METRICS_ADDRESS: metrics served by the supervisor (docs/metrics.md).
            "metrics_address": cfg.metrics_address,
        }
    )


@app.command("url")
def public_url() -> None:
    """Print the public URL links are built from: FRONTDESK_PUBLIC_URL, else the URL of the
    server last started on this SQLite database, else http://localhost:8000."""
    typer.echo(settings().public_url)


# ---- db ------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the database schema."""
    from frontdesk.store.migrate import upgrade

    async def go(cfg: Settings) -> tuple[str | None, str | None]:
        from frontdesk.services.signing_keys import ensure_key
        from frontdesk.store.migrate import head_revision

        before, after = await upgrade(cfg, revision)
        if after == head_revision():
            # Create the first signing key now, so workers never race to make it.
            db = Database(cfg)
            try:
                async with db.unit_of_work() as uow:
                    await ensure_key(uow.session, db.server_secret)
                    await uow.commit()
            finally:
                await db.dispose()
        return before, after

    before, after = run(go)
    if before == after:
        typer.echo(f"database already at {after}")
    else:
        typer.echo(f"database upgraded from {before or 'empty'} to {after}")


@db_app.command("prune")
def db_prune(
    keep_days: Annotated[
        float,
        typer.Option(
            "--keep-days",
            min=0,
            help="Delete codes, tokens, sessions, email links, invitations, passkey challenges, "
            "device and pushed requests only after they have been expired, revoked or used for "
            "this many days.",
        ),
    ] = pruning.DEFAULT_KEEP_DAYS,
    delivered_days: Annotated[
        float,
        typer.Option(
            "--delivered-days", min=0, help="Delete delivered webhooks and sent emails older than this."
        ),
    ] = pruning.DEFAULT_DELIVERED_DAYS,
    audit_days: Annotated[
        float | None,
        typer.Option("--audit-days", min=0, help="Delete audit events older than this (default: keep all)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete rows that can no longer have any effect, in batches, while the server runs
    (docs/operations.md, "Pruning"). Run it daily, e.g. from cron or a systemd timer."""

    async def go(cfg: Settings) -> dict[str, int]:
        async with migrated_database(cfg) as db:
            return await pruning.prune(
                db, keep_days=keep_days, delivered_days=delivered_days, audit_days=audit_days, dry_run=dry_run
            )

    done = run(go)
    verb = "would delete" if dry_run else "deleted"
    emit(
        {"dry_run": dry_run, "deleted": done},
        as_json,
        [f"{name}: {verb} {count:,}" for name, count in done.items()]
        + [f"total: {verb} {sum(done.values()):,}"],
    )


# ---- users ---------------------------------------------------------------------------------


def user_dict(user: Any) -> dict[str, Any]:
    created = user.created_at.isoformat() if user.created_at else None
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "email_verified": user.email_verified,
        "created_at": created,
    }


@users_app.command("create")
def users_create(
    email: str,
    password: PasswordOpt = None,
    password_hash: Annotated[
        str | None,
        typer.Option(
            "--password-hash",
            metavar="HASH",
            help="A hash from your old system instead of a password (bcrypt as Devise or Django "
            "write it, Django's PBKDF2-SHA256, Argon2 in PHC form), as `users import` takes it; "
            "re-hashed at the first login.",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user account with a password, or with an imported password hash."""
    from frontdesk.services.accounts import create_user

    # The service checks the hash (accounts.check_password_hash) and refuses both at once.
    if password_hash is None:
        password = read_password(password)

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        user = await create_user(
            db, passwords_for(cfg), email=email, password=password, password_hash=password_hash, name=name
        )
        return user_dict(user)

    data = with_db(work)
    emit(data, as_json, [f"created user {data['email']} (id {data['id']})"])


@users_app.command("show")
def users_show(email: str, as_json: JsonOpt = False) -> None:
    """Show a user and their spaces."""
    from frontdesk.services import spaces

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        user = await _user_by_email(db, email)
        data = user_dict(user)
        data["spaces"] = [
            {"subdomain": s.space.subdomain, "role": s.role} for s in await spaces.spaces_of(db, user.id)
        ]
        return data

    data = with_db(work)
    lines = [f"{data['email']}  id={data['id']}  name={data['name']}"]
    lines += [f"  {s['role']:6} {s['subdomain']}" for s in data["spaces"]]
    emit(data, as_json, lines)


@users_app.command("list")
def users_list(
    search: Annotated[
        str | None, typer.Option("--search", help="Only users whose email or name contains this.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many users.", min=1, max=10000)] = 100,
    after: Annotated[
        str | None, typer.Option("--after", help="Only emails sorting after this one (the next page).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List user accounts by email."""
    from frontdesk.services import accounts

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        found = await accounts.list_users(db, search=search, limit=limit, after=after)
        return {"users": [user_dict(user) for user in found]}

    data = with_db(work)
    lines = [f"{u['email']}  id={u['id']}  name={u['name']}" for u in data["users"]]
    emit(data, as_json, lines or ["no users"])


async def _user_by_email(db: AsyncSession, email: str) -> Person:
    from frontdesk.services import accounts

    user = await accounts.find_by_email(db, email)
    if user is None:
        raise FrontdeskError(f"no user with email {email}")
    return user


@users_app.command("delete")
def users_delete(
    email: str,
    yes: YesOpt = False,
) -> None:
    """Delete a user: their tokens are revoked, their memberships and apps deleted. Refused
    while they own spaces."""
    from frontdesk.services import accounts

    confirm(yes, f"Delete {email}, their memberships and their apps?")

    async def work(cfg: Settings, db: AsyncSession) -> str:
        user = await _user_by_email(db, email)
        await accounts.delete_user(db, user.id)
        return str(user.email)

    typer.echo(f"deleted user {with_db(work)}")


@users_app.command("set-password")
def users_set_password(
    email: str,
    password: PasswordOpt = None,
) -> None:
    """Set a user's password (also for accounts imported or created without one)."""
    from frontdesk.services import accounts

    password = read_password(password)

    async def work(cfg: Settings, db: AsyncSession) -> str:
        user = await _user_by_email(db, email)
        return str((await accounts.set_password(db, passwords_for(cfg), user.id, password)).email)

    typer.echo(f"password set for {with_db(work)}")


@users_app.command("import")
def users_import(
    file: Annotated[Path, typer.Argument(help="A CSV file with a header, or JSON lines; - for stdin.")],
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="csv or jsonl (default: from the file name, else its first line)."),
    ] = None,
    update: Annotated[
        bool,
        typer.Option("--update", help="Set the name and hash the file gives on accounts that exist already."),
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per transaction.", min=1, max=2000)] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Create accounts from a file of email, name, password_hash (docs/integrating.md).

    Accounts that exist are left unchanged (unless --update); each bad row is reported with its
    line and the rest go on; the exit status is 1 if any row failed."""
    from frontdesk.services import imports

    if file_format not in (None, "csv", "jsonl"):
        fail("format: use csv or jsonl")
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    errors: list[dict[str, Any]] = []

    def report(error: Any) -> None:
        counts["failed"] += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(imports.error_dict(error))
        typer.echo(f"line {error.line}: {error.field}: {error.message}", err=True)

    async def go(cfg: Settings) -> None:
        require_database(cfg)
        stream: Any = sys.stdin.buffer if str(file) == "-" else open(file, "rb")  # noqa: SIM115, ASYNC230 - a command, nothing else runs
        size = os.fstat(stream.fileno()).st_size if stream is not sys.stdin.buffer else 0
        db = Database(cfg)
        try:
            await db.check_migrated()
            fmt: Any = file_format or imports.guess_format(str(file), stream.peek(64))
            with _ImportProgress(size) as progress:
                batch: list[Any] = []
                unreadable: list[Any] = []  # reported with their batch, in line order
                rows = 0

                async def flush() -> None:
                    results = []
                    if batch:
                        async with db.unit_of_work() as uow:
                            results = await imports.import_batch(uow.session, batch, update=update)
                            await uow.commit()
                    for result in results:
                        if result.status != "failed":
                            counts[result.status] += 1
                    failed = [r for r in results if r.status == "failed"] + unreadable
                    for error in sorted(failed, key=lambda e: e.line):
                        report(error)
                    batch.clear()
                    unreadable.clear()
                    progress.update(rows, stream.tell() if size else 0)

                for item in imports.read_rows(stream, fmt):
                    rows += 1
                    if isinstance(item, imports.RowError):
                        unreadable.append(item)
                    else:
                        batch.append(item)
                    if len(batch) + len(unreadable) >= batch_size:
                        await flush()
                if batch or unreadable:
                    await flush()
                progress.update(rows, size)
        except imports.ImportFileError as exc:
            raise FrontdeskError(str(exc)) from exc
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
            await db.dispose()

    run(go)
    summary = ", ".join(f"{counts[k]} {k}" for k in ("created", "updated", "unchanged", "failed"))
    emit({**counts, "errors": errors}, as_json, [summary])
    if counts["failed"]:
        raise typer.Exit(1)


MAX_REPORTED_ERRORS = 1000


class _ImportProgress:
    """A progress bar on a terminal (rich); elsewhere a plain line on stderr per batch."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.bar: Any = None
        self.task: Any = None
        self.rows = -1

    def __enter__(self) -> _ImportProgress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            columns = [TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn()]
            self.bar = Progress(*columns, console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("import", total=self.size or None)
        return self

    def update(self, rows: int, position: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=position)
            return
        if rows == self.rows:
            return
        self.rows = rows
        share = f" ({100 * position // self.size}% of the file)" if self.size and position else ""
        typer.echo(f"progress: {rows} rows read{share}", err=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def read_password(given: str | None) -> str:
    """``--password`` if given, else asked twice at a terminal, else stdin's first line."""
    if given is not None:
        return given
    if sys.stdin.isatty():
        entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return entered
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail("password: give --password, type it at a terminal, or pipe it on standard input")
    return line


# ---- spaces --------------------------------------------------------------------------------


async def _space_by_subdomain(db: AsyncSession, subdomain: str) -> SpaceRef:
    from frontdesk.services import spaces

    space = await spaces.get_by_subdomain(db, subdomain)
    if space is None:
        raise FrontdeskError(f"no space with subdomain {subdomain}")
    return space


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
    custom_domain: Annotated[
        str | None, typer.Option(help="A custom domain for the space, served at once (no DNS check).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a space."""
    from frontdesk.services import spaces

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        spaces.validate_subdomain(subdomain)
        spaces.validate_custom_domain(custom_domain, cfg)
        owner = await _user_by_email(db, admin)
        space = await spaces.create_space(
            db,
            cfg,
            subdomain=subdomain,
            name=name,
            owner=owner,
            custom_domain=custom_domain,
            domain_verified=True,  # the operator vouches for it (services/domains.py)
        )
        return space_dict(cfg, space)

    data = with_db(work)
    emit(data, as_json, [f"created space {data['subdomain']} at {data['url']} (id {data['id']})"])


@spaces_app.command("show")
def spaces_show(subdomain: str, as_json: JsonOpt = False) -> None:
    """Show a space and its members."""
    from frontdesk.services import spaces

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        space = await _space_by_subdomain(db, subdomain)
        data = space_dict(cfg, space)
        data["members"] = [
            {"email": m.user.email, "role": m.role, "user_id": m.user.id}
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
    from frontdesk.services import spaces

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        return {"spaces": [space_dict(cfg, s) for s in await spaces.list_spaces(db)]}

    data = with_db(work)
    emit(data, as_json, [f"{s['subdomain']:20} {s['url']}" for s in data["spaces"]])


@spaces_app.command("delete")
def spaces_delete(
    subdomain: str,
    yes: YesOpt = False,
) -> None:
    """Delete a space with its memberships; every token issued for it is revoked."""
    from frontdesk.services import spaces

    confirm(yes, f"Delete the space {subdomain} and its memberships?")

    async def work(cfg: Settings, db: AsyncSession) -> str:
        space = await _space_by_subdomain(db, subdomain)
        await spaces.delete_space(db, space)
        return space.subdomain

    typer.echo(f"deleted space {with_db(work)}")


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
        space = await _space_by_subdomain(db, subdomain)
        m = await spaces.add_member(
            db, space, email=email, role="admin" if admin else "member", admin_name=admin_name
        )
        return {
            "id": m.id,
            "space": space.subdomain,
            "email": m.user.email,
            "user_id": m.user.id,
            "role": m.role,
        }

    data = with_db(work)
    emit(data, as_json, [f"{data['email']} is now {data['role']} of {data['space']}"])


@members_app.command("remove")
def members_remove(subdomain: str, email: str) -> None:
    """Remove a user from a space (the last admin cannot be removed)."""
    from frontdesk.services import spaces

    async def work(cfg: Settings, db: AsyncSession) -> str:
        space = await _space_by_subdomain(db, subdomain)
        user = await _user_by_email(db, email)
        membership = await spaces.membership_of(db, space.id, user.id)
        if membership is None:
            raise FrontdeskError(f"{user.email} is not a member of {space.subdomain}")
        await spaces.remove_member(db, space, membership.id)
        return f"removed {user.email} from {space.subdomain}"

    typer.echo(with_db(work))


# ---- clients -------------------------------------------------------------------------------

ScopeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        metavar="SCOPES",
        help='Scopes, space- or comma-separated, e.g. "read_user navigation" (repeatable).',
    ),
]
RedirectOpt = Annotated[
    list[str] | None,
    typer.Option("--redirect-uri", metavar="URI", help="A redirect URI (repeat the option for several)."),
]

PostLogoutOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--post-logout-redirect-uri",
        metavar="URI",
        help="Where the app may send people after logging them out (OpenID Connect "
        "RP-Initiated Logout, exact match; repeat for several; on update, replaces the list).",
    ),
]
NoPostLogoutOpt = Annotated[
    bool, typer.Option("--no-post-logout-redirect-uri", help="Register no post-logout redirect URI.")
]
BackchannelOpt = Annotated[
    str | None,
    typer.Option(
        "--backchannel-logout-uri",
        metavar="URI",
        help="Where the app receives logout tokens when a browser session that signed in to "
        "it ends (OpenID Connect Back-Channel Logout).",
    ),
]
NoBackchannelOpt = Annotated[
    bool, typer.Option("--no-backchannel-logout-uri", help="No back-channel logout.")
]


PrivateKeyJwtOpt = Annotated[
    bool | None,
    typer.Option(
        "--private-key-jwt/--no-private-key-jwt",
        help="Authenticate with signed assertions (private_key_jwt, RFC 7523) made with the keys of "
        "--jwks or --jwks-uri, instead of a client secret (none is issued). --no-private-key-jwt "
        "goes back to a secret: rotate one with `clients rotate-secret`.",
    ),
]
JwksOpt = Annotated[
    str | None,
    typer.Option(
        "--jwks",
        metavar="FILE|JSON",
        help="The app's public keys: a JWK Set, as a file or inline JSON (RSA ≥2048, EC P-256/P-384, "
        "Ed25519; no private keys).",
    ),
]
JwksUriOpt = Annotated[
    str | None,
    typer.Option(
        "--jwks-uri", metavar="URI", help="Where the app publishes its JWK Set (instead of --jwks)."
    ),
]
ParRequiredOpt = Annotated[
    bool | None,
    typer.Option(
        "--par-required/--no-par-required",
        help="Authorization requests only through pushed authorization requests (RFC 9126): "
        "POST /oauth/par first, then /oauth/authorize with the request_uri.",
    ),
]
Fapi2Opt = Annotated[
    bool | None,
    typer.Option(
        "--fapi2/--no-fapi2",
        help="The FAPI 2.0 Security Profile (docs/flows.md): PAR, PKCE S256, DPoP and private_key_jwt "
        "required, no password grant, codes valid 60 s. Needs --private-key-jwt with keys.",
    ),
]
NoJwksOpt = Annotated[bool, typer.Option("--no-jwks", help="Remove the registered JWK Set.")]
NoJwksUriOpt = Annotated[bool, typer.Option("--no-jwks-uri", help="Remove the JWKS URI.")]


def read_jwks(value: str) -> str:
    """A JWK Set given inline (JSON) or as a file's path."""
    if value.lstrip().startswith("{"):
        return value
    try:
        return Path(value).read_text(encoding="utf-8")
    except OSError as exc:
        raise FrontdeskError(f"cannot read the JWK Set file {value}: {exc.strerror or exc}") from exc


def key_fields(
    private_key_jwt: bool | None, jwks: str | None, no_jwks: bool, jwks_uri: str | None, no_jwks_uri: bool
) -> dict[str, Any]:
    """The key settings the options give (absent when not given)."""
    given: dict[str, Any] = {}
    if private_key_jwt is not None:
        given["token_endpoint_auth_method"] = "private_key_jwt" if private_key_jwt else None
    if no_jwks:
        given["jwks"] = None
    elif jwks is not None:
        given["jwks"] = read_jwks(jwks)
    if no_jwks_uri:
        given["jwks_uri"] = None
    elif jwks_uri is not None:
        given["jwks_uri"] = jwks_uri
    return given


def logout_fields(
    post_logout: list[str] | None, no_post_logout: bool, backchannel: str | None, no_backchannel: bool
) -> dict[str, Any]:
    """The logout settings the options give (absent when neither option of a pair was given)."""
    given: dict[str, Any] = {}
    if no_post_logout:
        given["post_logout_redirect_uris"] = []
    elif post_logout is not None:
        given["post_logout_redirect_uris"] = list(post_logout)
    if no_backchannel:
        given["backchannel_logout_uri"] = None
    elif backchannel is not None:
        given["backchannel_logout_uri"] = backchannel
    return given


def client_dict(app: Any, owner_email: str) -> dict[str, Any]:
    """An app's settings for display; never its secret or tokens."""
    return {
        "client_id": app.client_id,
        "name": app.name,
        "name_in_space": app.name_in_space,
        "owner": owner_email,
        "main_url": app.main_url,
        "redirect_uris": list(app.redirect_uris),
        "scopes": list(app.scopes),
        "password_grant": app.password_grant,
        "public": app.public,
        "allow_redirect_query": app.allow_redirect_query,
        "trusted": app.trusted,
        "require_pkce": app.require_pkce or app.public,
        "access_token_ttl": app.access_token_ttl,
        "can_introspect": app.can_introspect,
        "client_credentials": app.client_credentials,
        "admin_scopes": list(app.admin_scopes),
        "jwt_access_tokens": app.jwt_access_tokens,
        "dpop_required": app.dpop_required,
        "par_required": app.par_required,
        "fapi2": app.fapi,
        "post_logout_redirect_uris": list(app.post_logout_redirect_uris),
        "backchannel_logout_uri": app.backchannel_logout_uri,
        "token_endpoint_auth_method": app.token_endpoint_auth_method
        or ("none" if app.public else "client_secret_basic"),
        "jwks": json.loads(app.jwks) if app.jwks else None,
        "jwks_uri": app.jwks_uri,
        "registered_via": app.registered_via,
        "created_at": app.created_at.isoformat() if app.created_at else None,
    }


def client_lines(data: dict[str, Any]) -> list[str]:
    names = (
        "public",
        "trusted",
        "password_grant",
        "allow_redirect_query",
        "require_pkce",
        "can_introspect",
        "client_credentials",
        "dpop_required",
        "par_required",
        "fapi2",
    )
    flags = [name for name in names if data.get(name)]
    ttl = data["access_token_ttl"]
    if data.get("jwt_access_tokens"):
        flags.append("jwt_access_tokens")
        ttl = ttl or JWT_ACCESS_TOKEN_TTL  # as Client.token_lifetime (oauth/models.py)
    lines = [
        f"{data['client_id']}  {data['name']}  owner={data['owner']}",
        f"  scopes:        {' '.join(data['scopes'])}",
        f"  flags:         {', '.join(flags) or '-'}",
        f"  tokens:        {f'expire after {ttl} s, with refresh tokens' if ttl else 'never expire'}",
    ]
    if data["name_in_space"]:
        lines.append(f"  name in space: {data['name_in_space']}")
    if data.get("admin_scopes"):
        lines.append(f"  admin scopes:  {' '.join(data['admin_scopes'])}")
    if data["main_url"]:
        lines.append(f"  main url:      {data['main_url']}")
    lines += [f"  redirect uri:  {uri}" for uri in data["redirect_uris"]]
    lines += [f"  post-logout:   {uri}" for uri in data.get("post_logout_redirect_uris") or ()]
    if data.get("backchannel_logout_uri"):
        lines.append(f"  back-channel logout: {data['backchannel_logout_uri']}")
    if data.get("token_endpoint_auth_method") == "private_key_jwt":
        lines.append("  authentication: private_key_jwt (RFC 7523)")
    if data.get("jwks"):
        kids = [str(k.get("kid") or "(no kid)") for k in data["jwks"]["keys"]]
        lines.append(f"  keys (jwks):   {', '.join(kids)}")
    if data.get("jwks_uri"):
        lines.append(f"  jwks uri:      {data['jwks_uri']}")
    return lines


async def _client_with_owner(db: AsyncSession, client_id: str) -> tuple[Any, str]:
    from frontdesk.services import accounts, apps

    found = await apps.get_app(db, client_id)
    if found is None:
        raise FrontdeskError(f"no app with client id {client_id}")
    owner = await accounts.get_person(db, found.owner_id)
    return found, owner.email if owner else ""


@clients_app.command("create")
def clients_create(
    name: str,
    owner: Annotated[str, typer.Option(help="Email of the developer who owns the app.")],
    redirect_uri: RedirectOpt = None,
    scope: ScopeOpt = None,
    name_in_space: Annotated[str | None, typer.Option(help="How the app is called inside a space.")] = None,
    main_url: Annotated[str, typer.Option(help="The app's home page (absolute http(s) URL).")] = "",
    public: Annotated[
        bool, typer.Option("--public", help="A public app: no secret, PKCE required, no password grant.")
    ] = False,
    password_grant: Annotated[
        bool | None,
        typer.Option("--password-grant/--no-password-grant", help="Allow the password grant (default: on)."),
    ] = None,
    allow_redirect_query: Annotated[
        bool, typer.Option("--allow-redirect-query", help="Accept extra query parameters on redirect URIs.")
    ] = False,
    trusted: Annotated[bool, typer.Option("--trusted", help="May hold restricted scopes.")] = False,
    require_pkce: Annotated[
        bool, typer.Option("--require-pkce", help="Require PKCE (always on for public apps).")
    ] = False,
    access_token_ttl: Annotated[
        int | None,
        typer.Option(
            "--access-token-ttl",
            metavar="SECONDS",
            help="Access tokens expire after this long (300..31536000) and come with rotating "
            "refresh tokens; default: tokens never expire.",
        ),
    ] = None,
    can_introspect: Annotated[
        bool, typer.Option("--can-introspect", help="A resource server: may introspect any token.")
    ] = False,
    client_credentials: Annotated[
        bool | None,
        typer.Option(
            "--client-credentials/--no-client-credentials",
            help="May use the client_credentials grant (confidential apps; default: off, on with "
            "--admin-scopes).",
        ),
    ] = None,
    admin_scopes: Annotated[
        str | None,
        typer.Option(
            "--admin-scopes",
            metavar="SCOPES",
            help="Administrative scopes the app may hold (admin:<resource>:read|write, scim), "
            "through client_credentials only; implies --client-credentials. An app with these "
            "alone needs no --scope and no --redirect-uri.",
        ),
    ] = None,
    jwt_access_tokens: Annotated[
        bool | None,
        typer.Option(
            "--jwt-access-tokens/--no-jwt-access-tokens",
            help="Access tokens are JWTs (RFC 9068) that resource servers can verify with the JWKS; "
            "they always expire (--access-token-ttl, default an hour). Default: opaque tokens.",
        ),
    ] = None,
    dpop_required: Annotated[
        bool | None,
        typer.Option(
            "--dpop-required/--no-dpop-required",
            help="Token requests need a DPoP proof (RFC 9449): every token is bound to the app's key.",
        ),
    ] = None,
    par_required: ParRequiredOpt = None,
    fapi2: Fapi2Opt = None,
    post_logout_redirect_uri: PostLogoutOpt = None,
    no_post_logout_redirect_uri: NoPostLogoutOpt = False,
    backchannel_logout_uri: BackchannelOpt = None,
    no_backchannel_logout_uri: NoBackchannelOpt = False,
    private_key_jwt: PrivateKeyJwtOpt = None,
    jwks: JwksOpt = None,
    jwks_uri: JwksUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an app; prints its client id, client secret (none with --private-key-jwt) and
    the owner's test access token."""
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services import apps

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        server_secret = ServerSecret(cfg.resolve_secret_key())
        user = await _user_by_email(db, owner)
        created = await apps.register_app(
            db,
            server_secret,
            owner=user,
            name=name,
            redirect_uris=list(redirect_uri or ()),
            scopes=" ".join(scope or ()),
            name_in_space=name_in_space,
            main_url=main_url,
            password_grant=password_grant,
            public=public,
            allow_redirect_query=allow_redirect_query,
            trusted=trusted,
            require_pkce=require_pkce,
            access_token_ttl=access_token_ttl or None,
            can_introspect=can_introspect,
            client_credentials=client_credentials,
            admin_scopes=admin_scopes,
            jwt_access_tokens=bool(jwt_access_tokens),
            dpop_required=bool(dpop_required),
            par_required=bool(par_required),
            fapi2=bool(fapi2),
            registered_via="cli",
            post_logout_redirect_uris=(
                [] if no_post_logout_redirect_uri else list(post_logout_redirect_uri or ())
            ),
            backchannel_logout_uri=None if no_backchannel_logout_uri else backchannel_logout_uri,
            **key_fields(private_key_jwt, jwks, False, jwks_uri, False),
        )
        data = client_dict(created.app, user.email)
        data["client_secret"] = created.client_secret
        data["test_access_token"] = created.test_access_token
        return data

    data = with_db(work)
    emit(
        data,
        as_json,
        [
            f"created app {data['name']}",
            f"client_id:         {data['client_id']}",
            f"client_secret:     {data['client_secret'] or _no_secret(data)}",
            f"test_access_token: {data['test_access_token'] or '(none: administrative scopes only)'}",
        ],
    )


def _no_secret(data: dict[str, Any]) -> str:
    if data.get("token_endpoint_auth_method") == "private_key_jwt":
        return "(none: private_key_jwt)"
    return "(none: public app)"


@clients_app.command("show")
def clients_show(client_id: str, as_json: JsonOpt = False) -> None:
    """Show an app's settings (not its secret)."""

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        return client_dict(*await _client_with_owner(db, client_id))

    data = with_db(work)
    emit(data, as_json, client_lines(data))


@clients_app.command("update")
def clients_update(
    client_id: str,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    name_in_space: Annotated[
        str | None, typer.Option(help="How the app is called inside a space (empty to clear).")
    ] = None,
    main_url: Annotated[str | None, typer.Option(help="The app's home page (empty to clear).")] = None,
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            "--redirect-uri", metavar="URI", help="Replaces the list of redirect URIs (repeat for several)."
        ),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", metavar="SCOPES", help="Replaces the scopes; tokens already issued keep theirs."
        ),
    ] = None,
    password_grant: Annotated[
        bool | None, typer.Option("--password-grant/--no-password-grant", help="Allow the password grant.")
    ] = None,
    allow_redirect_query: Annotated[
        bool | None,
        typer.Option(
            "--allow-redirect-query/--no-allow-redirect-query", help="Query-tolerant redirect URIs."
        ),
    ] = None,
    trusted: Annotated[
        bool | None, typer.Option("--trusted/--no-trusted", help="May hold restricted scopes.")
    ] = None,
    require_pkce: Annotated[
        bool | None,
        typer.Option("--require-pkce/--no-require-pkce", help="Require PKCE (always on for public apps)."),
    ] = None,
    access_token_ttl: Annotated[
        int | None,
        typer.Option(
            "--access-token-ttl",
            metavar="SECONDS",
            help="Access tokens issued from now on expire after this long, with refresh tokens; "
            "0: they never expire.",
        ),
    ] = None,
    can_introspect: Annotated[
        bool | None,
        typer.Option("--can-introspect/--no-can-introspect", help="May introspect any token."),
    ] = None,
    client_credentials: Annotated[
        bool | None,
        typer.Option(
            "--client-credentials/--no-client-credentials",
            help="May use the client_credentials grant; off also drops the admin scopes and "
            "revokes the app's client_credentials tokens.",
        ),
    ] = None,
    admin_scopes: Annotated[
        str | None,
        typer.Option(
            "--admin-scopes",
            metavar="SCOPES",
            help='Replaces the administrative scopes ("" for none); implies --client-credentials. '
            "Tokens holding a scope taken away are revoked.",
        ),
    ] = None,
    jwt_access_tokens: Annotated[
        bool | None,
        typer.Option(
            "--jwt-access-tokens/--no-jwt-access-tokens",
            help="Issue JWT access tokens (RFC 9068) from now on, or opaque ones; tokens already "
            "issued keep working.",
        ),
    ] = None,
    dpop_required: Annotated[
        bool | None,
        typer.Option(
            "--dpop-required/--no-dpop-required",
            help="Token requests need a DPoP proof (RFC 9449) from now on; tokens already issued "
            "keep their binding (or none).",
        ),
    ] = None,
    par_required: ParRequiredOpt = None,
    fapi2: Fapi2Opt = None,
    post_logout_redirect_uri: PostLogoutOpt = None,
    no_post_logout_redirect_uri: NoPostLogoutOpt = False,
    backchannel_logout_uri: BackchannelOpt = None,
    no_backchannel_logout_uri: NoBackchannelOpt = False,
    private_key_jwt: PrivateKeyJwtOpt = None,
    jwks: JwksOpt = None,
    no_jwks: NoJwksOpt = False,
    jwks_uri: JwksUriOpt = None,
    no_jwks_uri: NoJwksUriOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Change an app's settings; only the options given change."""
    from frontdesk.services import apps

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        found, owner_email = await _client_with_owner(db, client_id)
        changes: dict[str, Any] = {
            "name": name,
            "name_in_space": name_in_space,
            "main_url": main_url,
            "redirect_uris": redirect_uri,
            "scopes": " ".join(scope) if scope is not None else None,
            "password_grant": password_grant,
            "allow_redirect_query": allow_redirect_query,
            "trusted": trusted,
            "require_pkce": require_pkce,
            "can_introspect": can_introspect,
            "client_credentials": client_credentials,
            "admin_scopes": admin_scopes,
            "jwt_access_tokens": jwt_access_tokens,
            "dpop_required": dpop_required,
            "par_required": par_required,
            "fapi2": fapi2,
        }
        given = {k: v for k, v in changes.items() if v is not None}
        if access_token_ttl is not None:
            given["access_token_ttl"] = access_token_ttl or None  # 0: never expire
        given |= logout_fields(
            post_logout_redirect_uri,
            no_post_logout_redirect_uri,
            backchannel_logout_uri,
            no_backchannel_logout_uri,
        )
        given |= key_fields(private_key_jwt, jwks, no_jwks, jwks_uri, no_jwks_uri)
        return client_dict(await apps.update_app(db, found.client_id, **given), owner_email)

    data = with_db(work)
    emit(data, as_json, ["updated app", *client_lines(data)])


@clients_app.command("list")
def clients_list(as_json: JsonOpt = False) -> None:
    """List all registered apps."""
    from frontdesk.services import apps

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        return {"clients": [client_dict(found, email) for found, email in await apps.all_apps(db)]}

    data = with_db(work)
    emit(
        data,
        as_json,
        [f"{c['client_id']:32}  {c['name']}  ({c['owner']})" for c in data["clients"]] or ["no apps"],
    )


@clients_app.command("delete")
def clients_delete(
    client_id: str,
    yes: YesOpt = False,
) -> None:
    """Delete an app; every token, code and consent it holds is revoked first."""
    from frontdesk.services import apps

    confirm(yes, f"Delete the app {client_id} and revoke its tokens?")

    async def work(cfg: Settings, db: AsyncSession) -> str:
        found, _ = await _client_with_owner(db, client_id)
        await apps.delete_app(db, found.client_id)
        return f"deleted app {found.name} ({found.client_id})"

    typer.echo(with_db(work))


@clients_app.command("rotate-secret")
def clients_rotate_secret(
    client_id: str,
    overlap: Annotated[
        int,
        typer.Option(
            "--overlap",
            metavar="SECONDS",
            help="The previous secret keeps working this long (0 to 604800; default 0: it stops at once).",
        ),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Give an app a new client secret, printed once here (its owner can see it on the app page)."""
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services import apps

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        found, _ = await _client_with_owner(db, client_id)
        rotated = await apps.rotate_secret(
            db, ServerSecret(cfg.resolve_secret_key()), found.client_id, overlap_seconds=overlap
        )
        until = rotated.previous_expires_at
        return {
            "client_id": found.client_id,
            "client_secret": rotated.client_secret,
            "previous_secret_valid_until": until.isoformat() if until else None,
        }

    data = with_db(work)
    until = data["previous_secret_valid_until"]
    emit(
        data,
        as_json,
        [
            f"client_secret: {data['client_secret']}",
            f"the previous secret works until {until}" if until else "the previous secret no longer works",
        ],
    )


# ---- tokens --------------------------------------------------------------------------------

tokens_app = group(help="Access and refresh tokens.")
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[
        str | None,
        typer.Argument(
            help="A token value (access or refresh), or - to read it from stdin (out of the process "
            "list). Or select with the options."
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Everything this user (email) gave apps.")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--app", help="Everything this app (client id) holds.")
    ] = None,
    subdomain: Annotated[
        str | None, typer.Option("--space", help="Every token issued for this space (subdomain).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a token (with its refresh family), or every token a user, an app or a space holds
    (--user with --app: that user's grant to that app; --space with --app: that app's tokens in
    the space)."""
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services import grants

    if token is not None and (user or client_id or subdomain):
        fail("give a token or --user/--app/--space, not both")
    if token is None and not (user or client_id or subdomain):
        fail("give a token, or --user, --app or --space (see `frontdesk tokens revoke --help`)")
    if token == "-":
        token = sys.stdin.readline().strip()

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        if token is not None:
            revoked = await grants.revoke_token_value(db, ServerSecret(cfg.resolve_secret_key()), token)
            if revoked is None:
                raise FrontdeskError("no such token")
        else:
            user_id = (await _user_by_email(db, user)).id if user else None
            app_id = (await _client_with_owner(db, client_id))[0].client_id if client_id else None
            space_id = (await _space_by_subdomain(db, subdomain)).id if subdomain else None
            revoked = await grants.revoke_tokens(db, user_id=user_id, client_id=app_id, space_id=space_id)
        return {
            "access_tokens": len(revoked.access_token_ids),
            "refresh_tokens": revoked.refresh_tokens,
            "codes": revoked.codes,
            "consents": revoked.consents,
        }

    data = with_db(work)
    emit(
        data,
        as_json,
        [
            f"revoked {data['access_tokens']} access tokens, {data['refresh_tokens']} refresh tokens, "
            f"{data['codes']} codes, {data['consents']} consents"
        ],
    )


# ---- keys ----------------------------------------------------------------------------------

keys_app = group(help="Signing keys for ID tokens (OpenID Connect).")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Create a new signing key and retire the current one (it stays published for a while)."""
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services import signing_keys as keys

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        rotation = await keys.rotate(db, ServerSecret(cfg.resolve_secret_key()))
        return {"kid": rotation.kid, "retired": list(rotation.retired)}

    data = with_db(work)
    retired = ", ".join(data["retired"]) or "none"
    emit(data, as_json, [f"new signing key {data['kid']}", f"retired: {retired}"])


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """List every signing key: when made, when retired, whether /jwks.json still publishes it."""
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services import signing_keys as keys

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        found = await keys.list_keys(db, ServerSecret(cfg.resolve_secret_key()), keys.retention_for(cfg))
        return {"keys": [k.as_dict() for k in found]}

    data = with_db(work)
    lines = [
        f"{k['kid']}  created {k['created_at']}  retired {k['retired_at'] or '-'}  "
        f"{'published' if k['published'] else 'unpublished'}{'  signing' if k['signing'] else ''}"
        for k in data["keys"]
    ]
    emit(data, as_json, lines or ["no signing keys yet (one is made on first use)"])


# ---- scopes --------------------------------------------------------------------------------

scopes_app = group(help="The scope catalogue (FRONTDESK_SCOPES_FILE, docs/reference.md).")
app.add_typer(scopes_app, name="scopes")


@scopes_app.command("list")
def scopes_list(as_json: JsonOpt = False) -> None:
    """Every scope apps may ask for: name, hosts, restricted, includes, description."""
    settings(follow_server=False)  # installs the operator's catalogue
    cat = catalogue()
    rows = [
        {
            "name": info.name,
            "description": info.description,
            "hosts": info.hosts,
            "restricted": info.restricted,
            "admin": info.admin,
            "builtin": info.builtin,
            "includes": list(info.includes),
        }
        for info in cat.scopes.values()
    ]
    if as_json:
        typer.echo(json.dumps({"source": cat.source, "scopes": rows}, indent=2))
        return
    width = max(len(name) for name in cat.scopes)
    typer.echo(f"# {len(rows)} scopes from {cat.source}")
    for info in cat.scopes.values():
        flags = ",".join(f for f, on in (("restricted", info.restricted), ("admin", info.admin)) if on)
        line = f"{info.name:<{width}}  {info.hosts:<5}  {flags or '-':<16}  {info.description}"
        if info.includes:
            line += f"  [includes {' '.join(info.includes)}]"
        typer.echo(line)


# ---- audit ---------------------------------------------------------------------------------

audit_app = group(
    no_args_is_help=False,
    help="The audit log: logins, consents, tokens, replays, secrets.",
    subcommand_metavar="",
)
app.add_typer(audit_app, name="audit")


@audit_app.callback(invoke_without_command=True)
def audit(
    user: Annotated[str | None, typer.Option("--user", help="Only events of this user (email).")] = None,
    event: Annotated[
        str | None,
        typer.Option("--event", help="Only this event, e.g. token.issued (or all token.*: token)."),
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--app", help="Only events of this app (client id).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only newer events: ISO 8601, or 30m, 1h, 7d, 2w ago.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many events.", min=1)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Show security events, newest first (no secrets are ever recorded)."""
    from frontdesk.services import audit as audit_service

    try:
        after = audit_service.parse_since(since) if since else None
    except ValueError as exc:
        fail(f"since: {exc}")

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        if user is not None:
            await _user_by_email(db, user)
        found = await audit_service.search(
            db, user_email=user, event=event, app_id=client_id, since=after, limit=limit
        )
        return {"events": [e.as_dict() for e in found]}

    data = with_db(work)
    lines = [
        f"{e['created_at']}  {e['event']:26} user={e['user_email'] or '-'}  app={e['app_id'] or '-'}  "
        f"space={e['space_subdomain'] or '-'}  ip={e['ip'] or '-'}"
        + (f"  {json.dumps(e['detail'], sort_keys=True)}" if e["detail"] else "")
        for e in data["events"]
    ]
    emit(data, as_json, lines or ["no events"])


# ---- webhooks ------------------------------------------------------------------------------

webhooks_app = group(help="Webhook endpoints (Standard Webhooks) and their deliveries.")
app.add_typer(webhooks_app, name="webhooks")


def endpoint_dict(endpoint: Any) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.event_types),
        "space_id": endpoint.space_id,
        "app_id": endpoint.app_id,
        "description": endpoint.description,
        "active": endpoint.active,
        "disabled_at": endpoint.disabled_at.isoformat() if endpoint.disabled_at else None,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since.isoformat() if endpoint.failing_since else None,
    }


def delivery_dict(delivery: Any) -> dict[str, Any]:
    when = {
        key: (value.isoformat() if value else None)
        for key, value in (
            ("created_at", delivery.created_at),
            ("last_attempt_at", delivery.last_attempt_at),
            ("next_attempt_at", delivery.next_attempt_at),
            ("delivered_at", delivery.delivered_at),
        )
    }
    return {
        "delivery": delivery.seq,
        "message_id": delivery.message_id,
        "endpoint_id": delivery.endpoint_id,
        "event": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "last_error": delivery.last_error,
        **when,
    }


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST events (https).")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="An event type to send, e.g. user.created (repeatable; default: all)."),
    ] = None,
    description: Annotated[str, typer.Option(help="A note for operators.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Add an operator endpoint for events of every space; prints its signing secret once."""
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services import webhooks

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        endpoint, secret = await webhooks.create_endpoint(
            db,
            ServerSecret(cfg.resolve_secret_key()),
            cfg,
            url=url,
            event_types=event or ["*"],
            description=description,
        )
        return {**endpoint_dict(endpoint), "secret": secret}

    data = with_db(work)
    emit(
        data,
        as_json,
        [
            f"endpoint {data['id']}: {data['url']} ({', '.join(data['events'])})",
            f"signing secret (verify deliveries with it; shown once): {data['secret']}",
        ],
    )


@webhooks_app.command("list")
def webhooks_list(as_json: JsonOpt = False) -> None:
    """Every endpoint: the operator's and the spaces' subscriptions."""
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services import webhooks

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        found = await webhooks.list_endpoints(db, ServerSecret(cfg.resolve_secret_key()))
        return {"endpoints": [endpoint_dict(e) for e in found]}

    data = with_db(work)
    lines = [
        f"{e['id']}  {'active  ' if e['active'] else 'DISABLED'}  {e['url']}  events={','.join(e['events'])}"
        f"  space={e['space_id'] or '-'}  app={e['app_id'] or '-'}"
        + (f"  ({e['disabled_reason']})" if e["disabled_reason"] else "")
        for e in data["endpoints"]
    ]
    emit(data, as_json, lines or ["no endpoints"])


@webhooks_app.command("remove")
def webhooks_remove(endpoint_id: str, as_json: JsonOpt = False) -> None:
    """Delete an endpoint and its delivery log."""
    from frontdesk.services import webhooks

    async def work(_cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        await webhooks.remove_endpoint(db, endpoint_id)
        return {"removed": endpoint_id}

    emit(with_db(work), as_json, [f"removed {endpoint_id}"])


def _set_endpoint_active(endpoint_id: str, active: bool, as_json: bool) -> None:
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services import webhooks

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        secret = ServerSecret(cfg.resolve_secret_key())
        return endpoint_dict(await webhooks.set_active(db, secret, endpoint_id, active))

    emit(with_db(work), as_json, [f"{'enabled' if active else 'disabled'} {endpoint_id}"])


@webhooks_app.command("enable")
def webhooks_enable(endpoint_id: str, as_json: JsonOpt = False) -> None:
    """Send to a disabled endpoint again (its waiting messages go first, in order)."""
    _set_endpoint_active(endpoint_id, True, as_json)


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: str, as_json: JsonOpt = False) -> None:
    """Stop sending to an endpoint (messages keep waiting for it)."""
    _set_endpoint_active(endpoint_id, False, as_json)


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    endpoint_id: Annotated[str | None, typer.Option("--endpoint", help="Only this endpoint.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1, max=500)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The delivery log, newest first: status, attempts, last error, response status."""
    from frontdesk.services import webhooks

    async def work(_cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        found = await webhooks.deliveries(db, endpoint_id=endpoint_id, limit=limit)
        return {"deliveries": [delivery_dict(d) for d in found]}

    data = with_db(work)
    lines = [
        f"{d['delivery']}  {d['created_at']}  {d['event']:28} {d['status']:9} attempts={d['attempts']}"
        f"  endpoint={d['endpoint_id']}"
        + (f"  http={d['response_status']}" if d["response_status"] else "")
        + (f"  error={d['last_error']}" if d["last_error"] else "")
        for d in data["deliveries"]
    ]
    emit(data, as_json, lines or ["no deliveries"])


@webhooks_app.command("resend")
def webhooks_resend(
    delivery: Annotated[
        int, typer.Argument(help="The delivery number (webhooks deliveries).", min=1, max=2**62)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Send a delivered or failed message again (same webhook-id), after the endpoint's queue."""
    from frontdesk.services import webhooks

    async def work(_cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        return delivery_dict(await webhooks.resend(db, delivery))

    data = with_db(work)
    emit(data, as_json, [f"queued again as delivery {data['delivery']} ({data['message_id']})"])


# ---- seed ----------------------------------------------------------------------------------


@app.command()
def seed(
    file: Annotated[Path, typer.Argument(help="A YAML or JSON sandbox file, e.g. examples/sandbox.yaml.")],
    as_json: JsonOpt = False,
) -> None:
    """Load users, spaces, memberships and apps (idempotent; secrets are never printed)."""
    from frontdesk.security.server_secret import ServerSecret
    from frontdesk.services.seed import load_document
    from frontdesk.services.seed import seed as do_seed

    async def work(cfg: Settings, db: AsyncSession) -> dict[str, Any]:
        document = load_document(file)
        server_secret = ServerSecret(cfg.resolve_secret_key())
        return (await do_seed(db, passwords_for(cfg), cfg, document, server_secret=server_secret)).as_dict()

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
