"""The authorization endpoint on every host (RFC 6749 §4.1.1–§4.1.2, RFC 9700, RFC 9207)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from frontdesk.oauth import pkce
from frontdesk.store.models import AuthorizationCode
from tests.oauth_support import (
    CALLBACK,
    RegisteredApp,
    authorize_params,
    consent,
    get_code,
    query,
    register_app,
)
from tests.support import PASSWORD, Browser


async def open_authorize(b: Browser, **params: str) -> Any:
    return await b.get("/oauth/authorize", params=params)


@pytest.mark.rfc("6749 4.1.2.1")
async def test_unknown_client_is_a_page_not_a_redirect(logged_in: Browser, registered: RegisteredApp) -> None:
    response = await open_authorize(logged_in, response_type="code", client_id="nope", redirect_uri=CALLBACK)
    assert response.status_code == 400 and "location" not in response.headers
    assert "No app with this client_id" in response.text
    missing = await open_authorize(logged_in, response_type="code", redirect_uri=CALLBACK)
    assert missing.status_code == 400 and "location" not in missing.headers


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/auth/callback/",
        "https://APP.example/auth/callback",
        "https://evil.test/",
        "https://app.example/auth/callback?x=1",
        "http://app.example/auth/callback",
        "javascript:alert(1)",
    ],
)
async def test_unregistered_redirect_uri_is_a_page(
    logged_in: Browser, registered: RegisteredApp, uri: str
) -> None:
    response = await open_authorize(logged_in, **authorize_params(registered, redirect_uri=uri))
    assert response.status_code == 400 and "location" not in response.headers
    assert "not registered" in response.text


async def test_extra_query_hint(logged_in: Browser, registered: RegisteredApp) -> None:
    response = await open_authorize(
        logged_in, **authorize_params(registered, redirect_uri=CALLBACK + "?origin=x")
    )
    assert "extra query parameters" in response.text


@pytest.mark.rfc("6749 3.1.2.3")
async def test_single_registered_uri_may_be_omitted(logged_in: Browser, registered: RegisteredApp) -> None:
    response = await consent(logged_in, registered, redirect_uri=None)
    assert response.status_code == 303 and response.headers["location"].startswith(CALLBACK + "?code=")


async def test_several_registered_uris_need_one_named(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    two = await register_app(state, db, dev, redirect_uris=[CALLBACK, "https://app.example/other"])
    response = await open_authorize(logged_in, **authorize_params(two, redirect_uri=None))
    assert response.status_code == 400 and "location" not in response.headers


@pytest.mark.rfc("9700 4.11.2")
async def test_login_first_then_back_to_the_request(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    response = await open_authorize(browser, **authorize_params(registered, scope="bogus"))
    # Not logged in: the login page, not a redirect to the app (no open redirector).
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/login?next=%2Foauth%2Fauthorize"
    )
    token = await browser.token(response.headers["location"])
    from urllib.parse import parse_qs, urlsplit

    next_url = parse_qs(urlsplit(response.headers["location"]).query)["next"][0]
    login = await browser.post(
        "/login",
        data={
            "email": "pat@example.com",
            "password": "correct horse battery staple",
            "next": next_url,
            "csrf_token": token,
        },
    )
    assert login.headers["location"] == next_url
    again = await browser.get(next_url)
    assert again.status_code == 302
    params = query(again.headers["location"])
    assert (
        params["error"] == "invalid_scope"
        and params["state"] == "xyz"
        and params["iss"] == "http://localhost:8000"
    )


@pytest.mark.rfc("6749 4.1.2")
async def test_approve_redirects_with_code_state_and_iss(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    page = await open_authorize(logged_in, **authorize_params(registered, scope="read_user"))
    assert page.status_code == 200
    assert "Test App wants access" in page.text and "Dana Developer" in page.text
    assert "see your name, email address" in page.text.lower()
    response = await consent(logged_in, registered, scope="read_user")
    assert response.status_code == 303
    assert response.headers["location"].startswith(CALLBACK + "?")
    params = query(response.headers["location"])
    assert params["code"].startswith("fdac_") and len(params["code"]) >= 5 + 43
    assert params["state"] == "xyz" and params["iss"] == "http://localhost:8000"


@pytest.mark.rfc("6749 4.1.2")
async def test_state_round_trips_byte_for_byte(logged_in: Browser, registered: RegisteredApp) -> None:
    state = "a b&c=d/é%+?#"
    params = query((await consent(logged_in, registered, state=state)).headers["location"])
    assert params["state"] == state
    no_state = query((await consent(logged_in, registered, state=None)).headers["location"])
    assert "state" not in no_state and "code" in no_state


@pytest.mark.rfc("6749 4.1.2.1")
async def test_deny_gives_access_denied(logged_in: Browser, registered: RegisteredApp) -> None:
    response = await consent(logged_in, registered, decision="deny", state="s1")
    assert response.status_code == 303
    params = query(response.headers["location"])
    assert params == {
        "error": "access_denied",
        "error_description": "the user denied the request",
        "state": "s1",
        "iss": "http://localhost:8000",
    }


@pytest.mark.rfc("6749 4.1.2.1")
@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "nonsense"}, "invalid_scope"),
        ({"code_challenge": pkce.s256("v" * 43), "code_challenge_method": "plain"}, "invalid_request"),
    ],
)
async def test_other_errors_redirect(
    logged_in: Browser, registered: RegisteredApp, extra: dict[str, Any], error: str
) -> None:
    response = await open_authorize(logged_in, **authorize_params(registered, **extra))
    assert response.status_code == 302
    params = query(response.headers["location"])
    assert params["error"] == error and params["state"] == "xyz" and params["iss"] == "http://localhost:8000"


@pytest.mark.rfc("6749 3.1")
async def test_repeated_parameter(logged_in: Browser, registered: RegisteredApp) -> None:
    qs = urlencode(authorize_params(registered)) + "&scope=read_user&scope=navigation"
    response = await logged_in.get("/oauth/authorize?" + qs)
    assert response.status_code == 302 and query(response.headers["location"])["error"] == "invalid_request"


@pytest.mark.rfc("6819 5.2.4.1")
async def test_consent_is_remembered_for_the_same_or_fewer_scopes(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    await get_code(logged_in, registered, scope="read_user")
    again = await open_authorize(logged_in, **authorize_params(registered, scope="read_user"))
    assert again.status_code == 302 and "code" in query(again.headers["location"])
    more = await open_authorize(logged_in, **authorize_params(registered, scope="read_user read_memberships"))
    assert more.status_code == 200 and "Approve" in more.text
    forced = await open_authorize(
        logged_in, **authorize_params(registered, scope="read_user", prompt="consent")
    )
    assert forced.status_code == 200


async def test_prompt_none(browser: Browser, logged_in: Browser, registered: RegisteredApp) -> None:
    response = await open_authorize(logged_in, **authorize_params(registered, prompt="none"))
    assert query(response.headers["location"])["error"] == "consent_required"


@pytest.mark.rfc("6749 10.12")
async def test_consent_post_needs_the_token_bound_to_this_request(
    logged_in: Browser, registered: RegisteredApp, new_browser: Any
) -> None:
    page = await open_authorize(logged_in, **authorize_params(registered, scope="read_user"))
    consent_form = page.text.split('action="/oauth/authorize"', 1)[1]
    from tests.support import csrf_from

    token = csrf_from(consent_form)
    fields = {**authorize_params(registered, scope="read_user"), "decision": "approve"}
    assert (await logged_in.post("/oauth/authorize", data=fields)).status_code == 403
    # The same token cannot approve a different request (more scopes, other state, other client).
    for changed in ({"scope": "read_user read_memberships"}, {"state": "other"}):
        tampered = await logged_in.post("/oauth/authorize", data={**fields, **changed, "csrf_token": token})
        assert tampered.status_code == 403
    # A cross-site post is refused even with the right token.
    cross = await logged_in.post(
        "/oauth/authorize", data={**fields, "csrf_token": token}, headers={"origin": "https://evil.test"}
    )
    assert cross.status_code == 403
    # GET never grants.
    get_approve = await logged_in.get("/oauth/authorize", params={**fields, "csrf_token": token})
    assert get_approve.status_code == 200 and "Approve" in get_approve.text
    ok = await logged_in.post("/oauth/authorize", data={**fields, "csrf_token": token})
    assert ok.status_code == 303


async def test_codes_are_stored_as_digests_and_bound(
    logged_in: Browser, registered: RegisteredApp, db: Any, state: Any
) -> None:
    code = await get_code(logged_in, registered, scope="read_user")
    row = (await db.execute(select(AuthorizationCode))).scalar_one()
    assert row.digest != code and code not in row.digest
    assert row.app_id == registered.client_id and row.redirect_uri == CALLBACK and row.scope == "read_user"
    assert row.space_id is None and row.issuer == "http://localhost:8000"
    assert 0 < (row.expires_at - row.created_at).total_seconds() <= state.settings.code_ttl_seconds


@pytest.mark.rfc("9700 2.6")
async def test_no_cors_and_no_framing_by_others(logged_in: Browser, registered: RegisteredApp) -> None:
    page = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered), headers={"origin": "https://evil.test"}
    )
    assert "access-control-allow-origin" not in page.headers
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.rfc("7636 4.4.1")
async def test_public_apps_need_pkce(state: Any, db: Any, dev: Any, logged_in: Browser) -> None:
    public = await register_app(state, db, dev, public=True)
    response = await open_authorize(logged_in, **authorize_params(public))
    assert query(response.headers["location"])["error"] == "invalid_request"
    ok = await open_authorize(
        logged_in,
        **authorize_params(public, code_challenge=pkce.s256("v" * 43), code_challenge_method="S256"),
    )
    assert ok.status_code == 200


# ---- on a space host --------------------------------------------------------------------------


@pytest.fixture
async def space(state: Any, db: Any, person: Any) -> Any:
    from frontdesk.services import spaces

    return await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)


async def test_authorize_on_a_space_host(
    space: Any, registered: RegisteredApp, new_browser: Any, db: Any
) -> None:
    b: Browser = new_browser("co-up.localhost:8000")
    response = await open_authorize(b, **authorize_params(registered))
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    await b.login("pat@example.com")
    page = await open_authorize(b, **authorize_params(registered))
    assert "Space Helper wants access in Co-Up" in page.text
    location = (await consent(b, registered)).headers["location"]
    assert query(location)["iss"] == "http://co-up.localhost:8000"
    row = (await db.execute(select(AuthorizationCode))).scalar_one()
    assert row.space_id == space.id and row.issuer == "http://co-up.localhost:8000"


async def test_an_app_frame_sent_here_reloads_from_this_origin(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    framed = {"sec-fetch-dest": "iframe", "sec-fetch-site": "cross-site"}
    response = await browser.get("/oauth/authorize", params=authorize_params(registered), headers=framed)
    assert response.status_code == 200
    assert '<meta http-equiv="refresh" content="0; url=/oauth/authorize?' in response.text
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    # The reload comes from this origin: the usual login redirect.
    reloaded = await browser.get(
        "/oauth/authorize",
        params=authorize_params(registered),
        headers={"sec-fetch-dest": "iframe", "sec-fetch-site": "same-origin"},
    )
    assert reloaded.status_code == 303 and reloaded.headers["location"].startswith("/login?next=")


async def test_same_origin_posts_with_an_opaque_origin(browser: Browser, person: Any) -> None:
    # Referrer-Policy: no-referrer makes browsers send "Origin: null" on same-origin posts.
    token = await browser.token("/login")
    data = {"email": "pat@example.com", "password": "correct horse battery staple", "csrf_token": token}
    refused = await browser.post("/login", data=data, headers={"origin": "null"})
    assert refused.status_code == 403
    ok = await browser.post("/login", data=data, headers={"origin": "null", "sec-fetch-site": "same-origin"})
    assert ok.status_code == 303


# ---- the session behind the authorization endpoint (cached per worker) ----------------------


async def test_consent_page_shows_who_is_logged_in(
    logged_in: Browser, registered: RegisteredApp, person: Any
) -> None:
    page = await open_authorize(logged_in, **authorize_params(registered))
    assert page.status_code == 200 and f'<span class="who">{person.name}</span>' in page.text


async def test_logging_out_ends_authorization_at_once(
    logged_in: Browser, registered: RegisteredApp, state: Any
) -> None:
    assert (await consent(logged_in, registered)).status_code == 303  # consent on record
    again = await open_authorize(logged_in, **authorize_params(registered))
    assert again.status_code == 302 and "code=" in again.headers["location"]
    await logged_in.submit("/", {}, action="/logout")
    after = await open_authorize(logged_in, **authorize_params(registered))
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")


async def test_another_worker_sees_a_revoked_session(
    logged_in: Browser, registered: RegisteredApp, state: Any, settings: Any, person: Any
) -> None:
    """A session revoked through one worker stops authorizing on another within a poll."""
    import asyncio

    from asgi_lifespan import LifespanManager

    from frontdesk.web.app import create_app

    assert (await consent(logged_in, registered)).status_code == 303
    other = create_app(settings)
    async with LifespanManager(other), Browser(other) as b2:
        b2.http.cookies = logged_in.http.cookies  # the same browser, another worker
        for _ in range(3):  # served from the other worker's caches from the second on
            first = await b2.get("/oauth/authorize", params=authorize_params(registered))
            assert first.status_code == 302 and "code=" in first.headers["location"]
        async with state.unit_of_work() as uow:  # "log out everywhere" through this worker
            assert await uow.storage.end_sessions_of(person.id) == 1
            await uow.commit()
        for _ in range(40):  # the invalidation reaches the other worker within a poll
            after = await b2.get("/oauth/authorize", params=authorize_params(registered))
            if after.status_code != 302:
                break
            await asyncio.sleep(0.05)
        assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")


async def test_an_expired_session_does_not_authorize(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from frontdesk.store.models import LoginSession
    from frontdesk.store.types import utcnow

    assert (await consent(logged_in, registered)).status_code == 303
    await db.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    response = await open_authorize(logged_in, **authorize_params(registered))
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_an_idle_session_is_touched_once_and_keeps_working(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import select, update

    from frontdesk.store.models import LoginSession
    from frontdesk.store.types import utcnow

    assert (await consent(logged_in, registered)).status_code == 303
    long_ago = utcnow() - timedelta(hours=1)
    await db.execute(update(LoginSession).values(last_seen_at=long_ago))
    await db.commit()
    for _ in range(3):
        response = await open_authorize(logged_in, **authorize_params(registered))
        assert response.status_code == 302 and "code=" in response.headers["location"]
    db.expire_all()
    seen = (await db.execute(select(LoginSession.last_seen_at))).scalar_one()
    assert seen > long_ago + timedelta(minutes=59)
    await open_authorize(logged_in, **authorize_params(registered))
    db.expire_all()
    # Touched once: a request within the next ten minutes writes nothing.
    assert (await db.execute(select(LoginSession.last_seen_at))).scalar_one() == seen


# ---- prompt=login and max_age (OpenID Connect Core §3.1.2.1) --------------------------------


async def _log_in_again(b: Browser, response: Any) -> Any:
    """Follow the endpoint to the login page, log in there, and come back."""
    assert response.status_code == 303 and response.headers["location"].startswith("/login?again=1&next=")
    login_page = response.headers["location"]
    page = await b.get(login_page)
    assert page.status_code == 200 and "log in again" in page.text  # shown although logged in
    next_url = query(login_page)["next"]
    back = await b.submit(
        login_page, {"email": "pat@example.com", "password": PASSWORD, "next": next_url}, action="/login"
    )
    assert back.status_code == 303 and back.headers["location"].startswith("/oauth/authorize?")
    return await b.get(back.headers["location"])


async def _session_started(db: Any) -> Any:
    from sqlalchemy import select

    from frontdesk.store.models import LoginSession

    db.expire_all()
    return (
        (
            await db.execute(
                select(LoginSession.created_at)
                .where(LoginSession.revoked_at.is_(None))
                .order_by(LoginSession.created_at.desc())
            )
        )
        .scalars()
        .first()
    )


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_prompt_login_asks_for_a_new_login_once(
    logged_in: Browser, registered: RegisteredApp, db: Any
) -> None:
    assert (await consent(logged_in, registered)).status_code == 303  # consent on record
    before = await _session_started(db)
    first = await open_authorize(logged_in, **authorize_params(registered, prompt="login"))
    done = await _log_in_again(logged_in, first)
    assert done.status_code == 302 and "code" in query(done.headers["location"])  # no second round
    assert await _session_started(db) > before  # a new session: the id_token's auth_time moves


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_max_age(logged_in: Browser, registered: RegisteredApp, db: Any) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from frontdesk.store.models import LoginSession
    from frontdesk.store.types import utcnow

    assert (await consent(logged_in, registered)).status_code == 303
    recent = await open_authorize(logged_in, **authorize_params(registered, max_age="3600"))
    assert recent.status_code == 302 and "code" in query(recent.headers["location"])
    await db.execute(update(LoginSession).values(created_at=utcnow() - timedelta(hours=2)))
    await db.commit()
    old = await open_authorize(logged_in, **authorize_params(registered, max_age="3600"))
    done = await _log_in_again(logged_in, old)
    assert done.status_code == 302 and "code" in query(done.headers["location"])
    # max_age=0 means "log in now": it cannot loop either.
    zero = await open_authorize(logged_in, **authorize_params(registered, max_age="0"))
    again = await _log_in_again(logged_in, zero)
    assert again.status_code == 302 and "code" in query(again.headers["location"])


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
@pytest.mark.parametrize("value", ["-1", "soon", "1.5", "99999999999", "\u00b2"])
async def test_max_age_must_be_seconds(logged_in: Browser, registered: RegisteredApp, value: str) -> None:
    response = await open_authorize(logged_in, **authorize_params(registered, max_age=value))
    assert response.status_code == 302 and query(response.headers["location"])["error"] == "invalid_request"


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_prompt_none_with_an_old_login_is_login_required(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    assert (await consent(logged_in, registered)).status_code == 303
    response = await open_authorize(logged_in, **authorize_params(registered, prompt="none", max_age="0"))
    assert response.status_code == 302 and query(response.headers["location"])["error"] == "login_required"


async def test_the_login_after_marker_cannot_be_forged_or_reused_late(
    logged_in: Browser, registered: RegisteredApp, state: Any
) -> None:
    import time

    assert (await consent(logged_in, registered)).status_code == 303
    forged = authorize_params(registered, prompt="login", fd_login_after=f"{int(time.time()) - 60}.bogus")
    assert (await open_authorize(logged_in, **forged)).status_code == 303  # still asks to log in
    stamp = str(int(time.time()) - 3600)  # a genuine marker, but an hour old
    stale = authorize_params(
        registered,
        prompt="login",
        fd_login_after=f"{stamp}.{state.server_secret.mac('login-after|' + stamp)}",
    )
    assert (await open_authorize(logged_in, **stale)).status_code == 303


@pytest.mark.rfc("OIDC-Core 3.1.2.1")
async def test_a_login_stamp_satisfies_only_the_request_it_was_issued_for(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    """The stamp on the way back from the login page is bound to its authorization request:
    carried over to another request (another scope here), it proves nothing."""
    assert (await consent(logged_in, registered)).status_code == 303
    asked = await open_authorize(logged_in, **authorize_params(registered, prompt="login", scope="read_user"))
    login_page = asked.headers["location"]
    stamp = query(query(login_page)["next"])["fd_login_after"]
    other = authorize_params(registered, prompt="login", scope="read_memberships", fd_login_after=stamp)
    done = await _log_in_again(logged_in, asked)  # a fresh login, after the stamp
    assert done.status_code == 302 and "code" in query(done.headers["location"])
    moved = await open_authorize(logged_in, **other)
    assert moved.status_code == 303 and moved.headers["location"].startswith("/login?again=1&next=")


async def test_an_anonymous_prompt_login_needs_only_one_login(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    first = await open_authorize(browser, **authorize_params(registered, prompt="login"))
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
    login_page = first.headers["location"]
    fields = {"email": "pat@example.com", "password": PASSWORD, "next": query(login_page)["next"]}
    back = await browser.submit(login_page, fields, action="/login")
    page = await browser.get(back.headers["location"])
    assert page.status_code == 200 and "Approve" in page.text  # the consent page, no second login
