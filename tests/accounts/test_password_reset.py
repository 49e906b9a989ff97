"""Forgot password: the same answer for known and unknown addresses, a single-use link valid
for an hour (received by a real SMTP server), every other session ended, apps signed out only
when asked; and changing the password on the account page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from frontdesk.email_worker import EmailWorker
from frontdesk.services import accounts
from frontdesk.store.models import EmailLink, EmailMessage
from frontdesk.store.types import utcnow
from tests.accounts.conftest import deliver, follow
from tests.accounts.mailbox import Mailbox, text_of
from tests.oauth_support import api_status, code_token, register_app
from tests.support import PASSWORD, Browser

NEW_PASSWORD = "a brand new passphrase"
RESET = "/password/reset"


def same_page(html: str, email: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html.replace(email, "X"))


async def forgot(b: Browser, email: str) -> Any:
    return await b.submit("/password/forgot", {"email": email})


async def test_the_login_page_links_to_forgot_password(browser: Browser) -> None:
    page = await browser.get("/login")
    assert 'href="/password/forgot"' in page.text
    assert (await browser.get("/password/forgot")).status_code == 200


async def test_same_answer_for_known_and_unknown_addresses(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, db: Any
) -> None:
    await browser.signup("known@example.com")
    await worker.run_once()  # the verification email
    known = await forgot(new_browser(client_ip="203.0.113.1"), "known@example.com")
    unknown = await forgot(new_browser(client_ip="203.0.113.2"), "unknown@example.com")
    assert known.status_code == 200
    assert unknown.status_code == 200
    # The pages differ only in the address (and each browser's own anti-forgery token).
    assert same_page(known.text, "known@example.com") == same_page(unknown.text, "unknown@example.com")
    # The same work: one queued message each (a link, or a note that there is no account).
    queued = (await db.execute(select(func.count()).select_from(EmailMessage))).scalar_one()
    assert queued == 3
    assert await worker.run_once() is True
    (to_known,) = [m for m in mailbox.to("known@example.com") if m["Subject"] == "Reset your password"]
    assert "/password/reset?token=fdel_" in text_of(to_known)
    (to_unknown,) = mailbox.to("unknown@example.com")
    assert "no account with this address" in text_of(to_unknown)
    assert "token=" not in text_of(to_unknown)


async def test_reset_sets_the_password_and_ends_other_sessions_but_keeps_apps(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await browser.signup("rita@example.com")
    person = await accounts.find_by_email(db, "rita@example.com")
    assert person is not None
    app = await register_app(state, db, person)
    token = (await code_token(browser, app))["access_token"]
    stranger = new_browser()
    assert (await forgot(stranger, "rita@example.com")).status_code == 200
    path = await deliver(worker, mailbox, "rita@example.com", RESET)
    assert path.startswith("/password/reset?token=")
    done = await follow(stranger, path, {"password": NEW_PASSWORD})
    assert done.status_code == 303
    # The browser that reset is logged in; the other session ended; the app keeps its token.
    assert "rita@example.com" in (await stranger.get("/account")).text
    assert (await browser.get("/account")).status_code == 303
    assert await api_status(browser, token) == 200
    assert (await new_browser().login("rita@example.com", PASSWORD)).status_code == 401
    assert (await new_browser().login("rita@example.com", NEW_PASSWORD)).status_code == 303
    # Used once: the link is dead now.
    again = await stranger.get(path)
    assert again.status_code == 410


async def test_reset_can_also_sign_out_every_app(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await browser.signup("sam@example.com")
    person = await accounts.find_by_email(db, "sam@example.com")
    assert person is not None
    app = await register_app(state, db, person)
    token = (await code_token(browser, app))["access_token"]
    other = new_browser()
    await forgot(other, "sam@example.com")
    path = await deliver(worker, mailbox, "sam@example.com", RESET)
    done = await follow(other, path, {"password": NEW_PASSWORD, "sign_out_apps": "1"})
    assert done.status_code == 303
    assert await api_status(browser, token) == 401


async def test_a_weak_password_is_refused_and_the_link_stays_usable(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox
) -> None:
    await browser.signup("weak@example.com")
    await forgot(browser, "weak@example.com")
    path = await deliver(worker, mailbox, "weak@example.com", RESET)
    weak = await follow(browser, path, {"password": "short"})
    assert weak.status_code == 422
    assert 'id="e-password"' in weak.text
    assert (await follow(browser, path, {"password": NEW_PASSWORD})).status_code == 303


async def test_a_reset_link_expires_after_an_hour(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, db: Any
) -> None:
    await browser.signup("hour@example.com")
    await forgot(browser, "hour@example.com")
    path = await deliver(worker, mailbox, "hour@example.com", RESET)
    link = (await db.execute(select(EmailLink).where(EmailLink.purpose == "reset"))).scalar_one()
    assert timedelta(minutes=59) < link.expires_at - link.created_at <= timedelta(hours=1)
    await db.execute(update(EmailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    page = await browser.get(path)
    assert page.status_code == 410
    token = path.split("token=", 1)[1]
    posted = await browser.submit(
        "/password/forgot", {"token": token, "password": NEW_PASSWORD}, action="/password/reset"
    )
    assert posted.status_code == 410, posted.text
    assert (await new_browser().login("hour@example.com", NEW_PASSWORD)).status_code == 401


async def test_change_password_needs_the_current_one_and_ends_other_sessions(
    browser: Browser, new_browser: Any
) -> None:
    await browser.signup("cam@example.com")
    elsewhere = new_browser()
    assert (await elsewhere.login("cam@example.com")).status_code == 303
    wrong = await browser.submit(
        "/account",
        {"current_password": "not my password", "password": NEW_PASSWORD},
        action="/account/password",
    )
    assert wrong.status_code == 422
    assert 'id="e-current_password"' in wrong.text
    changed = await browser.submit(
        "/account", {"current_password": PASSWORD, "password": NEW_PASSWORD}, action="/account/password"
    )
    assert changed.status_code == 303
    assert (await browser.get("/account")).status_code == 200
    assert (await elsewhere.get("/account")).status_code == 303
    assert (await new_browser().login("cam@example.com", NEW_PASSWORD)).status_code == 303
