"""The operator's commands for what was missing (issue 12 §3): `users list/delete/set-password`,
`members remove`, `spaces delete`, `clients delete/rotate-secret`, `tokens revoke`."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.oauth.models import NewToken
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_secret
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.db import Database
from frontdesk.store.sql_storage import SqlStorage
from tests.conftest import run_async
from tests.support import TEST_SECRET, make_settings
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture
from tests.test_cli_clients import check_credentials
from tests.test_cli_import import logs_in


def token_state(database_url: str, raw: str) -> str:
    """ "live", "revoked" or "gone", as the server's storage sees the token."""

    async def go() -> Any:
        db = Database(make_settings(database_url))
        try:
            async with db.session() as session:
                return await SqlStorage(session, ServerSecret(TEST_SECRET.encode())).lookup_token(raw)
        finally:
            await db.dispose()

    info = run_async(go)
    if info is None:
        return "gone"
    return "revoked" if info.revoked else "live"


def save_token(database_url: str, client_id: str, email: str, subdomain: str | None = None) -> str:
    """A token of ``email`` for the app (a space token with ``subdomain``), stored as the
    token endpoint stores one."""
    from frontdesk.services import accounts, spaces

    async def go() -> str:
        db = Database(make_settings(database_url))
        try:
            async with db.unit_of_work() as uow:
                user = await accounts.find_by_email(uow.session, email)
                assert user is not None
                space = await spaces.get_by_subdomain(uow.session, subdomain) if subdomain else None
                raw = new_secret(ACCESS_TOKEN_PREFIX)
                storage = SqlStorage(uow.session, ServerSecret(TEST_SECRET.encode()))
                token = NewToken(
                    client_id=client_id,
                    user_id=user.id,
                    scopes=("read_user",),
                    grant_type="space_token" if space else "authorization_code",
                    space_id=space.id if space else None,
                )
                await storage.save_token(raw, token)
                await uow.commit()
                return raw
        finally:
            await db.dispose()

    return str(run_async(go))


@pytest.fixture
def world(cli: Any) -> dict[str, Any]:  # noqa: F811
    """ann owns the space co-up and an app; bob is a member."""
    for email in ("ann@example.com", "bob@example.com", "cy@example.com"):
        ok_json(
            cli(
                "users",
                "create",
                email,
                "--password",
                "first-password",
                "--name",
                email[:3].title(),
                "--json",
            )
        )
    ok_json(cli("spaces", "create", "co-up", "--name", "Co-Up", "--admin", "ann@example.com", "--json"))
    ok_json(cli("members", "add", "co-up", "bob@example.com", "--json"))
    app = ok_json(
        cli(
            "clients",
            "create",
            "Ann's App",
            "--owner",
            "ann@example.com",
            "--redirect-uri",
            "https://example.com/cb",
            "--scope",
            "read_user",
            "--json",
        )
    )
    return app


def test_users_list(cli: Any, world: dict[str, Any]) -> None:  # noqa: F811
    listed = ok_json(cli("users", "list", "--json"))["users"]
    assert [u["email"] for u in listed] == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert [u["email"] for u in ok_json(cli("users", "list", "--search", "BOB", "--json"))["users"]] == [
        "bob@example.com"
    ]
    assert [u["email"] for u in ok_json(cli("users", "list", "--search", "Cy@", "--json"))["users"]] == [
        "cy@example.com"
    ]
    assert ok_json(cli("users", "list", "--search", "%", "--json"))["users"] == []  # no wildcard
    page = ok_json(cli("users", "list", "--limit", "2", "--json"))["users"]
    after = ok_json(cli("users", "list", "--after", page[-1]["email"], "--json"))["users"]
    assert [u["email"] for u in page + after] == [u["email"] for u in listed]
    human = cli("users", "list", "--limit", "1")
    assert human.exit_code == 0 and human.stdout.startswith("ann@example.com  id=")
    assert cli("users", "list", "--search", "nobody").stdout == "no users\n"


def test_users_set_password(cli: Any, world: dict[str, Any], database_url: str) -> None:  # noqa: F811
    result = cli("users", "set-password", "bob@example.com", input="second-password\n")
    assert result.exit_code == 0 and result.stdout == "password set for bob@example.com\n"
    assert logs_in(database_url, "bob@example.com", "second-password")
    assert not logs_in(database_url, "bob@example.com", "first-password")
    short = cli("users", "set-password", "bob@example.com", "--password", "short")
    assert short.exit_code == 1 and short.stderr.startswith("error: password: Use at least 8")
    ghost = cli("users", "set-password", "ghost@example.com", "--password", "long-enough")
    assert ghost.exit_code == 1 and ghost.stderr == "error: no user with email ghost@example.com\n"


def test_users_delete(cli: Any, world: dict[str, Any], database_url: str) -> None:  # noqa: F811
    held = save_token(database_url, world["client_id"], "bob@example.com")
    assert token_state(database_url, held) == "live"
    result = cli("users", "delete", "bob@example.com")
    assert result.exit_code == 0 and result.stdout == "deleted user bob@example.com\n"
    assert token_state(database_url, held) == "gone"
    assert cli("users", "show", "bob@example.com").stderr == "error: no user with email bob@example.com\n"
    assert [m["email"] for m in ok_json(cli("spaces", "show", "co-up", "--json"))["members"]] == [
        "ann@example.com"
    ]
    owner = cli("users", "delete", "ann@example.com", "--yes")
    assert owner.exit_code == 1
    assert owner.stderr == "error: ann@example.com owns the spaces co-up; delete them first\n"


def test_members_remove(cli: Any, world: dict[str, Any]) -> None:  # noqa: F811
    result = cli("members", "remove", "co-up", "BOB@example.com")
    assert result.exit_code == 0 and result.stdout == "removed bob@example.com from co-up\n"
    again = cli("members", "remove", "co-up", "bob@example.com")
    assert again.exit_code == 1 and again.stderr == "error: bob@example.com is not a member of co-up\n"
    last_admin = cli("members", "remove", "co-up", "ann@example.com")
    assert last_admin.exit_code == 1 and last_admin.stderr.startswith("error:")
    assert "ann@example.com" in [
        m["email"] for m in ok_json(cli("spaces", "show", "co-up", "--json"))["members"]
    ]


def test_spaces_delete(cli: Any, world: dict[str, Any], database_url: str) -> None:  # noqa: F811
    space_token = save_token(database_url, world["client_id"], "ann@example.com", subdomain="co-up")
    user_token = save_token(database_url, world["client_id"], "ann@example.com")
    result = cli("spaces", "delete", "co-up")
    assert result.exit_code == 0 and result.stdout == "deleted space co-up\n"
    assert token_state(database_url, space_token) == "gone"
    assert token_state(database_url, user_token) == "live"
    assert cli("spaces", "show", "co-up").stderr == "error: no space with subdomain co-up\n"
    assert cli("users", "delete", "ann@example.com").exit_code == 0  # owns no space now
    assert cli("spaces", "delete", "co-up").stderr == "error: no space with subdomain co-up\n"


def test_clients_delete(cli: Any, world: dict[str, Any], database_url: str) -> None:  # noqa: F811
    client_id = world["client_id"]
    assert token_state(database_url, world["test_access_token"]) == "live"
    result = cli("clients", "delete", client_id)
    assert result.exit_code == 0 and result.stdout == f"deleted app Ann's App ({client_id})\n"
    assert token_state(database_url, world["test_access_token"]) == "gone"
    assert cli("clients", "show", client_id).stderr == f"error: no app with client id {client_id}\n"
    assert cli("clients", "delete", client_id).exit_code == 1


def test_clients_rotate_secret(cli: Any, world: dict[str, Any], database_url: str) -> None:  # noqa: F811
    client_id, first = world["client_id"], world["client_secret"]
    rotated = ok_json(cli("clients", "rotate-secret", client_id, "--json"))
    second = rotated["client_secret"]
    assert second.startswith("fdcs_") and second != first and rotated["previous_secret_valid_until"] is None
    assert check_credentials(database_url, client_id, first, None)[0] is False
    assert check_credentials(database_url, client_id, second, None)[0] is True

    overlapping = cli("clients", "rotate-secret", client_id, "--overlap", "3600")
    assert overlapping.exit_code == 0
    third = overlapping.stdout.splitlines()[0].removeprefix("client_secret: ")
    assert overlapping.stdout.splitlines()[1].startswith("the previous secret works until ")
    assert check_credentials(database_url, client_id, second, None)[0] is True
    assert check_credentials(database_url, client_id, third, None)[0] is True
    too_long = cli("clients", "rotate-secret", client_id, "--overlap", "9999999")
    assert too_long.exit_code == 1 and too_long.stderr.startswith("error: overlap-seconds:")


def test_tokens_revoke_by_value(cli: Any, world: dict[str, Any], database_url: str) -> None:  # noqa: F811
    raw = world["test_access_token"]
    result = cli("tokens", "revoke", raw)
    assert result.exit_code == 0
    assert result.stdout == "revoked 1 access tokens, 0 refresh tokens, 0 codes, 0 consents\n"
    assert token_state(database_url, raw) == "revoked"
    again = cli("tokens", "revoke", raw, "--json")
    assert ok_json(again)["access_tokens"] == 0
    unknown = cli("tokens", "revoke", "fdat_not-a-token")
    assert unknown.exit_code == 1 and unknown.stderr == "error: no such token\n"
    other = save_token(database_url, world["client_id"], "bob@example.com")
    assert ok_json(cli("tokens", "revoke", "-", "--json", input=other + "\n"))["access_tokens"] == 1


def test_tokens_revoke_by_selection(cli: Any, world: dict[str, Any], database_url: str) -> None:  # noqa: F811
    client_id = world["client_id"]
    bob = save_token(database_url, client_id, "bob@example.com")
    cy = save_token(database_url, client_id, "cy@example.com")
    space = save_token(database_url, client_id, "ann@example.com", subdomain="co-up")

    assert ok_json(cli("tokens", "revoke", "--user", "bob@example.com", "--json"))["access_tokens"] == 1
    assert [token_state(database_url, t) for t in (bob, cy, space)] == ["revoked", "live", "live"]
    assert ok_json(cli("tokens", "revoke", "--space", "co-up", "--json"))["access_tokens"] == 1
    assert [token_state(database_url, t) for t in (cy, space)] == ["live", "revoked"]
    revoked = ok_json(cli("tokens", "revoke", "--app", client_id, "--json"))
    assert revoked["access_tokens"] == 2  # cy's and the owner's test token
    assert token_state(database_url, cy) == "revoked"
    assert token_state(database_url, world["test_access_token"]) == "revoked"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tokens", "revoke"], "error: give a token, or --user, --app or --space"),
        (
            ["tokens", "revoke", "x", "--user", "ann@example.com"],
            "error: give a token or --user/--app/--space",
        ),
        (
            ["tokens", "revoke", "--user", "ann@example.com", "--space", "co-up"],
            "error: space: Revoke by user",
        ),
        (["tokens", "revoke", "--space", "nowhere"], "error: no space with subdomain nowhere"),
        (["tokens", "revoke", "--app", "nope"], "error: no app with client id nope"),
        (["users", "delete", "ghost@example.com"], "error: no user with email ghost@example.com"),
        (["members", "remove", "nowhere", "ann@example.com"], "error: no space with subdomain nowhere"),
    ],
)
def test_bad_selections_are_one_line(cli: Any, world: dict[str, Any], args: list[str], message: str) -> None:  # noqa: F811
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
