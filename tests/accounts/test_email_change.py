"""Changing the email address on /account: the current password is required, a link goes to
the new address (a real SMTP server receives it) and a notice to the old one; the address
changes, verified, only when the link is used; a taken address is refused at request and at
use; ``user.updated`` reaches webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from frontdesk.email_worker import EmailWorker
from frontdesk.services import webhooks
from frontdesk.store.models import EmailLink
from frontdesk.store.types import utcnow
from frontdesk.webhook_worker import WebhookWorker
from tests.accounts.conftest import deliver, follow
from tests.accounts.mailbox import Mailbox, link_in, text_of
from tests.support import PASSWORD, Browser
from tests.webhooks.receiver import Receiver

CONFIRM = "/account/email/confirm"


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_security": "none",
        "email_from": "Frontdesk <frontdesk@example.com>",
        "webhooks_allow_private": True,
        "webhooks_timeout_seconds": 2,
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def ask(browser: Browser, new_email: str, password: str = PASSWORD) -> Any:
    return await browser.submit(
        "/account", {"new_email": new_email, "email_password": password}, action="/account/email"
    )


async def test_the_new_address_is_confirmed_by_the_link_and_the_old_one_is_told(
    browser: Browser,
    new_browser: Any,
    worker: EmailWorker,
    mailbox: Mailbox,
    state: Any,
    db: Any,
    receiver: Receiver,
) -> None:
    await browser.signup("old@example.com", name="Ada Lovelace")
    _endpoint, receiver.secret = await webhooks.create_endpoint(
        db, state.server_secret, state.settings, url=receiver.url, event_types=["user.updated"]
    )
    await db.commit()
    asked = await ask(browser, "New@Example.com")
    assert asked.status_code == 303
    shown = (await browser.get("/account")).text
    assert "We sent a link to New@example.com" in shown
    path = await deliver(worker, mailbox, "New@example.com", CONFIRM)
    [sent] = mailbox.to("New@example.com")
    assert sent["Subject"] == "Confirm your new email address"
    assert "24 hours" in text_of(sent)
    # Besides the sign-up's verification message (the same round; any order):
    [notice] = [m for m in mailbox.to("old@example.com") if "change" in m["Subject"]]
    assert notice["Subject"] == "Your email address is about to change"
    assert "New@example.com" in text_of(notice)
    assert link_in(notice) == "http://localhost:8000/password/forgot"  # help, and no change link
    # Nothing changed yet: the old address still logs in, the new one does not.
    assert (await new_browser().login("New@example.com")).status_code == 401
    # Opened in another browser (no login needed): a form; only its POST uses the link.
    other = new_browser()
    page = await other.get(path)
    assert page.status_code == 200
    assert 'id="new-email">New@example.com<' in page.text
    done = await follow(other, path, {})
    assert done.status_code == 200
    assert 'id="email-changed"' in done.text
    account = (await browser.get("/account")).text
    assert "<strong>New@example.com</strong>" in account
    assert 'id="email-status">(verified)' in account
    assert (await new_browser().login("old@example.com")).status_code == 401
    assert (await new_browser().login("new@example.com")).status_code == 303
    # Used once.
    assert (await new_browser().get(path)).status_code == 410
    # user.updated went to the webhook endpoint, through the one recorder.
    sender = WebhookWorker(state.db, state.settings)
    try:
        while await sender.run_once():
            pass
    finally:
        await sender.stop()
    assert receiver.rejected == []
    assert [m["type"] for m in receiver.received] == ["user.updated"]
    activity = (await browser.get("/account/activity")).text
    assert "Asked to change the email address" in activity and "Account changed" in activity


async def test_the_current_password_is_required(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox
) -> None:
    await browser.signup("pw@example.com")
    wrong = await ask(browser, "elsewhere@example.com", password="not my password")
    assert wrong.status_code == 422
    assert "That is not your current password." in wrong.text
    assert await worker.run_once() is True  # the sign-up's verification message only
    assert mailbox.to("elsewhere@example.com") == []


async def test_a_taken_address_is_refused_like_at_sign_up(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox
) -> None:
    await new_browser().signup("taken@example.com")
    await browser.signup("mine@example.com")
    refused = await ask(browser, "TAKEN@example.com")
    assert refused.status_code == 422
    assert "An account with this email address already exists." in refused.text
    same = await ask(browser, "mine@example.com")
    assert same.status_code == 422
    assert "That is your address already." in same.text


async def test_an_address_taken_after_the_request_is_refused_when_the_link_is_used(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox
) -> None:
    await browser.signup("first@example.com")
    assert (await ask(browser, "race@example.com")).status_code == 303
    path = await deliver(worker, mailbox, "race@example.com", CONFIRM)
    await new_browser().signup("race@example.com")  # someone else signs up with it meanwhile
    refused = await follow(browser, path, {})
    assert refused.status_code == 409
    assert "An account with this email address already exists." in refused.text
    assert "<strong>first@example.com</strong>" in (await browser.get("/account")).text


async def test_a_newer_request_or_a_password_reset_voids_the_link(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, db: Any
) -> None:
    await browser.signup("voids@example.com")
    assert (await ask(browser, "one@example.com")).status_code == 303
    first = await deliver(worker, mailbox, "one@example.com", CONFIRM)
    assert (await ask(browser, "two@example.com")).status_code == 303
    second = await deliver(worker, mailbox, "two@example.com", CONFIRM)
    assert (await browser.get(first)).status_code == 410
    assert (await browser.get(second)).status_code == 200
    # The notice says a password reset cancels the change: it does.
    asked = await new_browser().submit("/password/forgot", {"email": "voids@example.com"})
    assert asked.status_code == 200
    reset = await deliver(worker, mailbox, "voids@example.com", "/password/reset")
    assert (await follow(new_browser(), reset, {"password": "a brand new password 42"})).status_code == 303
    assert (await browser.get(second)).status_code == 410


async def test_an_expired_link_changes_nothing(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox, db: Any
) -> None:
    await browser.signup("slow@example.com")
    assert (await ask(browser, "later@example.com")).status_code == 303
    path = await deliver(worker, mailbox, "later@example.com", CONFIRM)
    await db.execute(update(EmailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    page = await browser.get(path)
    assert page.status_code == 410
    assert "expired" in page.text
    assert "<strong>slow@example.com</strong>" in (await browser.get("/account")).text
