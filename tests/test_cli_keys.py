"""`frontdesk keys rotate` and `frontdesk keys list`."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.db import Database
from frontdesk.store.key_storage import unseal
from frontdesk.store.models import SigningKey
from tests.conftest import run_async
from tests.support import TEST_SECRET, make_settings
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture


def sealed_keys(database_url: str) -> dict[str, str]:
    async def go() -> dict[str, str]:
        db = Database(make_settings(database_url))
        try:
            async with db.session() as session:
                from sqlalchemy import select

                rows = (await session.execute(select(SigningKey))).scalars().all()
                return {row.kid: row.private_sealed for row in rows}
        finally:
            await db.dispose()

    return run_async(go)  # type: ignore[no-any-return]


def test_rotate_and_list(cli: Any, database_url: str) -> None:  # noqa: F811
    empty = cli("keys", "list")
    assert empty.exit_code == 0 and "no signing keys yet" in empty.stdout
    assert ok_json(cli("keys", "list", "--json")) == {"keys": []}

    first = ok_json(cli("keys", "rotate", "--json"))
    assert first["retired"] == [] and len(first["kid"]) == 43
    second = ok_json(cli("keys", "rotate", "--json"))
    assert second["retired"] == [first["kid"]] and second["kid"] != first["kid"]
    human = cli("keys", "rotate")
    assert human.exit_code == 0
    assert "new signing key " in human.stdout and f"retired: {second['kid']}" in human.stdout
    third = human.stdout.split("new signing key ", 1)[1].split()[0]

    listed = ok_json(cli("keys", "list", "--json"))["keys"]
    assert [k["kid"] for k in listed] == [third, second["kid"], first["kid"]]
    assert [k["signing"] for k in listed] == [True, False, False]
    assert all(k["published"] for k in listed)
    assert listed[0]["retired_at"] is None and all(k["retired_at"] for k in listed[1:])
    assert all(k["alg"] == "RS256" and k["created_at"] for k in listed)

    lines = cli("keys", "list").stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith(third) and lines[0].endswith("published  signing")

    # The private halves are sealed with the server secret, bound to their kid.
    server_secret = ServerSecret(TEST_SECRET.encode())
    for kid, sealed in sealed_keys(database_url).items():
        assert '"d"' not in sealed and "PRIVATE" not in sealed
        assert unseal(server_secret, kid, sealed).kid == kid


def test_retention_period_decides_what_is_published(
    cli: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ok_json(cli("keys", "rotate", "--json"))
    new = ok_json(cli("keys", "rotate", "--json"))
    monkeypatch.setenv("FRONTDESK_SIGNING_KEY_RETENTION_DAYS", "0")
    listed = ok_json(cli("keys", "list", "--json"))["keys"]
    assert [(k["kid"] == new["kid"], k["published"]) for k in listed] == [(True, True), (False, False)]
    assert "unpublished" in cli("keys", "list").stdout
    monkeypatch.setenv("FRONTDESK_SIGNING_KEY_RETENTION_DAYS", "soon")
    bad = cli("keys", "list")
    assert bad.exit_code == 1 and "FRONTDESK_SIGNING_KEY_RETENTION_DAYS" in bad.stderr
