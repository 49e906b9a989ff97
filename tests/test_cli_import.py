"""`frontdesk users import FILE`: CSV or JSON lines, streamed in batches, per-row errors with
line numbers, idempotent (docs/integrating.md "Importing users")."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

from passlib.hash import bcrypt, django_pbkdf2_sha256

from frontdesk.security.passwords import NO_PASSWORD
from frontdesk.services import accounts
from frontdesk.store.db import Database
from frontdesk.store.models import User
from tests.conftest import run_async
from tests.support import make_settings
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture

PASSWORD = "imported password 1"
DEVISE = bcrypt.using(rounds=4, ident="2a").hash(PASSWORD)
DJANGO = django_pbkdf2_sha256.using(rounds=1000).hash(PASSWORD)


def stored_users(database_url: str) -> dict[str, tuple[str, str, str]]:
    """email -> (id, name, stored hash), straight from the database."""

    async def go() -> dict[str, tuple[str, str, str]]:
        db = Database(make_settings(database_url))
        try:
            async with db.session() as session:
                rows = (await session.execute(User.__table__.select())).all()
                return {r.email: (r.id, r.name, r.password_hash) for r in rows}
        finally:
            await db.dispose()

    return dict(run_async(go))


def logs_in(database_url: str, email: str, password: str) -> bool:
    from frontdesk.security.passwords import Passwords

    async def go() -> bool:
        db = Database(make_settings(database_url))
        passwords = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=1)
        try:
            async with db.unit_of_work() as uow:
                found = await accounts.check_credentials(
                    uow.session, passwords, email=email, password=password
                )
                await uow.commit()
                return found is not None
        finally:
            await db.dispose()

    return bool(run_async(go))


CSV = (
    "email,name,password_hash\n"  # line 1
    f"ann@example.com,Ann,{DEVISE}\n"  # 2
    "not-an-email,Bad,\n"  # 3
    f"bob@example.com,Bob,{DJANGO}\n"  # 4
    "cat@example.com,Cat,md5$salt$5f4dcc3b5aa765d61d8327deb882cf99\n"  # 5
    "dan@example.com,Dan\n"  # 6: too few values
    'eve@example.com,"Eve, the second",\n'  # 7: no hash: an account without a password
)


def test_csv_import_reports_rows_and_is_idempotent(cli: Any, tmp_path: Path, database_url: str) -> None:  # noqa: F811
    path = tmp_path / "users.csv"
    path.write_text(CSV)
    first = cli("users", "import", str(path), "--json")
    assert first.exit_code == 1
    report = json.loads(first.stdout)
    assert (report["created"], report["updated"], report["unchanged"], report["failed"]) == (3, 0, 0, 3)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "email"),
        (5, "password_hash"),
        (6, "line"),
    ]
    assert "line 3: email: That is not a valid email address" in first.stderr
    assert "line 5: password_hash: unsupported hash format" in first.stderr
    assert "line 6: line: 2 values for 3 columns" in first.stderr

    before = stored_users(database_url)
    assert before["ann@example.com"][1:] == ("Ann", DEVISE)
    assert before["bob@example.com"][2] == DJANGO
    assert before["eve@example.com"][1:] == ("Eve, the second", NO_PASSWORD)
    assert set(before) == {"ann@example.com", "bob@example.com", "eve@example.com"}

    created_events = ok_json(cli("audit", "--event", "user.created", "--json"))["events"]
    assert sorted(e["user_email"] for e in created_events) == [
        "ann@example.com",
        "bob@example.com",
        "eve@example.com",
    ]

    second = cli("users", "import", str(path), "--json")
    assert second.exit_code == 1  # the same rows fail again
    again = json.loads(second.stdout)
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, 3, 3)
    assert stored_users(database_url) == before
    assert len(ok_json(cli("audit", "--event", "user.created", "--json"))["events"]) == 3

    assert logs_in(database_url, "ann@example.com", PASSWORD)
    assert logs_in(database_url, "bob@example.com", PASSWORD)
    assert not logs_in(database_url, "bob@example.com", "wrong password")
    assert not logs_in(database_url, "eve@example.com", NO_PASSWORD)
    # Logging in re-hashed Ann's: a third import still leaves her account alone.
    assert stored_users(database_url)["ann@example.com"][2].startswith("$argon2id$")
    third = cli("users", "import", str(path), "--json")
    assert third.exit_code == 1 and json.loads(third.stdout)["unchanged"] == 3
    assert stored_users(database_url)["ann@example.com"][2].startswith("$argon2id$")


def test_jsonl_and_update(cli: Any, tmp_path: Path, database_url: str) -> None:  # noqa: F811
    path = tmp_path / "users.jsonl"
    lines = [
        json.dumps({"email": "ann@example.com", "name": "Ann", "password_hash": DEVISE}),
        "",
        "{not json",
        json.dumps({"email": "bob@example.com", "role": "admin"}),
        json.dumps(["a list"]),
        json.dumps({"email": 7}),
    ]
    path.write_text("\n".join(lines) + "\n")
    result = cli("users", "import", str(path))
    assert result.exit_code == 1
    assert result.stdout.strip().splitlines()[-1] == "1 created, 0 updated, 0 unchanged, 4 failed"
    errors = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert errors == [
        "line 3: line: the line is not valid JSON",
        "line 4: role: unknown field (known: email, name, password_hash)",
        "line 5: line: each line must be a JSON object",
        "line 6: email: must be a string",
    ]

    changed = tmp_path / "changed.jsonl"
    changed.write_text(
        json.dumps({"email": "ANN@example.com", "name": "Ann B", "password_hash": DJANGO}) + "\n"
    )
    kept = ok_json(cli("users", "import", str(changed), "--json"))
    assert (kept["created"], kept["updated"], kept["unchanged"]) == (0, 0, 1)
    assert stored_users(database_url)["ann@example.com"][1:] == ("Ann", DEVISE)
    updated = ok_json(cli("users", "import", str(changed), "--update", "--json"))
    assert (updated["created"], updated["updated"], updated["unchanged"]) == (0, 1, 0)
    assert stored_users(database_url)["ann@example.com"][1:] == ("Ann B", DJANGO)
    assert ok_json(cli("users", "import", str(changed), "--update", "--json"))["unchanged"] == 1


def test_large_file_in_batches_with_progress(cli: Any, tmp_path: Path, database_url: str) -> None:  # noqa: F811
    """Rows are committed batch by batch; off a terminal, progress is a plain line per batch."""
    path = tmp_path / "many.csv"
    with path.open("w") as out:
        out.write("email,name\n")
        for i in range(1, 1201):
            out.write(f"user{i:04}@example.com,User {i}\n")
    result = cli("users", "import", str(path), "--batch-size", "500")
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("progress:")]
    assert progress[0].startswith("progress: 500 rows read (") and progress[0].endswith("% of the file)")
    assert progress[1].startswith("progress: 1000 rows read (")
    assert progress[-1] == "progress: 1200 rows read (100% of the file)"
    assert result.stdout.strip() == "1200 created, 0 updated, 0 unchanged, 0 failed"
    assert len(stored_users(database_url)) == 1200
    again = cli("users", "import", str(path))
    assert again.stdout.strip() == "0 created, 0 updated, 1200 unchanged, 0 failed"


def test_whole_file_errors_are_one_line(cli: Any, tmp_path: Path, database_url: str) -> None:  # noqa: F811
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("mail,password\nann@example.com,x\n")
    result = cli("users", "import", str(bad_header))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: line 1: the header must name the columns")
    assert result.stderr.count("\n") == 1
    assert stored_users(database_url) == {}
    missing = cli("users", "import", str(tmp_path / "missing.csv"))
    assert missing.exit_code == 1 and missing.stderr.startswith("error: No such file or directory")
    wrong_format = cli("users", "import", str(bad_header), "--format", "xml")
    assert wrong_format.exit_code == 1 and wrong_format.stderr == "error: format: use csv or jsonl\n"


def test_stdin_and_undecodable_bytes(cli: Any, tmp_path: Path, database_url: str) -> None:  # noqa: F811
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"email,name\nann@example.com,Ren\xe9\nbob@example.com,Bob\n")
    result = cli("users", "import", str(path))
    assert result.exit_code == 1
    assert "line 2: name: text must be valid Unicode" in result.stderr
    assert set(stored_users(database_url)) == {"bob@example.com"}
    piped = cli("users", "import", "-", "--format", "jsonl", input='{"email": "cy@example.com"}\n')
    assert piped.exit_code == 0 and piped.stdout.strip() == "1 created, 0 updated, 0 unchanged, 0 failed"


def test_users_create_with_an_imported_hash(cli: Any, database_url: str) -> None:  # noqa: F811
    created = cli("users", "create", "ann@example.com", "--password-hash", DEVISE, "--name", "Ann", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["email"] == "ann@example.com"
    assert stored_users(database_url)["ann@example.com"][2] == DEVISE
    # The imported hash logs in (and is re-hashed to Argon2id then).
    assert logs_in(database_url, "ann@example.com", PASSWORD)
    assert stored_users(database_url)["ann@example.com"][2].startswith("$argon2id$")
    django = cli("users", "create", "bob@example.com", "--password-hash", DJANGO)
    assert django.exit_code == 0, django.output
    assert logs_in(database_url, "bob@example.com", PASSWORD)


def test_users_create_refuses_a_bad_hash_and_both_at_once(cli: Any, database_url: str) -> None:  # noqa: F811
    unknown = cli("users", "create", "cat@example.com", "--password-hash", "md5$salt$5f4dcc3b5aa765d61d")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: password-hash: ") and unknown.stderr.count("\n") == 1
    both = cli(
        "users", "create", "dan@example.com", "--password", "a long password", "--password-hash", DEVISE
    )
    assert both.exit_code == 1
    assert both.stderr == "error: password-hash: Give either a password or a password hash, not both.\n"
    assert "cat@example.com" not in stored_users(database_url)
    assert "dan@example.com" not in stored_users(database_url)


def test_a_terminal_sees_a_progress_bar(cli: Any, tmp_path: Path, database_url: str) -> None:  # noqa: F811
    """On a terminal (a real pseudo-terminal here) the import draws a progress bar on stderr,
    not the plain lines above; the summary still goes to stdout."""
    path = tmp_path / "some.csv"
    path.write_text("email,name\n" + "".join(f"tty{i:03}@example.com,Tty {i}\n" for i in range(300)))
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    command = [str(Path(sys.executable).with_name("frontdesk")), "users", "import", str(path)]
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary, env=env, cwd=tmp_path
    ) as process:
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        stdout = process.stdout.read() if process.stdout else b""
        assert process.wait() == 0, drawn.decode(errors="replace")
    os.close(primary)
    screen = drawn.decode(errors="replace")
    assert "importing" in screen
    assert "━" in screen  # the bar itself (rich's BarColumn)
    assert "progress:" not in screen
    assert stdout.decode().strip() == "300 created, 0 updated, 0 unchanged, 0 failed"
    assert len(stored_users(database_url)) == 300
