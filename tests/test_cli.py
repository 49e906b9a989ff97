"""The `frontdesk` command: scriptable, --json, one-line errors with a non-zero status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from frontdesk.cli import app
from tests.support import TEST_SECRET


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("FRONTDESK_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("FRONTDESK_ARGON2_MEMORY_KIB", "64")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


def ok_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_users_spaces_members(cli: Any) -> None:
    user = ok_json(
        cli(
            "users",
            "create",
            "alice@example.com",
            "--password",
            "alice-password",
            "--name",
            "Alice",
            "--json",
        )
    )
    assert user["email"] == "alice@example.com" and len(user["id"]) == 32
    ok_json(cli("users", "create", "bob@example.com", "--password", "bob-password", "--json"))
    space = ok_json(
        cli(
            "spaces",
            "create",
            "co-up",
            "--name",
            "Co-Up",
            "--admin",
            "alice@example.com",
            "--custom-domain",
            "members.co-up.test",
            "--json",
        )
    )
    assert space["url"] == "http://members.co-up.test:8000" and space["subdomain"] == "co-up"
    member = ok_json(cli("members", "add", "co-up", "bob@example.com", "--json"))
    assert member["role"] == "member"
    admin = ok_json(cli("members", "add", "co-up", "bob@example.com", "--admin", "--json"))
    assert admin["role"] == "admin"
    shown = ok_json(cli("spaces", "show", "co-up", "--json"))
    assert {(m["email"], m["role"]) for m in shown["members"]} == {
        ("alice@example.com", "admin"),
        ("bob@example.com", "admin"),
    }
    human = cli("users", "show", "bob@example.com")
    assert human.exit_code == 0 and "admin  co-up" in human.stdout


def test_password_prompt(cli: Any) -> None:
    result = cli("users", "create", "prompt@example.com", input="prompted-pass\nprompted-pass\n")
    assert result.exit_code == 0 and "created user prompt@example.com" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["users", "create", "not-an-email", "--password", "long-enough"],
            "error: email: That is not a valid",
        ),
        (["users", "create", "x@example.com", "--password", "short"], "error: password: Use at least 8"),
        (["spaces", "create", "www", "--name", "W", "--admin", "a@example.com"], "error: subdomain:"),
        (
            ["spaces", "create", "fine", "--name", "W", "--admin", "ghost@example.com"],
            "error: no user with email",
        ),
        (["members", "add", "nowhere", "a@example.com"], "error: no space with subdomain nowhere"),
        (["spaces", "show", "nowhere"], "error: no space with subdomain nowhere"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(cli: Any, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_duplicate_user(cli: Any) -> None:
    cli("users", "create", "dup@example.com", "--password", "long-enough")
    result = cli("users", "create", "DUP@example.com", "--password", "long-enough")
    assert result.exit_code == 1 and "already exists" in result.stderr


def test_seed_sandbox_is_idempotent(cli: Any) -> None:
    sandbox = Path(__file__).parents[1] / "examples" / "sandbox.yaml"
    first = ok_json(cli("seed", str(sandbox), "--json"))
    assert "user alice@example.com" in first["created"] and "space co-up" in first["created"]
    second = ok_json(cli("seed", str(sandbox), "--json"))
    assert second["created"] == [] and "space co-up" in second["existing"]
    harbour = ok_json(cli("spaces", "show", "harbour", "--json"))
    assert harbour["custom_domain"] == "members.harbour.test"
    co_up = ok_json(cli("spaces", "show", "co-up", "--json"))
    assert ("carol@example.com", "admin") in {(m["email"], m["role"]) for m in co_up["members"]}
    assert ok_json(cli("users", "show", "alice@example.com", "--json"))["email_verified"] is True


def test_seed_json_and_errors(cli: Any, tmp_path: Path) -> None:
    good = tmp_path / "s.json"
    good.write_text(json.dumps({"users": [{"email": "j@example.com", "password": "json-password"}]}))
    assert ok_json(cli("seed", str(good), "--json"))["created"] == ["user j@example.com"]
    assert ok_json(cli("users", "show", "j@example.com", "--json"))["email_verified"] is False
    bad = tmp_path / "bad.yaml"
    bad.write_text("users:\n  - email: j2@example.com\n    password: x\n")
    result = cli("seed", str(bad))
    assert result.exit_code == 1 and result.stderr.startswith("error: users[0].password:")
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [unclosed\n")
    assert cli("seed", str(broken)).stderr.startswith("error:")
    assert cli("seed", str(tmp_path / "missing.yaml")).stderr.startswith("error: cannot read")
    weird = tmp_path / "weird.yaml"
    weird.write_text("gadgets: []\n")
    assert "unknown top-level keys" in cli("seed", str(weird)).stderr


def test_commands_refuse_an_unmigrated_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", TEST_SECRET)
    result = CliRunner().invoke(app, ["users", "create", "a@example.com", "--password", "long-enough"])
    assert result.exit_code == 1
    assert "Run `frontdesk db upgrade`" in result.stderr


def test_db_upgrade_on_a_fresh_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", f"sqlite:///{tmp_path}/fresh.db")
    monkeypatch.delenv("FRONTDESK_SECRET_KEY", raising=False)
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade"])
    assert first.exit_code == 0 and "upgraded from empty" in first.stdout
    assert (tmp_path / "fresh.db.secret").exists()
    second = runner.invoke(app, ["db", "upgrade"])
    assert second.exit_code == 0 and "already at" in second.stdout


def test_bad_configuration_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_PUBLIC_URL", "not a url")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1 and result.stderr.startswith("error: bad configuration")
    assert result.stderr.count("\n") == 1
