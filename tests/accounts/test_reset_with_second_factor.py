"""A password reset link stands in for the password only: an account with two-step login is
still asked for its second factor before the browser that reset is logged in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp

from frontdesk.email_worker import EmailWorker
from frontdesk.services import accounts, second_factor
from frontdesk.store.types import utcnow
from tests.accounts.conftest import deliver, follow
from tests.accounts.mailbox import Mailbox
from tests.support import Browser, csrf_from

NEW_PASSWORD = "a brand new passphrase"


async def test_reset_still_asks_for_the_second_factor(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await browser.signup("tess@example.com")
    person = await accounts.find_by_email(db, "tess@example.com")
    assert person is not None
    raw = await second_factor.begin_totp(db, state.server_secret, person.id)
    await second_factor.confirm_totp(db, state.server_secret, person.id, pyotp.TOTP(raw).now())
    await db.commit()
    stranger: Browser = new_browser()
    assert (await stranger.submit("/password/forgot", {"email": "tess@example.com"})).status_code == 200
    path = await deliver(worker, mailbox, "tess@example.com", "/password/reset")
    done = await follow(stranger, path, {"password": NEW_PASSWORD})
    assert done.status_code == 303
    assert done.headers["location"].startswith("/login/factor?")
    assert (await stranger.get("/account")).status_code == 303  # no login yet
    page = await stranger.get(done.headers["location"])
    assert page.status_code == 200
    code = pyotp.TOTP(raw).at(utcnow() + timedelta(seconds=30))
    confirmed = await stranger.post(
        "/login/factor", data={"csrf_token": csrf_from(page.text), "kind": "totp", "code": code, "next": "/"}
    )
    assert confirmed.status_code == 303
    assert (await stranger.get("/account")).status_code == 200
