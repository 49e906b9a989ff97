"""Account email tests: a real SMTP server (tests/accounts/mailbox.py) that the app sends to,
and the email worker driven round by round (not as a background task, so each test decides
when messages leave)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from frontdesk.email_worker import EmailWorker
from tests.accounts.mailbox import Mailbox, link_in
from tests.support import Browser


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_security": "none",
        "email_from": "Frontdesk <frontdesk@example.com>",
    }


@pytest.fixture
async def worker(state: Any) -> AsyncIterator[EmailWorker]:
    made = EmailWorker(state.db, state.settings)
    yield made
    await made.stop()


def local_path(link: str) -> str:
    """The path and query of a link to this deployment (the test browsers speak ASGI)."""
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == "http://localhost:8000", link
    return f"{parts.path}?{parts.query}"


async def deliver(worker: EmailWorker, mailbox: Mailbox, to: str, path: str = "/account/verify") -> str:
    """Send what is due and return the link to ``path`` in the newest such message to ``to``
    (messages sent in one round arrive in any order)."""
    assert await worker.run_once() is True
    links = [local_path(link_in(m)) for m in mailbox.to(to)]
    wanted = [link for link in links if link.startswith(path + "?")]
    assert wanted, f"no link to {path} sent to {to}: {links}"
    return wanted[-1]


async def follow(browser: Browser, path: str, data: dict[str, str]) -> Any:
    """Open an emailed link's page, then submit its form (with the page's token fields)."""
    from tests.support import csrf_from

    page = await browser.get(path)
    assert page.status_code == 200, page.text
    token = path.split("token=", 1)[1]
    action = path.split("?", 1)[0]
    return await browser.post(action, data={"csrf_token": csrf_from(page.text), "token": token, **data})
