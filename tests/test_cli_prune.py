"""`frontdesk db prune`: counts, deletes, and refuses bad input (what it keeps and why:
tests/oauth/test_pruning.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from frontdesk.store.db import Database
from frontdesk.store.models import AccessToken
from frontdesk.store.types import utcnow
from tests.conftest import run_async
from tests.support import make_settings
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture
from tests.test_cli_clients import SANDBOX


def in_db(database_url: str, work: Any) -> Any:
    async def go() -> Any:
        db = Database(make_settings(database_url))
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return run_async(go)


def test_prune_counts_then_deletes(cli: Any, database_url: str) -> None:  # noqa: F811
    empty = ok_json(cli("db", "prune", "--dry-run", "--json"))
    assert empty["dry_run"] is True
    assert set(empty["deleted"].values()) == {0} and "access_tokens" in empty["deleted"]
    assert "audit_events" not in empty["deleted"]  # audit events only with --audit-days

    assert cli("seed", str(SANDBOX)).exit_code == 0

    async def revoke_tokens_long_ago(session: Any) -> int:
        later = utcnow() - timedelta(days=10)
        result = await session.execute(update(AccessToken).values(revoked_at=later))
        return int(result.rowcount)

    tokens = in_db(database_url, revoke_tokens_long_ago)
    assert tokens > 0  # the seeded apps' test tokens

    counted = cli("db", "prune", "--dry-run")
    assert counted.exit_code == 0
    assert f"access_tokens: would delete {tokens}" in counted.stdout
    kept = ok_json(cli("db", "prune", "--keep-days", "30", "--json"))
    assert kept["deleted"]["access_tokens"] == 0  # revoked 10 days ago: within 30 days' grace

    done = cli("db", "prune")
    assert done.exit_code == 0
    assert f"access_tokens: deleted {tokens}" in done.stdout

    async def remaining(session: Any) -> int:
        return int((await session.execute(select(func.count()).select_from(AccessToken))).scalar_one())

    assert in_db(database_url, remaining) == 0


def test_prune_refuses_bad_input(cli: Any) -> None:  # noqa: F811
    result = cli("db", "prune", "--keep-days", "-1")
    assert result.exit_code == 2
    assert "--keep-days" in result.output
    result = cli("db", "prune", "--audit-days", "soon")
    assert result.exit_code == 2
    assert "--audit-days" in result.output
