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


@pytest.mark.rfc("6265bis 4.1.3.2")
@pytest.mark.checklist(15)
async def test_session_cookie_attributes_http(browser: Browser) -> None:
    """Session cookies are HttpOnly, SameSite=Lax, host-only (see the https test for Secure
    and ``__Host-``)."""
    response = await browser.signup("cookie@example.com")
    header = next(v for v in response.headers.get_list("set-cookie") if v.startswith("frontdesk_session="))
    attrs = [a.strip().lower() for a in header.split(";")]
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert not any(a.startswith("domain") for a in attrs)
    assert "secure" not in attrs  # the public URL is http here


HTTPS_SPACES = [
    ("co-up", None, "owner"),
    ("harbour", "members.harbour.test", "owner"),
    ("quay", None, "other"),
]


@pytest.mark.rfc("6265bis 4.1.3.2")
@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(43)
@pytest.mark.checklist(39)
@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://frontdesk.test"}])
@pytest.mark.parametrize("host", ["frontdesk.test", "co-up.frontdesk.test"])
async def test_session_cookie_attributes_https(state: Any, db: Any, new_browser: Any, host: str) -> None:
    """Every cookie, on the main host and on a space host, is host-only (no ``Domain``),
    ``__Host-``-prefixed, Secure, HttpOnly, ``Path=/``, SameSite=Lax; the answer carries HSTS."""
    from frontdesk.services import accounts, spaces

    owner = await accounts.create_user(db, state.passwords, email="owner@example.com", password=PASSWORD)
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    b = new_browser(host, scheme="https")
    response = await b.submit("/login", {"email": "owner@example.com", "password": PASSWORD})
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    names = {c.partition("=")[0] for c in cookies}
    assert names == {"__Host-frontdesk_session", "__Host-frontdesk_csrf"}
    for cookie in cookies:
        attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= attrs, cookie
        assert not any(a.startswith("domain") for a in attrs), cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_sessions_are_stored_server_side_as_digests(browser: Browser, db: Any) -> None:
    await browser.signup("digest@example.com")
    raw = browser.http.cookies.get("frontdesk_session")
    row = (await db.execute(select(LoginSession))).scalar_one()
    assert raw and row.id != raw and raw not in row.id
    assert row.host == "localhost"


@pytest.mark.rfc("6265bis 4.1.3.2")
@pytest.mark.checklist(43)
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


@pytest.mark.rfc("6265bis 4.1.3.2")
@pytest.mark.checklist(43)
@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://frontdesk.test"}])
async def test_a_space_session_is_worthless_on_every_other_host(
    state: Any, db: Any, new_browser: Any
) -> None:
    """A session made on one space's host, presented on another space's host (a subdomain or a
    custom domain of a space the same person administers, or someone else's) or on the main
    host, logs nobody in (that Chromium never sends it there is
    tests/browser/test_space_cookies.py)."""
    from frontdesk.services import accounts, spaces

    owner = await accounts.create_user(db, state.passwords, email="owner@example.com", password=PASSWORD)
    other = await accounts.create_user(db, state.passwords, email="other@example.com", password=PASSWORD)
    await db.commit()
    for subdomain, domain, who in HTTPS_SPACES:
        await spaces.create_space(
            db,
            state.settings,
            subdomain=subdomain,
            name=subdomain.title(),
            owner=owner if who == "owner" else other,
            custom_domain=domain,
        )
        await db.commit()
    co_up = new_browser("co-up.frontdesk.test", scheme="https")
    assert (
        await co_up.submit("/login", {"email": "owner@example.com", "password": PASSWORD})
    ).status_code == 303
    assert "Log out" in (await co_up.get("/")).text
    session = {"cookie": f"__Host-frontdesk_session={co_up.http.cookies['__Host-frontdesk_session']}"}
    for host in ("harbour.frontdesk.test", "members.harbour.test", "quay.frontdesk.test", "frontdesk.test"):
        elsewhere = new_browser(host, scheme="https")
        page = await elsewhere.get("/", headers=session)
        assert page.status_code == 200 and "Log out" not in page.text, host
    for host in ("harbour.frontdesk.test", "members.harbour.test", "quay.frontdesk.test"):
        admin = await new_browser(host, scheme="https").get("/admin/members", headers=session)
        assert admin.status_code == 303, host
        assert admin.headers["location"] == "/login?next=%2Fadmin%2Fmembers", host
    # No admin pages on the main host at all.
    main = await new_browser("frontdesk.test", scheme="https").get("/admin/members", headers=session)
    assert main.status_code == 404


# ---- anti-forgery ------------------------------------------------------------------------


async def test_forms_without_a_token_are_refused(browser: Browser) -> None:
    await browser.get("/signup")
    response = await browser.post(
        "/signup", data={"email": "a@example.com", "password": PASSWORD, "name": "A"}
    )
    assert response.status_code == 403


@pytest.mark.rfc("6749 10.12")
@pytest.mark.rfc("6819 4.4.1.8")
@pytest.mark.checklist(15)
async def test_login_form_is_protected_too(browser: Browser, new_browser: Any) -> None:
    """No token, another browser's token or a cross-site Origin: 403, even with the right
    password; the genuine form logs in."""
    await browser.signup("csrf@example.com")
    data = {"email": "csrf@example.com", "password": PASSWORD}
    fresh = new_browser()
    assert (await fresh.post("/login", data=data)).status_code == 403
    token = await fresh.token("/login")
    stranger = new_browser()
    assert (await stranger.post("/login", data={**data, "csrf_token": token})).status_code == 403
    cross = await fresh.post(
        "/login", data={**data, "csrf_token": token}, headers={"origin": "https://evil.test"}
    )
    assert cross.status_code == 403
    ok = await fresh.post("/login", data={**data, "csrf_token": token})
    assert ok.status_code == 303


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
