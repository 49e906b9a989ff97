"""What a new operator met: an unreachable database, a missing SQLite file, usage errors, the
password without a terminal, the help text, file modes, and `make run` on a busy port."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from frontdesk.cli import app
from frontdesk.settings import Settings
from frontdesk.store.db import create_engine
from tests.e2e.conftest import FRONTDESK, free_port, start, wait_ready
from tests.support import TEST_SECRET, stop_process

REPO = Path(__file__).parents[1]

EVERY_KIND = [
    ["spaces", "list"],
    ["spaces", "show", "co-up"],
    ["users", "show", "a@example.com"],
    ["users", "create", "a@example.com", "--password", "long-enough"],
    ["clients", "list"],
    ["keys", "list"],
    ["audit"],
    ["serve", "--port", "1"],
]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("FRONTDESK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FRONTDESK_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("FRONTDESK_ARGON2_MEMORY_KIB", "64")
    runner = CliRunner()

    def invoke(url: str, *args: str, input: str | None = None, **env: str) -> Any:
        return runner.invoke(app, list(args), input=input, env={"FRONTDESK_DATABASE_URL": url, **env})

    return invoke


def one_line(result: Any, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    return str(result.stderr)


@pytest.mark.parametrize("args", [*EVERY_KIND, ["db", "upgrade"]])
def test_unreachable_postgresql_is_one_line(run: Any, args: list[str]) -> None:
    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{free_port()}/nowhere"
    message = one_line(run(url, *args, FRONTDESK_SECRET_KEY=TEST_SECRET))
    assert "cannot reach the database postgresql+asyncpg://postgres:***@127.0.0.1:" in message
    assert "hunter2" not in message


def test_unknown_postgresql_role_is_one_line(run: Any) -> None:
    url = f"postgresql://no_such_role_b@127.0.0.1:{free_port()}/x"
    # A closed port and a refused login both end in one line; the login needs a server.
    pg = os.environ.get("FRONTDESK_TEST_DATABASE_URL")
    if pg:
        url = pg.replace("postgres@", "no_such_role_b@", 1)
    assert one_line(run(url, "spaces", "list", FRONTDESK_SECRET_KEY=TEST_SECRET)).startswith("error: cannot ")


@pytest.mark.parametrize("args", EVERY_KIND)
def test_a_missing_sqlite_file_is_one_line_and_stays_missing(
    run: Any, tmp_path: Path, args: list[str]
) -> None:
    message = one_line(run(f"sqlite:///{tmp_path}/missing/dir/frontdesk.db", *args))
    assert message.startswith(f"error: There is no database at {tmp_path}/missing/dir/frontdesk.db.")
    assert "frontdesk db upgrade" in message
    assert list(tmp_path.iterdir()) == []  # no directory, database, -wal, -shm or secret file


def test_a_sqlite_path_that_cannot_be_a_file_is_one_line(run: Any, tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("")
    message = one_line(run(f"sqlite:///{tmp_path}/plain-file/frontdesk.db", "db", "upgrade"))
    assert str(tmp_path / "plain-file") in message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create"], "error: Missing argument 'EMAIL'"),
        (["users", "create", "a@example.com", "--bogus"], "error: No such option: --bogus"),
        (["users", "creat"], "error: No such command 'creat'"),
        (["audit", "--limit", "many"], "error: Invalid value for '--limit'"),
    ],
)
def test_usage_errors_are_one_line(run: Any, tmp_path: Path, args: list[str], message: str) -> None:
    stderr = one_line(run(f"sqlite:///{tmp_path}/x.db", *args), code=2)
    assert stderr.lower().startswith(message.lower()), stderr
    assert "--help" in stderr and "╭" not in stderr


def migrated(run: Any, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/frontdesk.db"
    assert run(url, "db", "upgrade").exit_code == 0
    return url


def test_users_create_reads_the_password_from_a_pipe(run: Any, tmp_path: Path) -> None:
    url = migrated(run, tmp_path)
    result = run(url, "users", "create", "piped@example.com", input="piped-password\n")
    assert result.exit_code == 0, result.output
    assert "created user piped@example.com" in result.stdout
    assert "Password" not in result.output  # no prompt when nobody is there to answer it


def test_users_create_without_password_or_terminal_is_one_line(run: Any, tmp_path: Path) -> None:
    url = migrated(run, tmp_path)
    message = one_line(run(url, "users", "create", "nopass@example.com", input=""))
    assert (
        message == "error: password: give --password, type it at a terminal, or pipe it on standard input\n"
    )


def test_help_shows_no_bool_placeholder_and_keeps_long_options_whole(run: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["clients", "update", "--help"], terminal_width=80)
    assert result.exit_code == 0
    for option in (
        "--allow-redirect-query / --no-allow-redirect-query",
        "--can-introspect / --no-can-introspect",
    ):
        assert option in result.stdout
    assert "<bool>" not in result.stdout and "…" not in result.stdout and "│" not in result.stdout


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_database_and_its_wal_and_shm_are_private(run: Any, tmp_path: Path, umask_022: None) -> None:
    migrated(run, tmp_path)
    db = tmp_path / "frontdesk.db"
    assert mode(db) == 0o600
    assert mode(tmp_path / "frontdesk.db.secret") == 0o600

    async def write_and_look() -> tuple[int, int]:
        engine = create_engine(Settings(database_url=f"sqlite:///{db}", _env_file=None))  # type: ignore[call-arg]
        try:
            async with engine.connect() as conn:
                await conn.execute(text("CREATE TABLE t (x INTEGER)"))
                await conn.commit()
                # While a connection is open, the -wal and -shm files exist.
                return mode(tmp_path / "frontdesk.db-wal"), mode(tmp_path / "frontdesk.db-shm")
        finally:
            await engine.dispose()

    assert asyncio.run(write_and_look()) == (0o600, 0o600)


def fake_venv(tmp_path: Path) -> Path:
    """A venv for the Makefile whose `frontdesk` only says what it was asked and with which
    public URL, so `make run` can be watched without installing anything."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for tool in ("python", "frontdesk"):
        script = venv / "bin" / tool
        script.write_text('#!/bin/sh\necho "$(basename "$0") $* url=$FRONTDESK_PUBLIC_URL"\n')
        script.chmod(0o755)
    (venv / ".installed").touch()
    newer = (REPO / "pyproject.toml").stat().st_mtime + 1
    os.utime(venv / ".installed", (newer, newer))
    return venv


def make_run(venv: Path, port: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    return subprocess.run(
        ["make", "--no-print-directory", "run", f"PORT={port}", f"VENV={venv}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_run_on_a_busy_port_says_so_before_installing(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = make_run(venv, port)
    assert result.returncode == 2
    assert f"error: port {port} is in use; try make run PORT={port + 1}" in result.stderr
    assert not venv.exists()  # nothing installed, nothing migrated


def test_make_run_with_a_port_tells_the_other_terminals(tmp_path: Path) -> None:
    port = free_port()
    result = make_run(fake_venv(tmp_path), port)
    assert result.returncode == 0, result.stderr
    url = f"http://localhost:{port}"
    assert f"export FRONTDESK_PUBLIC_URL={url}" in result.stdout
    assert f"frontdesk db upgrade url={url}" in result.stdout
    assert f"frontdesk serve --host 127.0.0.1 --port {port} url={url}" in result.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str]]:
    """`frontdesk serve` on a free port and a SQLite file with the sandbox loaded, as `make run
    PORT=…` starts it; and the environment of another terminal on the same database, without
    FRONTDESK_PUBLIC_URL."""
    tmp_path = tmp_path_factory.mktemp("served")
    port = free_port()
    url = f"http://localhost:{port}"
    other = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    other.update(
        FRONTDESK_DATABASE_URL=f"sqlite:///{tmp_path}/frontdesk.db",
        FRONTDESK_SECRET_KEY=TEST_SECRET,
        FRONTDESK_ARGON2_TIME_COST="1",
        FRONTDESK_ARGON2_MEMORY_KIB="64",
    )
    server = {**other, "FRONTDESK_PUBLIC_URL": url}
    subprocess.run([FRONTDESK, "db", "upgrade"], env=server, cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(
        [FRONTDESK, "seed", str(REPO / "examples" / "sandbox.yaml")],
        env=server,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    proc = start(tmp_path, port, server)
    try:
        wait_ready(port, proc)
        yield other, url
    finally:
        stop_process(proc)


def frontdesk(env: dict[str, str], cwd: Path, *args: str) -> str:
    return subprocess.run(
        [FRONTDESK, *args], env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def test_the_command_prints_links_of_the_server_on_its_database(
    served: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, url = served
    port = url.rsplit(":", 1)[1]
    elsewhere = tmp_path / "elsewhere"  # another terminal, in another directory
    elsewhere.mkdir()
    assert f"co-up  Co-Up  http://co-up.localhost:{port}  id=" in frontdesk(
        env, elsewhere, "spaces", "show", "co-up"
    )
    created = frontdesk(
        env, elsewhere, "spaces", "create", "new-desk", "--name", "New Desk", "--admin", "alice@example.com"
    )
    assert f" at http://new-desk.localhost:{port} " in created
    listed = json.loads(frontdesk(env, elsewhere, "spaces", "list", "--json"))
    assert {s["url"] for s in listed["spaces"]} == {
        f"http://co-up.localhost:{port}",
        f"http://new-desk.localhost:{port}",
        f"http://members.harbour.test:{port}",
    }
    assert frontdesk(env, elsewhere, "url") == f"{url}\n"
    # An explicit FRONTDESK_PUBLIC_URL still wins.
    explicit = {**env, "FRONTDESK_PUBLIC_URL": "https://id.example.com"}
    assert frontdesk(explicit, elsewhere, "url") == "https://id.example.com\n"
    assert "https://co-up.id.example.com" in frontdesk(explicit, elsewhere, "spaces", "list")


def test_register_script_prints_the_port_frontdesk_runs_on(served: tuple[dict[str, str], str]) -> None:
    env, url = served
    result = subprocess.run(
        ["sh", "examples/space_app/register.sh"],
        cwd=REPO,
        env={**env, "FRONTDESK": FRONTDESK, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"export FRONTDESK_URL={url}\n" in result.stdout
    assert "export SPACE_APP_CLIENT_ID=" in result.stdout


def test_serve_without_a_public_url_serves_and_notes_its_port(tmp_path: Path, umask_022: None) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(FRONTDESK_DATABASE_URL=f"sqlite:///{tmp_path}/frontdesk.db", FRONTDESK_SECRET_KEY=TEST_SECRET)
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    note = tmp_path / "frontdesk.db.url"
    note.write_text("http://localhost:1\n")  # left by an earlier server on another port
    proc = start(tmp_path, port, env)
    try:
        wait_ready(port, proc)
        issuer = httpx.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration").json()["issuer"]
    finally:
        stop_process(proc)
    assert issuer == f"http://localhost:{port}"
    assert frontdesk(env, tmp_path, "url") == f"http://localhost:{port}\n"
    assert mode(note) == 0o600


def test_a_note_follows_only_without_a_public_url_and_only_when_valid(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [n for n in os.environ if n.startswith("FRONTDESK_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", f"sqlite:///{tmp_path}/frontdesk.db")
    monkeypatch.setenv("FRONTDESK_TRUSTED_PROXIES", "10.0.0.1, 10.0.1.0/24")
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", TEST_SECRET)
    note = tmp_path / "frontdesk.db.url"
    note.write_text("http://localhost:8123\n")
    followed = Settings().following_the_server()
    assert followed.public_url == "http://localhost:8123"
    assert followed.model_dump(exclude={"public_url"}) == Settings().model_dump(exclude={"public_url"})
    note.write_text("not a url\n")
    assert Settings().following_the_server().public_url == "http://localhost:8000"
    note.write_text("http://localhost:8123\n")
    (tmp_path / ".env").write_text("FRONTDESK_PUBLIC_URL=https://id.example.com\n")
    assert Settings().following_the_server().public_url == "https://id.example.com"
