"""`frontdesk clients create/update --client-credentials/--admin-scopes` (project decision 10)."""

from __future__ import annotations

from typing import Any

from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture
from tests.test_cli_clients import create, owner  # noqa: F401 - the `owner` fixture


def test_switch_and_admin_scopes(cli: Any, owner: str) -> None:  # noqa: F811
    created = ok_json(create(cli, "--json"))
    assert created["client_credentials"] is False and created["admin_scopes"] == []
    client_id = created["client_id"]
    on = ok_json(cli("clients", "update", client_id, "--client-credentials", "--json"))
    assert on["client_credentials"] is True and on["admin_scopes"] == []
    admin = ok_json(
        cli("clients", "update", client_id, "--admin-scopes", "admin:users:read admin:audit:read", "--json")
    )
    assert admin["admin_scopes"] == ["admin:users:read", "admin:audit:read"]
    shown = cli("clients", "show", client_id)
    assert "admin scopes:  admin:users:read admin:audit:read" in shown.stdout
    assert "client_credentials" in shown.stdout
    # Off drops the administrative scopes too.
    off = ok_json(cli("clients", "update", client_id, "--no-client-credentials", "--json"))
    assert off["client_credentials"] is False and off["admin_scopes"] == []


def test_admin_scopes_imply_the_switch(cli: Any, owner: str) -> None:  # noqa: F811
    created = ok_json(create(cli, "--admin-scopes", "admin:spaces:write scim", "--json"))
    assert created["client_credentials"] is True
    assert created["admin_scopes"] == ["admin:spaces:write", "scim"]


def test_refusals(cli: Any, owner: str) -> None:  # noqa: F811
    not_admin = create(cli, "--admin-scopes", "read_user")
    assert not_admin.exit_code == 1
    assert "not an administrative scope" in not_admin.output
    contradiction = create(cli, "--admin-scopes", "admin:users:read", "--no-client-credentials")
    assert contradiction.exit_code == 1
    public = create(cli, "--public", "--client-credentials")
    assert public.exit_code == 1
    in_scopes = cli(
        "clients",
        "create",
        "X",
        "--owner",
        owner,
        "--redirect-uri",
        "https://x.example/cb",
        "--scope",
        "admin:users:read",
        "--trusted",
    )
    assert in_scopes.exit_code == 1


def test_an_admin_only_app_needs_no_ordinary_scope(cli: Any, owner: str) -> None:  # noqa: F811
    result = cli(
        "clients",
        "create",
        "Platform backend",
        "--owner",
        owner,
        "--admin-scopes",
        "admin:users:read",
        "--client-credentials",
    )
    assert result.exit_code == 0, result.output
    assert "test_access_token: (none: administrative scopes only)" in result.stdout
    client_id = next(line.split()[-1] for line in result.stdout.splitlines() if line.startswith("client_id:"))
    shown = ok_json(cli("clients", "show", client_id, "--json"))
    assert shown["scopes"] == [] and shown["redirect_uris"] == []
    assert shown["admin_scopes"] == ["admin:users:read"] and shown["client_credentials"] is True
    # Taking the administrative scopes away would leave it nothing.
    emptied = cli("clients", "update", client_id, "--no-client-credentials")
    assert emptied.exit_code == 1
    assert "Choose at least one scope" in emptied.stderr


def test_an_app_asking_for_nothing_is_refused(cli: Any, owner: str) -> None:  # noqa: F811
    result = cli("clients", "create", "Nothing", "--owner", owner, "--client-credentials")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: scopes: Choose at least one scope.")
    assert "administrative scopes" in result.stderr
