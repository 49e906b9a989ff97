"""The development default (no SMTP host): each message becomes an .eml file in the outbox
folder (next to the SQLite database unless configured) and one line names its link."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from frontdesk.email_worker import EmailWorker
from frontdesk.settings import Settings
from tests.accounts.conftest import follow, local_path
from tests.accounts.mailbox import link_in
from tests.support import Browser


@pytest.fixture
def settings_overrides(database_url: str, tmp_path: Path) -> dict[str, Any]:
    # SQLite: the default place (next to the database file); PostgreSQL has no such file, and
    # the default there (./outbox) is not the tests' to write to.
    return {} if database_url.startswith("sqlite") else {"email_outbox_dir": tmp_path / "pg-outbox"}


def test_the_default_folder_is_next_to_the_sqlite_database(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/data/fd.db")  # type: ignore[call-arg]
    assert settings.smtp_host is None
    assert settings.outbox_dir() == tmp_path / "data" / "outbox"


async def test_messages_are_written_to_the_folder_with_their_link_on_the_console(
    browser: Browser, state: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings: Settings = state.settings
    folder = settings.outbox_dir()
    await browser.signup("dev@example.com")
    assert await EmailWorker(state.db, settings).run_once() is True
    (eml,) = folder.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "dev@example.com"
    link = link_in(message)
    lines = [line for line in capsys.readouterr().err.splitlines() if "dev@example.com" in line]
    assert len(lines) == 1
    assert link in lines[0] and str(eml) in lines[0]
    assert (await follow(browser, local_path(link), {})).status_code == 200
