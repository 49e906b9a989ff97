"""``frontdesk webhooks``: the operator's endpoints from the command line; bad input is a
one-line error, never a traceback."""

from __future__ import annotations

from typing import Any

from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture


def test_add_list_disable_enable_remove(cli: Any) -> None:  # noqa: F811
    made = ok_json(cli("webhooks", "add", "https://hooks.example/in", "--event", "user.created", "--json"))
    assert made["events"] == ["user.created"] and made["secret"].startswith("whsec_")
    listed = ok_json(cli("webhooks", "list", "--json"))["endpoints"]
    assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]
    off = ok_json(cli("webhooks", "disable", made["id"], "--json"))
    assert (off["active"], off["disabled_reason"]) == (False, "disabled by the operator")
    shown = cli("webhooks", "list")
    assert "DISABLED" in shown.stdout and "(disabled by the operator)" in shown.stdout
    assert ok_json(cli("webhooks", "enable", made["id"], "--json"))["active"] is True
    assert ok_json(
        cli("users", "create", "a@example.com", "--password", "correct horse battery staple", "--json")
    )
    [delivery] = ok_json(cli("webhooks", "deliveries", "--json"))["deliveries"]
    assert (delivery["event"], delivery["status"]) == ("user.created", "pending")
    again = ok_json(cli("webhooks", "resend", str(delivery["delivery"]), "--json"))
    assert again["message_id"] == delivery["message_id"] and again["delivery"] > delivery["delivery"]
    assert ok_json(cli("webhooks", "remove", made["id"], "--json")) == {"removed": made["id"]}
    assert cli("webhooks", "list").stdout.strip() == "no endpoints"


def test_bad_input(cli: Any) -> None:  # noqa: F811
    bad_url = cli("webhooks", "add", "ftp://hooks.example/in")
    assert bad_url.exit_code == 1 and bad_url.stderr.startswith("error: callback-url:")
    unknown = cli("webhooks", "add", "https://hooks.example/in", "--event", "nope")
    assert unknown.exit_code == 1 and "unknown event 'nope'" in unknown.stderr
    missing = cli("webhooks", "remove", "0123456789abcdef")
    assert missing.exit_code == 1 and missing.stderr.strip() == "error: no such webhook endpoint"
    assert cli("webhooks", "resend", "999").stderr.strip() == "error: no such delivery"
    huge = cli("webhooks", "resend", str(10**30))
    assert huge.exit_code == 2
