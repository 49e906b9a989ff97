"""Sign-up, login, logout, sessions and their cookies, and anti-forgery on every form."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.store.models import LoginSession, User
from tests.support import PASSWORD, Browser, csrf_from


async def test_sign_up_logs_in_and_shows_dashboard(browser: Browser) -> None:
    response = await browser.signup("ada@example.com", name="Ada Lovelace")
    assert response.headers["location"] == "/"
    page = await browser.get("/")
    assert "Hello, Ada Lovelace" in page.text


async def test_sign_up_errors_show_next_to_the_field(browser: Browser) -> None:
    response = await browser.submit("/signup", {"email": "not-an-email", "password": PASSWORD, "name": "X"})
    assert response.status_code == 422
    assert 'id="e-email"' in response.text and 'value="not-an-email"' in response.text
    response = await browser.submit("/signup", {"email": "x@example.com", "password": "short", "name": "X"})
    assert response.status_code == 422 and 'id="e-password"' in response.text


async def test_emails_are_unique_case_insensitively(browser: Browser, new_browser: Any) -> None:
    await browser.signup("Grace@Example.com")
    other = new_browser()
    response = await other.submit(
        "/signup", {"email": "grace@EXAMPLE.COM", "password": PASSWORD, "name": "G"}
    )
    assert response.status_code == 422 and "already exists" in response.text
    # and logging in works with any casing
    assert (await other.login("GRACE@example.com")).status_code == 303


async def test_user_ids_are_opaque_not_the_email(browser: Browser, db: Any) -> None:
    await browser.signup("opaque@example.com")
    user = (await db.execute(select(User))).scalar_one()
    assert len(user.id) == 32 and "opaque" not in user.id
    assert user.password_hash.startswith("$argon2id$")


async def test_login_and_logout(browser: Browser, new_browser: Any) -> None:
    await browser.signup("lin@example.com")
    other = new_browser()
    assert (await other.login("lin@example.com", "wrong password")).status_code == 401
    response = await other.login("lin@example.com")
    assert response.status_code == 303
    cookie = other.http.cookies.get("frontdesk_session")
    assert cookie
    response = await other.submit("/", {}, action="/logout")
    assert response.status_code == 303
    assert "Log in" in (await other.get("/")).text
    # The old cookie is dead on the server, not just forgotten by the browser.
    replay = new_browser()
    replay.http.cookies.set("frontdesk_session", cookie)
    assert "Hello" not in (await replay.get("/")).text


async def test_wrong_password_and_unknown_user_look_the_same(browser: Browser, new_browser: Any) -> None:
    await browser.signup("same@example.com")
    a = await new_browser().login("same@example.com", "not the password")
    b = await new_browser().login("nobody@example.com", "not the password")
    assert a.status_code == b.status_code == 401
    assert "Wrong email or password." in a.text and "Wrong email or password." in b.text


async def test_login_redirects_back_to_next_but_never_off_site(browser: Browser, new_browser: Any) -> None:
    await browser.signup("next@example.com")
    assert (await new_browser().get("/spaces/new")).headers["location"] == "/login?next=%2Fspaces%2Fnew"
    for target, expected in [
        ("/spaces/new", "/spaces/new"),
        ("https://evil.test/", "/"),
        ("//evil.test", "/"),
        ("/\\evil.test", "/"),
    ]:
        b = new_browser()
        token = await b.token("/login")
        response = await b.post(
            "/login",
            data={"email": "next@example.com", "password": PASSWORD, "next": target, "csrf_token": token},
        )
        assert response.headers["location"] == expected


async def test_redirect_after_post_is_303(browser: Browser) -> None:
    response = await browser.signup("see@example.com")
    assert response.status_code == 303


async def test_session_cookie_attributes_http(browser: Browser) -> None:
    response = await browser.signup("cookie@example.com")
    header = next(v for v in response.headers.get_list("set-cookie") if v.startswith("frontdesk_session="))
    attrs = [a.strip().lower() for a in header.split(";")]
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert not any(a.startswith("domain") for a in attrs)
    assert "secure" not in attrs  # the public URL is http here


@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://localhost:8443"}])
async def test_session_cookie_attributes_https(new_browser: Any) -> None:
    b = new_browser("localhost:8443", scheme="https")
    response = await b.signup("secure@example.com")
    header = next(
        v for v in response.headers.get_list("set-cookie") if v.startswith("__Host-frontdesk_session=")
    )
    attrs = [a.strip().lower() for a in header.split(";")]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attrs)
    assert not any(a.startswith("domain") for a in attrs)
    assert "strict-transport-security" in response.headers


async def test_sessions_are_stored_server_side_as_digests(browser: Browser, db: Any) -> None:
    await browser.signup("digest@example.com")
    raw = browser.http.cookies.get("frontdesk_session")
    row = (await db.execute(select(LoginSession))).scalar_one()
    assert raw and row.id != raw and raw not in row.id
    assert row.host == "localhost"


async def test_a_session_only_works_on_the_host_it_was_made_for(
    browser: Browser, new_browser: Any, state: Any, db: Any
) -> None:
    from frontdesk.services import accounts, spaces

    await browser.signup("host@example.com")
    user = await accounts.find_by_email(db, "host@example.com")
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=user)
    await db.commit()
    cookie = browser.http.cookies.get("frontdesk_session")
    # Even if a browser sent the main site's cookie to a space host, it would not log anyone in there.
    space = new_browser("co-up.localhost:8000")
    space.http.cookies.set("frontdesk_session", cookie)
    assert "Log in to see this space" in (await space.get("/")).text
    # Logging in on the space host is a separate session.
    await space.login("host@example.com")
    assert "You are an admin of Co-Up" in (await space.get("/")).text


# ---- anti-forgery ------------------------------------------------------------------------


async def test_forms_without_a_token_are_refused(browser: Browser) -> None:
    await browser.get("/signup")
    response = await browser.post(
        "/signup", data={"email": "a@example.com", "password": PASSWORD, "name": "A"}
    )
    assert response.status_code == 403


async def test_login_form_is_protected_too(browser: Browser, new_browser: Any) -> None:
    await browser.signup("csrf@example.com")
    fresh = new_browser()
    response = await fresh.post("/login", data={"email": "csrf@example.com", "password": PASSWORD})
    assert response.status_code == 403


async def test_token_from_another_browser_is_refused(browser: Browser, new_browser: Any) -> None:
    await browser.signup("owner@example.com")
    attacker = new_browser()
    stolen = csrf_from((await attacker.get("/signup")).text)
    response = await browser.post("/spaces/new", data={"name": "X", "subdomain": "xx", "csrf_token": stolen})
    assert response.status_code == 403


async def test_token_of_the_anonymous_visit_dies_at_login(browser: Browser) -> None:
    before = await browser.token("/signup")
    await browser.signup("rotate@example.com")
    response = await browser.post("/spaces/new", data={"name": "X", "subdomain": "xx", "csrf_token": before})
    assert response.status_code == 403


async def test_cross_origin_posts_are_refused(browser: Browser) -> None:
    await browser.signup("origin@example.com")
    token = await browser.token("/spaces/new")
    for headers in (
        {"origin": "https://evil.test"},
        {"origin": "http://co-up.localhost:8000"},
        {"sec-fetch-site": "cross-site"},
    ):
        response = await browser.post(
            "/spaces/new", data={"name": "X", "subdomain": "xx", "csrf_token": token}, headers=headers
        )
        assert response.status_code == 403, headers
    ok = await browser.post(
        "/spaces/new",
        data={"name": "X", "subdomain": "xx", "csrf_token": token},
        headers={"origin": "http://localhost:8000"},
    )
    assert ok.status_code == 303


async def test_logout_needs_a_token(browser: Browser) -> None:
    await browser.signup("logout@example.com")
    assert (await browser.post("/logout")).status_code == 403
    assert "Hello" in (await browser.get("/")).text


async def test_password_hash_is_upgraded_on_login(app: Any, browser: Browser, db: Any) -> None:
    from frontdesk.security.passwords import Passwords

    await browser.signup("rehash@example.com")
    old = (await db.execute(select(User.password_hash))).scalar_one()
    state = app.state.frontdesk
    state.passwords = Passwords(time_cost=2, memory_kib=128, parallelism=1, concurrency=1)
    await browser.submit("/", {}, action="/logout")
    assert (await browser.login("rehash@example.com")).status_code == 303
    db.expire_all()
    new = (await db.execute(select(User.password_hash))).scalar_one()
    assert new != old and "m=128,t=2" in new
