"""Emails are written in the reader's language (issue 13): the language the account signed up
in or chose with the chooser; English otherwise."""

from __future__ import annotations

from collections.abc import Callable

from frontdesk.email_worker import EmailWorker
from tests.accounts.conftest import deliver
from tests.accounts.mailbox import Mailbox, html_of, text_of
from tests.support import PASSWORD, Browser

DE = {"accept-language": "de"}


async def test_a_german_account_gets_german_email(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox
) -> None:
    token = await browser.token("/signup")
    form = {"email": "dora@example.com", "password": PASSWORD, "name": "Dora", "csrf_token": token}
    assert (await browser.post("/signup", data=form, headers=DE)).status_code == 303
    await deliver(worker, mailbox, "dora@example.com")
    message = mailbox.to("dora@example.com")[0]
    assert message["Subject"] == "Bestätigen Sie Ihre E-Mail-Adresse"
    assert "Hallo Dora," in text_of(message)
    assert "Der Link funktioniert einmal und 48 Stunden lang." in text_of(message)
    assert '<html lang="de">' in html_of(message)


async def test_the_chosen_language_is_used_for_later_email(
    browser: Browser, new_browser: Callable[..., Browser], worker: EmailWorker, mailbox: Mailbox
) -> None:
    await browser.signup("eve@example.com", name="Eve")
    await deliver(worker, mailbox, "eve@example.com")
    assert mailbox.to("eve@example.com")[0]["Subject"] == "Confirm your email address"
    token = await browser.token("/account")
    chosen = await browser.post("/language", data={"locale": "de", "next": "/account", "csrf_token": token})
    assert chosen.status_code == 303
    # Asked for from another, English browser: the account's language decides.
    other = new_browser(client_ip="203.0.113.9")
    asked = await other.submit(
        "/password/forgot", {"email": "eve@example.com"}, headers={"accept-language": "en"}
    )
    assert asked.status_code == 200
    await deliver(worker, mailbox, "eve@example.com", "/password/reset")
    reset = mailbox.to("eve@example.com")[-1]
    assert reset["Subject"] == "Setzen Sie Ihr Passwort zurück"
    assert "Hallo Eve," in text_of(reset)


async def test_an_address_without_account_gets_the_page_language(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox
) -> None:
    token = await browser.token("/password/forgot")
    asked = await browser.post(
        "/password/forgot", data={"email": "nobody@example.com", "csrf_token": token}, headers=DE
    )
    assert asked.status_code == 200
    assert "Wenn es ein Konto für nobody@example.com gibt" in asked.text
    await deliver(worker, mailbox, "nobody@example.com", "/signup")
    assert mailbox.to("nobody@example.com")[0]["Subject"] == "Zurücksetzen des Passworts angefordert"
