"""`frontdesk audit`: the audit log for operators, with filters and --json."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from frontdesk import events
from frontdesk.store.db import Database
from frontdesk.store.models import AuditEvent
from frontdesk.store.types import utcnow
from tests.conftest import run_async
from tests.support import make_settings
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture


def add_events(database_url: str, rows: list[dict[str, Any]]) -> None:
    async def go() -> None:
        db = Database(make_settings(database_url))
        try:
            async with db.session() as session:
                # Exactly these rows (not the user.created/app.created events of the setup).
                await session.execute(delete(AuditEvent))
                for row in rows:
                    session.add(AuditEvent(**row))
                await session.commit()
        finally:
            await db.dispose()

    run_async(go)


def setup_log(cli: Any, database_url: str) -> dict[str, Any]:  # noqa: F811
    alice = ok_json(cli("users", "create", "alice@example.com", "--password", "alice-password", "--json"))
    bob = ok_json(cli("users", "create", "bob@example.com", "--password", "bob-password", "--json"))
    app = ok_json(
        cli(
            "clients",
            "create",
            "Audit App",
            "--owner",
            "alice@example.com",
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "read_user",
            "--json",
        )
    )
    now = utcnow()
    add_events(
        database_url,
        [
            {
                "event": events.LOGIN_SUCCEEDED,
                "user_id": alice["id"],
                "ip": "198.51.100.7",
                "created_at": now - timedelta(days=3),
            },
            {
                "event": events.TOKEN_ISSUED,
                "user_id": alice["id"],
                "app_id": app["client_id"],
                "detail": {"token_id": "t1", "grant_type": "password"},
                "created_at": now - timedelta(minutes=30),
            },
            {
                "event": events.TOKEN_REVOKED,
                "user_id": alice["id"],
                "app_id": app["client_id"],
                "detail": {"token_id": "t1", "via": "api"},
                "created_at": now - timedelta(minutes=10),
            },
            {"event": events.LOGIN_FAILED, "user_id": bob["id"], "created_at": now - timedelta(minutes=5)},
            {"event": events.LOGIN_FAILED, "created_at": now - timedelta(minutes=1)},
        ],
    )
    return {"alice": alice, "bob": bob, "app": app}


def names(result: Any) -> list[str]:
    return [e["event"] for e in ok_json(result)["events"]]


def test_filters_and_json(cli: Any, database_url: str) -> None:  # noqa: F811
    made = setup_log(cli, database_url)
    everything = ok_json(cli("audit", "--json"))["events"]
    assert [e["event"] for e in everything] == [
        "login.failed",
        "login.failed",
        "token.revoked",
        "token.issued",
        "login.succeeded",
    ]
    issued = everything[3]
    assert issued["user_email"] == "alice@example.com" and issued["app_id"] == made["app"]["client_id"]
    assert issued["app_name"] == "Audit App" and issued["detail"] == {
        "token_id": "t1",
        "grant_type": "password",
    }
    assert issued["created_at"].endswith("+00:00") and everything[0]["user_email"] is None

    assert names(cli("audit", "--user", "ALICE@example.com", "--json")) == [
        "token.revoked",
        "token.issued",
        "login.succeeded",
    ]
    assert names(cli("audit", "--user", "bob@example.com", "--json")) == ["login.failed"]
    assert names(cli("audit", "--event", "token.issued", "--json")) == ["token.issued"]
    assert names(cli("audit", "--event", "token", "--json")) == ["token.revoked", "token.issued"]
    assert names(cli("audit", "--event", "login.failed", "--user", "bob@example.com", "--json")) == [
        "login.failed"
    ]
    assert names(cli("audit", "--app", made["app"]["client_id"], "--json")) == [
        "token.revoked",
        "token.issued",
    ]
    assert names(cli("audit", "--app", "nope-nope", "--json")) == []
    assert names(cli("audit", "--since", "1h", "--json")) == [
        "login.failed",
        "login.failed",
        "token.revoked",
        "token.issued",
    ]
    assert names(cli("audit", "--since", "7m", "--json")) == ["login.failed", "login.failed"]
    since = (utcnow() - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
    assert len(names(cli("audit", "--since", since, "--json"))) == 5
    assert names(cli("audit", "--limit", "2", "--json")) == ["login.failed", "login.failed"]


def test_human_output_and_errors(cli: Any, database_url: str) -> None:  # noqa: F811
    empty = cli("audit")
    assert empty.exit_code == 0 and empty.stdout.strip() == "no events"
    made = setup_log(cli, database_url)
    lines = cli("audit", "--user", "alice@example.com").stdout.splitlines()
    assert len(lines) == 3
    assert "token.revoked" in lines[0] and "user=alice@example.com" in lines[0]
    assert f"app={made['app']['client_id']}" in lines[0] and '"via": "api"' in lines[0]
    assert "ip=198.51.100.7" in lines[2] and "login.succeeded" in lines[2]

    unknown = cli("audit", "--user", "nobody@example.com")
    assert unknown.exit_code == 1 and "no user with email nobody@example.com" in unknown.stderr
    bad = cli("audit", "--since", "yesterday")
    assert bad.exit_code == 1 and bad.stderr.startswith("error: since:")
    assert cli("audit", "--limit", "0").exit_code != 0
