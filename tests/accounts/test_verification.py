"""Sign-up sends a verification link over SMTP (a real server receives it); the link works
once, expires, and makes ``email_verified`` true in ID tokens and userinfo."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from frontdesk.email_worker import EmailWorker
from frontdesk.services import accounts
from frontdesk.store.models import EmailLink, EmailMessage
from frontdesk.store.types import utcnow
from tests.accounts.conftest import deliver, follow
from tests.accounts.mailbox import Mailbox, html_of, text_of
from tests.oauth_support import bearer, code_token, register_app
from tests.support import Browser


async def test_sign_up_sends_a_link_that_verifies_the_address(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox
) -> None:
    await browser.signup("ada@example.com", name="Ada Lovelace")
    account = await browser.get("/account")
    assert 'id="email-status" class="error">(not verified)' in account.text
    path = await deliver(worker, mailbox, "ada@example.com")
    message = mailbox.to("ada@example.com")[0]
    assert message["Subject"] == "Confirm your email address"
    assert message["From"] == "Frontdesk <frontdesk@example.com>"
    assert "Hello Ada Lovelace," in text_of(message) and "48 hours" in text_of(message)
    assert "<!doctype html>" in html_of(message)
    assert path.startswith("/account/verify?token=fdel_")
    done = await follow(browser, path, {})
    assert done.status_code == 200
    assert 'id="email-verified"' in done.text
    assert 'id="email-status">(verified)' in (await browser.get("/account")).text


async def test_the_link_works_once(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox
) -> None:
    await browser.signup("once@example.com")
    path = await deliver(worker, mailbox, "once@example.com")
    assert (await follow(browser, path, {})).status_code == 200
    # Opened again (in any browser): used already.
    again = await new_browser().get(path)
    assert again.status_code == 410
    assert "used already" in again.text


async def test_an_expired_link_is_refused(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox, db: Any
) -> None:
    await browser.signup("late@example.com")
    path = await deliver(worker, mailbox, "late@example.com")
    await db.execute(update(EmailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    page = await browser.get(path)
    assert page.status_code == 410
    assert "expired" in page.text
    assert 'id="email-status" class="error">(not verified)' in (await browser.get("/account")).text


async def test_a_made_up_link_is_refused(browser: Browser) -> None:
    page = await browser.get("/account/verify?token=fdel_not-a-real-token")
    assert page.status_code == 404
    assert "not valid" in page.text


async def test_nothing_secret_is_stored_in_plaintext(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox, db: Any
) -> None:
    await browser.signup("sealed@example.com")
    queued = (await db.execute(select(EmailMessage))).scalar_one()
    link_row = (await db.execute(select(EmailLink))).scalar_one()
    path = await deliver(worker, mailbox, "sealed@example.com")
    token = path.split("token=", 1)[1]
    assert token not in queued.context_sealed and "fdel_" not in queued.context_sealed
    assert token != link_row.id and "fdel_" not in link_row.id
    await db.refresh(queued)
    assert queued.status == "sent"
    assert queued.context_sealed == ""  # the link is not kept once sent


async def id_token_claims(b: Browser, id_token: str) -> dict[str, Any]:
    keys = await b.get("/jwks.json")
    assert keys.status_code == 200
    key_set = KeySet.import_key_set(keys.json())
    return dict(jwt.decode(id_token, key_set, algorithms=["RS256"]).claims)


async def test_email_verified_claim_follows_verification(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await browser.signup("claims@example.com", name="Claire")
    person = await accounts.find_by_email(db, "claims@example.com")
    assert person is not None
    app = await register_app(state, db, person, scopes="read_user openid email")
    before = await code_token(browser, app, scope="openid email")
    info = await browser.get("/api/userinfo", headers=bearer(before["access_token"]))
    assert info.status_code == 200
    assert info.json()["email_verified"] is False
    assert (await id_token_claims(browser, before["id_token"]))["email_verified"] is False
    path = await deliver(worker, mailbox, "claims@example.com")
    assert (await follow(browser, path, {})).status_code == 200
    after = await code_token(browser, app, scope="openid email")
    info = await browser.get("/api/userinfo", headers=bearer(after["access_token"]))
    assert info.json()["email_verified"] is True
    assert (await id_token_claims(browser, after["id_token"]))["email_verified"] is True
