"""`frontdesk clients create/update` with the logout settings (docs/decisions.md §10):
``--post-logout-redirect-uri`` (repeatable, ``--no-post-logout-redirect-uri``) and
``--backchannel-logout-uri`` (``--no-backchannel-logout-uri``)."""

from __future__ import annotations

from typing import Any

from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture


def test_logout_uris_on_create_and_update(cli: Any) -> None:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    created = ok_json(
        cli(
            "clients",
            "create",
            "Logout App",
            "--owner",
            "dev@example.com",
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "openid read_user",
            "--post-logout-redirect-uri",
            "https://app.example/bye",
            "--post-logout-redirect-uri",
            "https://app.example/bye?again=1",
            "--backchannel-logout-uri",
            "https://app.example/backchannel",
            "--json",
        )
    )
    client_id = created["client_id"]
    assert created["post_logout_redirect_uris"] == [
        "https://app.example/bye",
        "https://app.example/bye?again=1",
    ]
    assert created["backchannel_logout_uri"] == "https://app.example/backchannel"
    shown = cli("clients", "show", client_id)
    assert shown.exit_code == 0
    assert "post-logout:   https://app.example/bye" in shown.stdout
    assert "back-channel logout: https://app.example/backchannel" in shown.stdout

    replaced = ok_json(
        cli("clients", "update", client_id, "--post-logout-redirect-uri", "https://app.example/out", "--json")
    )
    assert replaced["post_logout_redirect_uris"] == ["https://app.example/out"]
    assert replaced["backchannel_logout_uri"] == "https://app.example/backchannel"
    cleared = ok_json(
        cli(
            "clients",
            "update",
            client_id,
            "--no-post-logout-redirect-uri",
            "--no-backchannel-logout-uri",
            "--json",
        )
    )
    assert cleared["post_logout_redirect_uris"] == []
    assert cleared["backchannel_logout_uri"] is None


def test_a_bad_logout_uri_is_refused(cli: Any) -> None:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    args = [
        "clients",
        "create",
        "App",
        "--owner",
        "dev@example.com",
        "--redirect-uri",
        "https://a.example/cb",
        "--scope",
        "read_user",
    ]
    refused = cli(*args, "--post-logout-redirect-uri", "https://a.example/bye#frag")
    assert refused.exit_code != 0
    assert "post-logout-redirect-uris: https://a.example/bye#frag" in refused.output
    refused = cli(*args, "--backchannel-logout-uri", "https://a.example/bc#frag")
    assert refused.exit_code != 0
    assert "fragment" in refused.output
