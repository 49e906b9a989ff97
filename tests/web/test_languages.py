"""English and German pages (issue 13): the chooser's cookie, else the authorization request's
``ui_locales`` (OpenID Connect Core §3.1.2.1), else ``Accept-Language``, else English; the
account's language carried to another host at login; and the German catalogue keeps up with
every string marked for translation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from frontdesk import i18n
from frontdesk.services import accounts, spaces
from tests.oauth_support import authorize_params, query, register_app
from tests.support import Browser, csrf_from

ROOT = Path(__file__).resolve().parents[2]
DE = {"accept-language": "de-DE,de;q=0.9,en;q=0.5"}


async def test_a_page_is_english_without_a_preference(browser: Browser) -> None:
    page = await browser.get("/login")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "<h1>Log in</h1>" in page.text


async def test_accept_language_de_gives_german(browser: Browser) -> None:
    page = await browser.get("/login", headers=DE)
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert "<h1>Anmelden</h1>" in page.text
    assert "Passwort vergessen?" in page.text
    assert 'lang="de" selected>Deutsch</option>' in page.text


async def test_the_error_pages_are_german_too(browser: Browser) -> None:
    page = await browser.get("/no-such-page", headers=DE)
    assert page.status_code == 404
    assert "<h1>Nicht gefunden</h1>" in page.text
    assert "Unter dieser Adresse gibt es keine Seite." in page.text


async def test_the_chooser_cookie_overrides_accept_language(browser: Browser) -> None:
    token = await browser.token("/login")
    chosen = await browser.post("/language", data={"locale": "en", "next": "/login", "csrf_token": token})
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/login"
    cookie = chosen.headers["set-cookie"]
    assert cookie.startswith(f"{i18n.COOKIE}=en;") and "samesite=lax" in cookie.lower()
    page = await browser.get("/login", headers=DE)
    assert '<html lang="en">' in page.text and "<h1>Log in</h1>" in page.text
    # And the other way round: German chosen in an English browser.
    token = await browser.token("/login")
    await browser.post("/language", data={"locale": "de", "next": "/login", "csrf_token": token})
    page = await browser.get("/login", headers={"accept-language": "en"})
    assert '<html lang="de">' in page.text and "<h1>Anmelden</h1>" in page.text


async def test_the_chooser_refuses_a_forged_form(browser: Browser) -> None:
    await browser.get("/login")
    forged = await browser.post("/language", data={"locale": "de", "next": "/login", "csrf_token": "x"})
    assert forged.status_code == 403


async def test_the_chooser_ignores_a_language_not_offered(browser: Browser) -> None:
    token = await browser.token("/login")
    chosen = await browser.post("/language", data={"locale": "xx", "next": "/login", "csrf_token": token})
    assert chosen.status_code == 303
    assert "set-cookie" not in chosen.headers


async def test_ui_locales_of_the_authorization_request_gives_a_german_login_page(
    browser: Browser, state: Any, db: Any
) -> None:
    owner = await accounts.create_user(db, state.passwords, email="dev@example.com", password="s3cret-pass-1")
    app = await register_app(state, db, owner)
    asked = await browser.get("/oauth/authorize", params=authorize_params(app, ui_locales="fr de"))
    assert asked.status_code == 303
    next_url = query(asked.headers["location"])["next"]
    login = await browser.get(asked.headers["location"], headers={"accept-language": "en"})
    assert login.status_code == 200
    assert '<html lang="de">' in login.text and "<h1>Anmelden</h1>" in login.text
    # Only the pages of that request: the login page on its own stays English.
    assert "<h1>Log in</h1>" in (await browser.get("/login", headers={"accept-language": "en"})).text
    # The chooser's cookie still wins over ui_locales.
    token = await browser.token("/login")
    await browser.post("/language", data={"locale": "en", "next": "/", "csrf_token": token})
    again = await browser.get("/login", params={"next": next_url})
    assert "<h1>Log in</h1>" in again.text


async def test_signing_up_in_german_remembers_the_language(browser: Browser, state: Any, db: Any) -> None:
    token = await browser.token("/signup")
    form = {"email": "de@example.com", "password": "s3cret-pass-1", "name": "Dora", "csrf_token": token}
    signed_up = await browser.post("/signup", data=form, headers=DE)
    assert signed_up.status_code == 303
    person = await accounts.find_by_email(db, "de@example.com")
    assert person is not None
    assert await accounts.locale_for(db, person.id) == "de"
    # Choosing English while logged in changes what the account remembers.
    token = await browser.token("/")
    await browser.post("/language", data={"locale": "en", "next": "/", "csrf_token": token})
    db.expire_all()
    assert await accounts.locale_for(db, person.id) == "en"


async def test_the_account_language_follows_the_person_to_a_space_host(
    browser: Browser, new_browser: Any, state: Any, db: Any
) -> None:
    """German chosen on the main host; logging in on a space's host with an English browser
    shows that host's pages in German too, until this browser chooses otherwise there."""
    owner = await accounts.create_user(
        db, state.passwords, email="lea@example.com", password="s3cret-pass-1", name="Lea"
    )
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    assert (await browser.login("lea@example.com", "s3cret-pass-1")).status_code == 303
    token = await browser.token("/")
    await browser.post("/language", data={"locale": "de", "next": "/", "csrf_token": token})

    space: Browser = new_browser("co-up.localhost:8000")
    login = await space.get("/login", headers={"accept-language": "en"})
    assert "<h1>Log in to Co-Up</h1>" in login.text
    logged_in = await space.submit(
        "/login", {"email": "lea@example.com", "password": "s3cret-pass-1"}, headers={"accept-language": "en"}
    )
    assert logged_in.status_code == 303
    members = await space.get("/admin/members", headers={"accept-language": "en"})
    assert members.status_code == 200
    assert '<html lang="de">' in members.text and "Mitglieder von Co-Up" in members.text
    # The chooser on this host still decides for this browser, at the next login too.
    token = await space.token("/admin/members")
    await space.post("/language", data={"locale": "en", "next": "/", "csrf_token": token})
    assert "Members of Co-Up" in (await space.get("/admin/members")).text
    await space.post("/logout", data={"csrf_token": await space.token("/admin/members")})
    again = await space.submit("/login", {"email": "lea@example.com", "password": "s3cret-pass-1"})
    assert again.status_code == 303
    assert "Members of Co-Up" in (await space.get("/admin/members")).text


async def test_a_browser_in_the_accounts_language_keeps_following_ui_locales(
    browser: Browser, state: Any, db: Any
) -> None:
    """Logging in sets no language when the browser's own is the account's, even on the way
    through an authorization request whose ``ui_locales`` names another: that request's
    consent page, and the next app's, follow ``ui_locales``."""
    owner = await accounts.create_user(
        db, state.passwords, email="dev@example.com", password="s3cret-pass-1", locale="en"
    )
    app = await register_app(state, db, owner)
    asked = await browser.get("/oauth/authorize", params=authorize_params(app, ui_locales="de"))
    assert asked.status_code == 303
    login_page = asked.headers["location"]
    assert "<h1>Anmelden</h1>" in (await browser.get(login_page)).text
    logged_in = await browser.submit(
        login_page,
        {"email": "dev@example.com", "password": "s3cret-pass-1", "next": query(login_page)["next"]},
        action="/login",
    )
    assert logged_in.status_code == 303
    assert "set-cookie" not in logged_in.headers or "locale" not in logged_in.headers["set-cookie"]
    consent = await browser.get(logged_in.headers["location"])
    assert consent.status_code == 200
    assert '<html lang="de">' in consent.text
    again = await browser.get("/oauth/authorize", params=authorize_params(app, ui_locales="de"))
    assert again.status_code == 200
    assert '<html lang="de">' in again.text


def _key(message: str | tuple[str, ...]) -> str:
    """A msgid, or a plural entry's singular."""
    return message if isinstance(message, str) else message[0]


def _extracted_msgids() -> set[str]:
    method_map, options_map = parse_mapping_cfg((ROOT / "babel.cfg").open())
    found = extract_from_dir(
        str(ROOT / "src" / "frontdesk"),
        method_map,
        options_map,
        keywords={"N_": None, "_": None, "gettext": None, "ngettext": (1, 2)},
    )
    return {_key(message) for _filename, _lineno, message, _comments, _context in found if _key(message)}


def _translated(string: str | tuple[str, ...] | None) -> bool:
    return bool(string) and (isinstance(string, str) or all(string))


def test_every_marked_string_is_in_the_catalogue_and_translated_to_german() -> None:
    template = read_po((i18n.LOCALE_DIR / "messages.pot").open("rb"))
    german = read_po(i18n.catalogue_path("de").open("rb"), locale="de")
    in_template = {_key(m.id) for m in template if m.id}
    # `make messages` has been run since the last marked string changed.
    assert _extracted_msgids() - in_template == set()
    untranslated = sorted(m for m in in_template if not _translated(german.get(m) and german.get(m).string))
    assert untranslated == []
    assert i18n.gettext("de", "Log in") == "Anmelden"
    assert i18n.ngettext("de", "%(count)s token", "%(count)s tokens", 2) == "%(count)s Tokens"


async def test_form_errors_and_notices_follow_the_language(browser: Browser, state: Any, db: Any) -> None:
    await accounts.create_user(db, state.passwords, email="kim@example.com", password="s3cret-pass-1")
    await db.commit()
    token = await browser.token("/login")
    form = {"email": "kim@example.com", "password": "wrong-password-1", "csrf_token": token}
    wrong = await browser.post("/login", data=form, headers=DE)
    assert wrong.status_code == 401
    assert "E-Mail-Adresse oder Passwort falsch." in wrong.text
    taken = await browser.submit(
        "/signup", {"email": "kim@example.com", "password": "s3cret-pass-2", "name": "Kim"}, headers=DE
    )
    assert taken.status_code == 422
    assert "Es gibt schon ein Konto mit dieser E-Mail-Adresse." in taken.text


async def test_the_consent_page_and_its_scopes_in_german(browser: Browser, state: Any, db: Any) -> None:
    owner = await accounts.create_user(db, state.passwords, email="dev@example.com", password="s3cret-pass-1")
    app = await register_app(state, db, owner, scopes="read_user")
    await browser.signup("lea@example.com", name="Lea")
    page = await browser.get("/oauth/authorize", params=authorize_params(app, scope="read_user"), headers=DE)
    assert page.status_code == 200
    assert "Test App möchte Zugriff" in page.text
    assert "Ihren Namen, Ihre E-Mail-Adresse und Ihre Spaces sehen" in page.text
    assert ">Erlauben</button>" in page.text


async def test_a_form_error_with_a_value_is_german(browser: Browser) -> None:
    """A FieldError built from a template with values (services/accounts.clean_name): the page
    translates the template, then fills in the number."""
    too_long = await browser.submit(
        "/signup", {"email": "lea@example.com", "password": "s3cret-pass-1", "name": "L" * 201}, headers=DE
    )
    assert too_long.status_code == 422
    assert "Verwenden Sie höchstens 200 Zeichen." in too_long.text
    assert "Use at most" not in too_long.text
    short = await browser.submit(
        "/signup", {"email": "lea@example.com", "password": "kurz", "name": "Lea"}, headers=DE
    )
    assert short.status_code == 422
    assert "Verwenden Sie mindestens 8 Zeichen." in short.text


@pytest.mark.parametrize("settings_overrides", [{"signup_rate_limit": "1/hour"}])
async def test_a_throttled_sign_up_says_how_long_to_wait_in_german(
    browser: Browser, new_browser: Any
) -> None:
    await new_browser().signup("first@example.com")
    refused = await browser.submit(
        "/signup", {"email": "second@example.com", "password": "s3cret-pass-1", "name": "Zweite"}, headers=DE
    )
    assert refused.status_code == 429
    assert (
        "Zu viele Registrierungen von Ihrer Adresse. Versuchen Sie es in 60 Minuten erneut." in refused.text
    )
    # The same refusal in English is unchanged.
    english = await browser.submit(
        "/signup", {"email": "second@example.com", "password": "s3cret-pass-1", "name": "Second"}
    )
    assert english.status_code == 429
    assert "Too many sign-ups from your address. Try again in 60 minutes." in english.text


async def test_a_notice_with_a_value_is_german(browser: Browser) -> None:
    """A flash notice with a number in it (signing out everywhere, revoking every app's access)
    is shown in the language of the browser that asked for it."""
    await browser.signup("lea@example.com", name="Lea")
    shown = await browser.get("/account/sessions", headers=DE)
    assert shown.status_code == 200
    form = shown.text.split('action="/account/sessions/end-all"', 1)[1]
    ended = await browser.post(
        "/account/sessions/end-all",
        data={"csrf_token": csrf_from(form), "revoke_tokens": "1"},
        headers=DE,
    )
    assert ended.status_code == 303
    login = await browser.get(ended.headers["location"], headers=DE)
    assert login.status_code == 200
    assert (
        "Sie wurden überall abgemeldet. Der Zugriff aller Apps wurde widerrufen (0 Zugriffstokens)."
        in login.text
    )


async def test_the_sessions_page_names_device_and_place_in_german(browser: Browser) -> None:
    """The words the server composes for a session (its device, an unknown place, the sign-out
    button's label) follow the page's language too."""
    await browser.signup("ida@example.com", name="Ida")
    shown = await browser.get("/account/sessions", headers=DE)
    assert shown.status_code == 200
    assert '<td data-label="Ort">unbekannt</td>' in shown.text
    assert "abmelden (dieses Gerät)" in shown.text
    english = await browser.get("/account/sessions")
    assert '<td data-label="Place">unknown</td>' in english.text
