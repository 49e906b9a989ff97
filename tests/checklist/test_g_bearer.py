"""G. Bearer token use at the API (checklist items 27–31)."""

from __future__ import annotations

import re
from collections import deque
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import pytest

from frontdesk.services import spaces
from tests.checklist.support import attributes, bearer, code_token, parse_challenge, password_grant
from tests.oauth_support import RegisteredApp, authorize_params, register_app
from tests.support import PASSWORD, Browser

TOKEN_SHAPED = re.compile(r"fd(?:at|rt|ac)_")


@pytest.mark.rfc("6750 2.1")
async def test_item_27_bearer_header_scheme_is_case_insensitive(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    token = (await password_grant(browser, registered)).json()["access_token"]
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        response = await browser.get("/api/user", headers=bearer(token, scheme))
        assert response.status_code == 200, scheme
    spaced = await browser.get("/api/user", headers={"authorization": f"Bearer   {token}  "})
    assert spaced.status_code in (200, 400)


@pytest.mark.rfc("6750 2")
async def test_item_28_one_token_method_per_request(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    token = (await password_grant(browser, registered)).json()["access_token"]
    both = await browser.get("/api/user", params={"access_token": token}, headers=bearer(token))
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    twice = await browser.get(f"/api/user?access_token={token}&access_token={token}")
    assert twice.status_code == 400 and twice.json()["error"] == "invalid_request"
    header_and_form = await browser.post("/api/userinfo", data={"access_token": token}, headers=bearer(token))
    assert header_and_form.status_code == 400 and header_and_form.json()["error"] == "invalid_request"
    query_and_form = await browser.post(
        "/api/userinfo", params={"access_token": token}, data={"access_token": token}
    )
    assert query_and_form.status_code == 400 and query_and_form.json()["error"] == "invalid_request"


@pytest.mark.rfc("6750 3")
@pytest.mark.rfc("6750 3.1")
async def test_item_29_bearer_error_codes_and_challenges(
    state: Any, db: Any, dev: Any, browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    realm = "http://localhost:8000"
    none = await browser.get("/api/user")
    assert none.status_code == 401
    scheme, params = parse_challenge(none.headers["www-authenticate"])
    assert scheme == "Bearer" and params == {"realm": realm}  # no error code without credentials

    token = (await password_grant(browser, registered)).json()["access_token"]
    revoked = (await password_grant(browser, registered)).json()["access_token"]
    creds = {"client_id": registered.client_id, "client_secret": registered.client_secret or ""}
    assert (await browser.post("/oauth/revoke", data={**creds, "token": revoked})).status_code == 200
    for bad in ("fdat_" + "A" * 43, revoked, "not-a-token", token + "x"):
        response = await browser.get("/api/user", headers=bearer(bad))
        assert response.status_code == 401, bad
        scheme, params = parse_challenge(response.headers["www-authenticate"])
        assert scheme == "Bearer" and params["realm"] == realm and params["error"] == "invalid_token"
        assert response.json()["error"] == "invalid_token"
        via_query = await browser.get("/api/user", params={"access_token": bad})
        assert via_query.status_code == 401

    no_scope_app = await register_app(state, db, dev, name="Narrow", scopes="read_user read_memberships")
    narrow = (await password_grant(browser, no_scope_app, scope="read_memberships")).json()["access_token"]
    insufficient = await browser.get("/api/user", headers=bearer(narrow))
    assert insufficient.status_code == 403
    scheme, params = parse_challenge(insufficient.headers["www-authenticate"])
    assert params["error"] == "insufficient_scope" and params["scope"] == "read_user"
    assert insufficient.json()["error"] == "insufficient_scope"

    for malformed in ("Bearer", "Bearer a b", 'Bearer "quoted"', "Bearer tök", "Bearer a,b"):
        response = await browser.get("/api/user", headers={"authorization": malformed.encode("latin-1")})
        assert response.status_code in (400, 401), malformed
        if response.status_code == 400:
            assert response.json()["error"] == "invalid_request"
            scheme, params = parse_challenge(response.headers.get("www-authenticate", 'Bearer realm="x"'))
            assert scheme == "Bearer"
    empty = await browser.get("/api/user?access_token=")
    assert empty.status_code in (400, 401)


@pytest.mark.rfc("6750 2.3")
@pytest.mark.rfc("9700 4.3.2")
async def test_item_30_access_token_in_the_query(
    browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    """Accepted (Cobot compatibility) with ``Cache-Control: no-store`` and
    ``Referrer-Policy: no-referrer``; never logged (tests/checklist/test_e2e_logs.py) and
    never over plain http (item 39)."""
    token = (await password_grant(browser, registered)).json()["access_token"]
    response = await browser.get("/api/user", params={"access_token": token})
    assert response.status_code == 200
    directives = {d.strip() for d in response.headers["cache-control"].split(",")}
    assert directives & {"no-store", "private"}, directives
    assert response.headers["referrer-policy"] == "no-referrer"
    scope = await browser.get(f"/api/access_tokens/{token}")
    assert scope.status_code == 200 and "no-store" in scope.headers["cache-control"]
    # The form-body method (RFC 6750 §2.2) for a form POST.
    posted = await browser.post("/api/userinfo", data={"access_token": token})
    assert posted.status_code in (200, 403)  # 403: no openid scope, but the token was read


@pytest.mark.rfc("6750 5.3")
async def test_item_31_no_tokens_in_page_urls_or_cookies(
    state: Any, db: Any, dev: Any, person: Any, browser: Browser, new_browser: Any
) -> None:
    """Crawl every page reachable by links from the logged-in pages (dashboard, app pages,
    consent, account pages, space pages, a navigation-link iframe page), on the main host and
    a space host: no ``fdat_``/``fdrt_``/``fdac_`` in any src/href/action, in the iframe URL,
    or in a cookie."""
    app = await register_app(
        state,
        db,
        dev,
        scopes="read_user read_memberships navigation",
        main_url="https://app.example",
        access_token_ttl=3600,
    )
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    await browser.login("pat@example.com")
    tokens = await code_token(browser, app)
    assert tokens["refresh_token"]
    space_token = (
        await browser.post(f"/api/access_tokens/{tokens['access_token']}/space", json={"space_id": "co-up"})
    ).json()["token"]
    space_host: Browser = new_browser("co-up.localhost:8000")
    link = await space_host.post(
        "/api/navigation_links",
        json={"section": "members", "label": "Booking", "iframe_url": "https://app.example/embed?x=1"},
        headers=bearer(space_token),
    )
    assert link.status_code == 201, link.text
    admin_link = await space_host.post(
        "/api/navigation_links",
        json={"section": "admin/manage", "label": "Reports", "iframe_url": "https://app.example/reports"},
        headers=bearer(space_token),
    )
    assert admin_link.status_code == 201
    assert (await space_host.login("pat@example.com")).status_code == 303
    developer: Browser = new_browser()
    assert (await developer.login("dev@example.com")).status_code == 303
    app_page = f"/oauth2_clients/{app.client_id}"  # shows the test token once the password is confirmed
    confirmed = await developer.submit(app_page, {"password": PASSWORD}, action=f"{app_page}/reveal")
    assert confirmed.status_code == 303
    assert app.test_token in (await developer.get(app_page)).text

    consent_page = "/oauth/authorize?" + urlencode(
        authorize_params(app, scope="read_user navigation", prompt="consent")
    )
    navigation_page = f"/navigation/{link.json()['id']}"
    seeds = [
        (
            browser,
            ["/", "/account/apps", "/account/activity", "/spaces/new", "/oauth2_clients", consent_page],
        ),
        (developer, ["/", "/oauth2_clients", app_page, "/oauth2_clients/new"]),
        (space_host, ["/", "/admin/members", "/admin/settings", "/admin/apps", navigation_page]),
    ]
    visited: set[tuple[str, str]] = set()
    pages = 0
    for client, starts in seeds:
        origin = client.origin
        todo = deque(starts)
        while todo and pages < 200:
            path = todo.popleft()
            if (origin, path) in visited:
                continue
            visited.add((origin, path))
            response = await client.get(path)
            pages += 1
            for cookie in response.headers.get_list("set-cookie"):
                assert not TOKEN_SHAPED.search(cookie), cookie
            if response.status_code != 200 or not response.headers["content-type"].startswith("text/html"):
                continue
            for value in attributes(response.text):
                assert not TOKEN_SHAPED.search(value), (origin, path, value)
                target = urlsplit(urljoin(origin + path, value))
                same = f"{target.scheme}://{target.netloc}" == origin
                if (
                    same
                    and not target.path.startswith(("/static/", "/logout"))
                    and target.path != "/oauth/authorize"
                ):
                    todo.append(target.path + (f"?{target.query}" if target.query else ""))
    assert pages >= 15, visited
    assert any("/navigation/" in p for _, p in visited)
    for jar in (browser, developer, space_host):
        for value in jar.http.cookies.values():
            assert not TOKEN_SHAPED.search(value)
