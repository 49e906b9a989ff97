"""`frontdesk serve` without a mail server (the development default, `make run`): the email
worker started with the server writes each message to the outbox folder next to the SQLite
database and prints one line with its link, and the link works."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.accounts.mailbox import link_in
from tests.e2e.conftest import Server, form_fields
from tests.support import PASSWORD, csrf_from

pytestmark = pytest.mark.e2e


def wait_for_eml(folder: Path, timeout: float = 20) -> Path:
    """The worker polls every second; wait (bounded) for its file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob("*.eml"))
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no .eml file appeared in {folder}")


def test_sign_up_writes_the_verification_email_to_the_outbox_folder(server: Server) -> None:
    with server.client() as main:
        page = main.get("/signup")
        data = {"name": "Otto", "email": "otto@example.com", "password": PASSWORD}
        signed_up = main.post("/signup", data={**data, "csrf_token": csrf_from(page.text)})
        assert signed_up.status_code == 303
        eml = wait_for_eml(server.log.parent / "outbox")
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        assert message["To"] == "otto@example.com"
        link = link_in(message)
        assert link in server.read_log()
        parts = urlsplit(link)
        page = main.get(f"{parts.path}?{parts.query}")
        assert page.status_code == 200
        fields = form_fields(page.text, "/account/verify")
        verified = main.post("/account/verify", data=fields)
        assert verified.status_code == 200
        assert "is verified" in verified.text
