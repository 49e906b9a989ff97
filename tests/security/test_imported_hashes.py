"""Accounts imported with another system's password hash (issue 12 §3, docs/integrating.md
"Importing users"): bcrypt as Devise and Django write it, PBKDF2-SHA256 as Django writes it,
Argon2 in PHC form and Django's. Each logs in through the real login form and the password
grant, a wrong password is refused, and the stored hash becomes our Argon2id at the first
successful login. Test hashes are made with libpass (the library Frontdesk verifies with)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import extract_parameters
from passlib.hash import (
    argon2,
    bcrypt,
    django_argon2,
    django_bcrypt,
    django_bcrypt_sha256,
    django_pbkdf2_sha256,
)

from frontdesk.errors import FieldError
from frontdesk.security.passwords import (
    MAX_BCRYPT_COST,
    NO_PASSWORD,
    HashingBusy,
    Passwords,
    UnsupportedHash,
    hash_scheme,
)
from frontdesk.services import accounts
from frontdesk.store.models import User
from tests.oauth_support import password_grant, register_app
from tests.support import Browser

SECRET = "imported password 1"
LONG = "é" * 40  # 80 bytes of UTF-8: past bcrypt's 72

# The forms each system writes, at low cost so tests stay quick.
FORMS: dict[str, Callable[[str], str]] = {
    # Devise: Ruby's bcrypt, "$2a$", no pepper.
    "devise_bcrypt": lambda pw: bcrypt.using(rounds=4, ident="2a").hash(pw),
    # Django's BCryptSHA256PasswordHasher and BCryptPasswordHasher.
    "django_bcrypt_sha256": lambda pw: django_bcrypt_sha256.using(rounds=4).hash(pw),
    "django_bcrypt": lambda pw: django_bcrypt.using(rounds=4).hash(pw),
    # Django's default PBKDF2PasswordHasher.
    "django_pbkdf2_sha256": lambda pw: django_pbkdf2_sha256.using(rounds=1000).hash(pw),
    # Argon2 in PHC form with other parameters than ours, and another variant.
    "argon2id_phc": lambda pw: argon2.using(type="ID", rounds=2, memory_cost=256, parallelism=2).hash(pw),
    "argon2i_phc": lambda pw: argon2.using(type="I", rounds=1, memory_cost=128, parallelism=1).hash(pw),
    # Django's Argon2PasswordHasher: "argon2" before the PHC string.
    "django_argon2": lambda pw: django_argon2.using(rounds=1, memory_cost=128, parallelism=1).hash(pw),
}


async def _import(state: Any, db: Any, email: str, stored: str) -> Any:
    person = await accounts.create_user(
        db, state.passwords, email=email, name="Imported", password_hash=stored
    )
    await db.commit()
    return person


async def _stored(state: Any, user_id: str) -> str:
    async with state.db.session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return str(user.password_hash)


async def _assert_ours(state: Any, user_id: str, password: str) -> None:
    """The stored hash is Frontdesk's Argon2id, with the configured parameters."""
    stored = await _stored(state, user_id)
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert (params.memory_cost, params.time_cost, params.parallelism) == (64, 1, 1)
    assert await state.passwords.verify(stored, password) == (True, False)


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_imported_hash_logs_in_by_form_and_is_rehashed(
    form: str, app: Any, state: Any, db: Any, browser: Browser
) -> None:
    stored = FORMS[form](SECRET)
    person = await _import(state, db, "ann@example.com", stored)
    assert await _stored(state, person.id) == stored

    wrong = await browser.login("ann@example.com", "not the password")
    assert wrong.status_code == 401
    assert await _stored(state, person.id) == stored  # a failure changes nothing

    right = await browser.login("ANN@example.com", SECRET)
    assert right.status_code == 303
    await _assert_ours(state, person.id, SECRET)

    # Logged out, the same password still works against the new hash.
    async with Browser(app) as again:
        assert (await again.login("ann@example.com", SECRET)).status_code == 303


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_imported_hash_works_with_the_password_grant(
    form: str, state: Any, db: Any, browser: Browser
) -> None:
    person = await _import(state, db, "pat@example.com", FORMS[form](SECRET))
    owner = await accounts.create_user(
        db, state.passwords, email="dev@example.com", password="dev-password-1"
    )
    await db.commit()
    app = await register_app(state, db, owner)

    refused = await password_grant(browser, app, username="pat@example.com", password="wrong password")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"

    granted = await password_grant(browser, app, username="pat@example.com", password=SECRET)
    assert granted.status_code == 200, granted.text
    me = await browser.get("/api/user", headers={"Authorization": f"Bearer {granted.json()['access_token']}"})
    assert me.json()["email"] == "pat@example.com"
    await _assert_ours(state, person.id, SECRET)


@pytest.mark.parametrize("form", ["devise_bcrypt", "django_bcrypt"])
async def test_bcrypt_checks_the_72_bytes_those_systems_hashed(form: str, passwords: Passwords) -> None:
    """Ruby's bcrypt and older Python bcrypt hashed the first 72 bytes of a longer password;
    the same password must log in (bcrypt 5 refuses longer input outright)."""
    stored = FORMS[form](LONG.encode()[:72].decode("utf-8", errors="ignore"))
    assert await passwords.verify(stored, LONG) == (True, True)
    assert await passwords.verify(stored, "é" * 35) == (False, False)


@pytest.mark.parametrize("settings_overrides", [{"import_bcrypt_pepper": "devise-pepper-value"}])
async def test_devise_pepper_from_the_settings(state: Any, db: Any, browser: Browser) -> None:
    """Devise with ``config.pepper`` hashes password + pepper."""
    person = await _import(
        state, db, "ann@example.com", bcrypt.using(rounds=4).hash(SECRET + "devise-pepper-value")
    )
    assert (await browser.login("ann@example.com", SECRET + "devise-pepper-value")).status_code == 401
    assert (await browser.login("ann@example.com", SECRET)).status_code == 303
    await _assert_ours(state, person.id, SECRET)


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("md5$salt$5f4dcc3b5aa765d61d8327deb882cf99", "unsupported hash format"),
        ("sha1$salt$2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "unsupported hash format"),
        ("plain text password", "unsupported hash format"),
        ("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "unsupported hash format"),  # md5-crypt
        ("$2a$04$short", "malformed bcrypt hash"),
        ("pbkdf2_sha256$many$salt$hash", "malformed django_pbkdf2_sha256 hash"),
        ("$argon2id$v=19$m=oops", "malformed Argon2 hash"),
        (NO_PASSWORD, "unsupported hash format"),
        ("", "empty hash"),
        ("$2b$" + "x" * 300, "longer than 256 characters"),
    ],
)
async def test_unsupported_hashes_are_refused_at_import(
    stored: str, reason: str, state: Any, db: Any
) -> None:
    with pytest.raises(FieldError) as caught:
        await accounts.create_user(db, state.passwords, email="ann@example.com", password_hash=stored)
    assert caught.value.field == "password_hash"
    assert reason in caught.value.message
    assert await accounts.find_by_email(db, "ann@example.com") is None


def test_costs_that_would_stall_logins_are_refused() -> None:
    """An imported hash cannot make one login run for seconds or take gigabytes."""
    costly = bcrypt.using(rounds=4).hash(SECRET).replace("$04$", f"${MAX_BCRYPT_COST + 1}$", 1)
    with pytest.raises(UnsupportedHash, match="bcrypt cost 15"):
        hash_scheme(costly)
    pbkdf2 = django_pbkdf2_sha256.using(rounds=1000).hash(SECRET).replace("$1000$", "$50000000$", 1)
    with pytest.raises(UnsupportedHash, match="PBKDF2 iterations 50000000"):
        hash_scheme(pbkdf2)
    big = argon2.using(type="ID", rounds=1, memory_cost=256).hash(SECRET).replace("m=256", "m=4194304", 1)
    with pytest.raises(UnsupportedHash, match="Argon2 cost m=4194304"):
        hash_scheme(big)


async def test_costly_hash_already_stored_never_runs(passwords: Passwords) -> None:
    """A value written to the column some other way is refused at login too, without work."""
    costly = django_pbkdf2_sha256.using(rounds=1000).hash(SECRET).replace("$1000$", "$900000000$", 1)
    assert await passwords.verify(costly, SECRET) == (False, False)


async def test_password_and_hash_are_exclusive(state: Any, db: Any) -> None:
    with pytest.raises(FieldError) as caught:
        await accounts.create_user(
            db,
            state.passwords,
            email="ann@example.com",
            password=SECRET,
            password_hash=FORMS["devise_bcrypt"](SECRET),
        )
    assert caught.value.field == "password_hash"


async def test_account_without_password_cannot_log_in_until_one_is_set(
    state: Any, db: Any, browser: Browser
) -> None:
    person = await accounts.create_user(db, state.passwords, email="ann@example.com", name="Ann")
    await db.commit()
    assert (await browser.login("ann@example.com", NO_PASSWORD)).status_code == 401
    assert (await browser.login("ann@example.com", "")).status_code == 401
    await accounts.set_password(db, state.passwords, person.id, SECRET)
    await db.commit()
    assert (await browser.login("ann@example.com", SECRET)).status_code == 303


async def test_imported_hashes_use_the_bounded_pool() -> None:
    """Checking an imported hash waits in the same capped queue as Argon2: beyond the limit
    callers are turned away at once (security/passwords.py)."""
    pool = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=1, queue_limit=1)
    stored = django_pbkdf2_sha256.using(rounds=200_000).hash(SECRET)
    first = asyncio.ensure_future(pool.verify(stored, SECRET))
    await asyncio.sleep(0)  # the first check is now waiting on the pool
    with pytest.raises(HashingBusy):
        await pool.verify(FORMS["devise_bcrypt"](SECRET), SECRET)
    assert await first == (True, True)
