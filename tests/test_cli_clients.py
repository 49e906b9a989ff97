"""`frontdesk clients …` and seeding apps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.db import Database
from frontdesk.store.sql_storage import SqlStorage
from tests.conftest import run_async
from tests.support import TEST_SECRET, make_settings
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture

SANDBOX = Path(__file__).parents[1] / "examples" / "sandbox.yaml"
SANDBOX_SECRET = "sandbox-app-secret-for-local-development-only"


def check_credentials(database_url: str, client_id: str, secret: str | None, token: str | None) -> Any:
    """(secret accepted, token info) as the server would see them."""

    async def go() -> Any:
        db = Database(make_settings(database_url))
        try:
            async with db.session() as session:
                storage = SqlStorage(session, ServerSecret(TEST_SECRET.encode()))
                client = await storage.get_client(client_id)
                assert client is not None
                ok = await storage.check_client_secret(client, secret) if secret else None
                info = await storage.lookup_token(token) if token else None
                return ok, info
        finally:
            await db.dispose()

    return run_async(go)


@pytest.fixture
def owner(cli: Any) -> str:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    return "dev@example.com"


def create(cli: Any, *extra: str) -> Any:  # noqa: F811
    return cli(
        "clients",
        "create",
        "My App",
        "--owner",
        "dev@example.com",
        "--redirect-uri",
        "https://example.com/cb",
        "--redirect-uri",
        "http://localhost:9000/cb",
        "--scope",
        "read_user navigation",
        *extra,
    )


def test_create_show_update_list(cli: Any, owner: str, database_url: str) -> None:  # noqa: F811
    created = ok_json(create(cli, "--json"))
    client_id = created["client_id"]
    assert len(client_id) == 32 and created["owner"] == owner
    assert created["client_secret"].startswith("fdcs_") and created["test_access_token"].startswith("fdat_")
    assert created["scopes"] == ["read_user", "navigation"] and created["password_grant"] is True
    assert created["registered_via"] == "cli"
    ok, info = check_credentials(
        database_url, client_id, created["client_secret"], created["test_access_token"]
    )
    # The test token holds the umbrella's scopes too (oauth/scopes.token_scopes).
    assert (
        ok is True
        and info.grant_type == "test"
        and info.scopes == ("read_user", "navigation", "read_navigation_links", "write_navigation_links")
    )

    shown = ok_json(cli("clients", "show", client_id, "--json"))
    assert shown["redirect_uris"] == ["https://example.com/cb", "http://localhost:9000/cb"]
    assert "client_secret" not in shown and "test_access_token" not in shown
    human = cli("clients", "show", client_id)
    assert human.exit_code == 0 and f"{client_id}  My App  owner=dev@example.com" in human.stdout
    assert created["client_secret"] not in human.stdout
    assert "redirect uri:  http://localhost:9000/cb" in human.stdout

    updated = ok_json(
        cli(
            "clients",
            "update",
            client_id,
            "--name",
            "Renamed",
            "--scope",
            "signin,read_user",
            "--trusted",
            "--redirect-uri",
            "com.example.app:/cb",
            "--no-password-grant",
            "--allow-redirect-query",
            "--json",
        )
    )
    assert updated["name"] == "Renamed" and updated["scopes"] == ["signin", "read_user"]
    assert updated["trusted"] and updated["allow_redirect_query"] and not updated["password_grant"]
    assert updated["redirect_uris"] == ["com.example.app:/cb"]
    # Only what was given changes; issued tokens keep their scopes.
    again = ok_json(cli("clients", "update", client_id, "--no-allow-redirect-query", "--json"))
    assert again["name"] == "Renamed" and again["trusted"] and not again["allow_redirect_query"]
    _, info = check_credentials(database_url, client_id, None, created["test_access_token"])
    # The test token holds the umbrella's scopes too (oauth/scopes.token_scopes).
    assert info.scopes == ("read_user", "navigation", "read_navigation_links", "write_navigation_links")

    public = ok_json(
        cli(
            "clients",
            "create",
            "Mobile",
            "--owner",
            owner,
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--scope",
            "read_user",
            "--public",
            "--json",
        )
    )
    assert public["client_secret"] is None and public["public"] and not public["password_grant"]
    listed = ok_json(cli("clients", "list", "--json"))
    assert [c["name"] for c in listed["clients"]] == ["Mobile", "Renamed"]
    human = cli("clients", "list")
    assert human.exit_code == 0 and client_id in human.stdout and "(dev@example.com)" in human.stdout


def test_create_prints_credentials(cli: Any, owner: str) -> None:  # noqa: F811
    result = create(cli)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "created app My App"
    assert [line.split(":", 1)[0] for line in lines[1:]] == [
        "client_id",
        "client_secret",
        "test_access_token",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redirect-uri", "/relative"], "error: redirect-uris: /relative: A redirect URI must be absolute"),
        (
            ["--redirect-uri", "http://example.com/cb"],
            "error: redirect-uris: http://example.com/cb: Use https",
        ),
        (["--scope", "bogus"], "error: scopes: Unknown scope “bogus”"),
        (["--scope", "signin"], "error: scopes: The scope “signin” is for trusted apps only"),
        (
            ["--public", "--password-grant"],
            "error: password-grant: Public apps cannot use the password grant",
        ),
        (["--main-url", "javascript:alert(1)"], "error: main-url: Enter an absolute http(s) URL"),
    ],
)
def test_create_bad_input(cli: Any, owner: str, args: list[str], message: str) -> None:  # noqa: F811
    result = create(cli, *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert ok_json(cli("clients", "list", "--json"))["clients"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "clients",
                "create",
                "X",
                "--owner",
                "ghost@example.com",
                "--redirect-uri",
                "https://a.example/",
            ],
            "error: no user with email ghost@example.com",
        ),
        (
            ["clients", "create", "X", "--owner", "dev@example.com", "--scope", "read_user"],
            "error: redirect-uris: Enter at least one redirect URI.",
        ),
        (
            ["clients", "create", "X", "--owner", "dev@example.com", "--redirect-uri", "https://a.example/"],
            "error: scopes: Choose at least one scope.",
        ),
        (["clients", "show", "nope"], "error: no app with client id nope"),
        (["clients", "update", "nope", "--name", "x"], "error: no app with client id nope"),
    ],
)
def test_other_bad_input(cli: Any, owner: str, args: list[str], message: str) -> None:  # noqa: F811
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_update_bad_input(cli: Any, owner: str) -> None:  # noqa: F811
    client_id = ok_json(create(cli, "--json"))["client_id"]
    for args, message in (
        (["--scope", "nope"], "error: scopes: Unknown scope"),
        (["--redirect-uri", "https://a.example/#x"], "error: redirect-uris: https://a.example/#x:"),
        (["--name", " "], "error: name: Enter a name."),
        (["--scope", "signin"], "error: scopes: The scope “signin” is for trusted apps only"),
    ):
        result = cli("clients", "update", client_id, *args)
        assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr
        assert result.stderr.count("\n") == 1
    shown = ok_json(cli("clients", "show", client_id, "--json"))
    assert shown["name"] == "My App" and shown["scopes"] == ["read_user", "navigation"]


def test_seed_apps_is_idempotent_and_prints_no_secret(cli: Any, database_url: str) -> None:  # noqa: F811
    first = cli("seed", str(SANDBOX), "--json")
    data = ok_json(first)
    assert "app Sandbox App (sandbox-app)" in data["created"]
    assert "app Sandbox Mobile (sandbox-mobile)" in data["created"]
    assert "app Sandbox Platform (sandbox-platform)" in data["created"]
    assert SANDBOX_SECRET not in first.stdout and "fdat_" not in first.stdout
    assert "sandbox-platform-secret" not in first.stdout
    second = cli("seed", str(SANDBOX))
    assert second.exit_code == 0 and "exists  app Sandbox App (sandbox-app)" in second.stdout
    assert "created" not in second.stdout
    shown = ok_json(cli("clients", "show", "sandbox-app", "--json"))
    assert shown["owner"] == "alice@example.com" and shown["password_grant"] is True
    assert shown["registered_via"] == "seed"
    assert shown["scopes"] == ["read_user", "read_memberships", "navigation"]
    assert shown["redirect_uris"] == [
        "http://localhost:9000/auth/callback",
        "https://example.com/auth/cobot/callback",
    ]
    ok, _ = check_credentials(database_url, "sandbox-app", SANDBOX_SECRET, None)
    assert ok is True
    mobile = ok_json(cli("clients", "show", "sandbox-mobile", "--json"))
    assert mobile["public"] and not mobile["password_grant"]
    platform = ok_json(cli("clients", "show", "sandbox-platform", "--json"))
    assert platform["client_credentials"] is True and platform["scopes"] == []
    assert "admin:users:write" in platform["admin_scopes"] and "admin:audit:read" in platform["admin_scopes"]


def test_seed_apps_without_client_id_match_by_name(cli: Any, owner: str, tmp_path: Path) -> None:  # noqa: F811
    doc = {
        "apps": [
            {
                "name": "Named",
                "owner": owner,
                "redirect_uris": "https://a.example/cb",
                "scopes": ["read_user"],
            }
        ]
    }
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(doc))
    first = ok_json(cli("seed", str(path), "--json"))
    assert len(first["created"]) == 1 and first["created"][0].startswith("app Named (")
    second = ok_json(cli("seed", str(path), "--json"))
    assert second["created"] == [] and second["existing"] == first["created"]


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ({"owner": "ghost@example.com"}, "error: apps[0].owner: no user with email 'ghost@example.com'"),
        ({"redirect_uris": ["/cb"]}, "error: apps[0].redirect_uris: /cb: A redirect URI must be absolute"),
        ({"scopes": "signin"}, "error: apps[0].scopes: The scope “signin” is for trusted apps only"),
        ({"client_secret": "short"}, "error: apps[0].client_secret: Use 32 to 200"),
        ({"client_id": "a b"}, "error: apps[0].client_id:"),
        ({"public": "yes"}, "error: apps[0].public: must be true or false"),
        ({"redirect_uri": "https://x.example/"}, "error: apps[0]: unknown keys redirect_uri"),
    ],
)
def test_seed_app_errors(cli: Any, owner: str, tmp_path: Path, app: dict[str, Any], message: str) -> None:  # noqa: F811
    entry = {"name": "Bad", "owner": owner, "redirect_uris": ["https://a.example/cb"], "scopes": "read_user"}
    entry.update(app)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"apps": [entry]}))
    result = cli("seed", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
