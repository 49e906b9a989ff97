"""Secrets stay secret (RFC 6819 §5.1.4.1.3, RFC 6749 §10.3, RFC 6750 §5.3): compared in
constant time, stored only as digests or sealed, never in page URLs or cookies. That the server
log shows none of them is tests/e2e/test_logs.py."""

from __future__ import annotations

import ast
import re
import secrets
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from sqlalchemy import inspect, text

import frontdesk
from frontdesk.oauth import pkce
from frontdesk.services import spaces
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    api_status,
    attributes,
    authorize_params,
    bearer,
    code_token,
    exchange,
    get_code,
    register_app,
)
from tests.support import PASSWORD, Browser
from tests.web.test_apps_pages import register_ok, shown

SRC = Path(frontdesk.__file__).parent
TOKEN_SHAPED = re.compile(r"fd(?:at|rt|ac)_")


# ---- constant-time comparison: a code check (checklist item 21) -------------------------------

SENSITIVE = re.compile(
    r"secret|token|digest|password|passwd|verifier|challenge|csrf|nonce|signature|mac|hash", re.I
)
CONSTANT = re.compile(r"^_?[A-Z][A-Z0-9_]*$")
# Reviewed comparisons of a sensitive-looking name that compare no secret against a stored one.
ALLOWED = {
    # Both operands come from the same caller (the token in the path and the bearer token it
    # sent): nothing stored is compared, so timing reveals nothing the caller does not know.
    ("web/routes/api/access_tokens.py", "presented != token"),
}


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.Call):
        return _name(node.func)
    return None


def _is_sql_column(node: ast.AST) -> bool:
    """``Model.column`` or ``TABLE.c.column``: the comparison builds a SQL condition (an indexed
    digest lookup)."""
    if not isinstance(node, ast.Attribute):
        return False
    owner = node.value
    if isinstance(owner, ast.Attribute) and owner.attr == "c":  # a Core table's columns
        owner = owner.value
    return isinstance(owner, ast.Name) and owner.id[:1].isupper()


def secret_comparisons(root: Path) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("client/"):
            continue  # the client library checks nothing server-side
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Compare) or not any(
                isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
            ):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) for o in operands) or any(_is_sql_column(o) for o in operands):
                continue
            names = [_name(o) for o in operands]
            if any(n and CONSTANT.match(n) for n in names):
                continue  # compared with a named constant (a grant type, a sentinel)
            if any(n and SENSITIVE.search(n) for n in names):
                text = ast.get_source_segment(source, node) or ""
                if (rel, " ".join(text.split())) not in ALLOWED:
                    found.append((rel, node.lineno, text))
    return found


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.rfc("6819 5.1.4.1.3")
@pytest.mark.checklist(21)
def test_secrets_are_compared_in_constant_time() -> None:
    """A code check rather than timing: no ``==``/``!=`` between a secret-looking value and
    anything but a constant, a SQL column (indexed digest lookups leak nothing useful) or a
    reviewed exception; the places that check secrets use ``hmac.compare_digest``."""
    offenders = secret_comparisons(SRC)
    assert not offenders, "\n".join(f"src/frontdesk/{f}:{line}: {text}" for f, line, text in offenders)
    for rel, function in (
        ("store/sql_storage.py", "secret_matches"),
        ("oauth/pkce.py", "verify"),
        ("web/csrf.py", "verify"),
    ):
        tree = ast.parse((SRC / rel).read_text())
        body = next(
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function
        )
        assert "compare_digest" in ast.unparse(body), f"{rel}:{function} does not use hmac.compare_digest"


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.checklist(21)
def test_the_scan_catches_naive_comparisons(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "def check(stored_digest, presented):\n"
        "    return server_secret.digest(presented) == stored_digest\n"
        "def ok(grant_type, user):\n"
        "    return grant_type == 'password' or user.password_hash != _NO_PASSWORD\n"
        "def sql(digest):\n"
        "    return select(Token).where(Token.digest == digest)\n"
        "def csrf(request, submitted):\n"
        "    return submitted != request.csrf_token\n"
        "def core(digest):\n"
        "    return update(CODES).where(CODES.c.digest == digest)\n"
        "def lower_case_table(stored, digest):\n"
        "    return stored.c.digest == digest\n"
    )
    found = [line for _, line, _ in secret_comparisons(tmp_path)]
    assert found == [2, 8, 12]


# ---- nothing secret at rest (checklist item 24) ------------------------------------------


async def dump_database(db: Any) -> str:
    """Every table, every column of every row, as text."""
    conn = await db.connection()
    tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert {"users", "apps", "access_tokens", "refresh_tokens", "authorization_codes", "sessions"} <= set(
        tables
    )
    parts = []
    for table in sorted(tables):
        result = await db.execute(text(f'SELECT * FROM "{table}"'))
        columns = list(result.keys())
        for row in result.all():
            for column, value in zip(columns, row, strict=True):
                if isinstance(value, bytes | bytearray | memoryview):
                    value = bytes(value).hex() + " " + bytes(value).decode("latin-1")
                parts.append(f"{table}.{column}={value}")
    return "\n".join(parts)


def assert_nowhere(haystack: str, secrets_: dict[str, str], where: str) -> None:
    leaks = []
    for label, value in secrets_.items():
        random_part = value.split("_", 1)[1] if re.match(r"^fd[a-z]{2}_", value) else value
        for needle in {value, random_part, random_part[:24]}:
            if needle and needle in haystack:
                leaks.append(label)
    assert not leaks, f"found in {where}: {sorted(set(leaks))}"


async def developer_registers(b: Browser, **form: Any) -> dict[str, str]:
    client_id, page = await register_ok(b, **form)
    secret, token = shown(page, "client-secret"), shown(page, "test-access-token")
    assert secret and token
    return {"client_id": client_id, "client_secret": secret, "test_token": token}


@pytest.mark.rfc("6819 5.1.4.1.3")
@pytest.mark.rfc("6749 10.3")
@pytest.mark.checklist(24)
async def test_nothing_secret_in_the_database(browser: Browser, new_browser: Any, db: Any) -> None:
    """A full flow through the pages and endpoints, then the whole database (every table and
    column as text) holds none of the raw tokens, codes, refresh tokens, client secrets, test
    tokens, session cookies or passwords."""
    found: dict[str, str] = {}
    dev_password, person_password = (
        "dev password " + secrets.token_hex(4),
        "person pw " + secrets.token_hex(4),
    )
    found["dev password"], found["person password"] = dev_password, person_password
    await browser.signup("dev@example.com", password=dev_password, name="Dev")
    found["dev session"] = browser.http.cookies["frontdesk_session"]
    plain = await developer_registers(browser, scope=["read_user", "read_memberships"])
    found |= {"app secret": plain["client_secret"], "app test token": plain["test_token"]}
    refreshing = await developer_registers(
        browser, name="Refreshing", access_token_ttl="3600", scope=["read_user"]
    )
    found |= {"ttl app secret": refreshing["client_secret"], "ttl app test token": refreshing["test_token"]}

    person: Browser = new_browser()
    await person.signup("pat@example.com", password=person_password, name="Pat")
    found["person session"] = person.http.cookies["frontdesk_session"]
    app = RegisteredApp(
        plain["client_id"], plain["client_secret"], plain["test_token"], "https://example.com/cb"
    )
    ttl_app = RegisteredApp(
        refreshing["client_id"],
        refreshing["client_secret"],
        refreshing["test_token"],
        "https://example.com/cb",
    )
    # Code flow with PKCE.
    verifier = secrets.token_urlsafe(48)
    found["pkce verifier"] = verifier
    code = await get_code(person, app, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    found["code"] = code
    response = await exchange(person, app, code, code_verifier=verifier)
    assert response.status_code == 200, response.text
    found["code flow token"] = response.json()["access_token"]
    # The document's password grant, every parameter in the query string.
    response = await person.post(
        TOKEN_URL
        + "?"
        + urlencode(
            {
                "grant_type": "password",
                "username": "pat@example.com",
                "password": person_password,
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "scope": "read_user read_memberships",
            }
        )
    )
    assert response.status_code == 200, response.text
    user_token = found["password grant token"] = response.json()["access_token"]
    # An app with access_token_ttl: code flow, then refresh.
    code = await get_code(person, ttl_app)
    found["ttl code"] = code
    body = (await exchange(person, ttl_app, code)).json()
    found["ttl access token"], found["refresh token"] = body["access_token"], body["refresh_token"]
    refreshed = await person.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": ttl_app.client_id,
            "client_secret": ttl_app.client_secret,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    found["refreshed access token"] = refreshed.json()["access_token"]
    found["rotated refresh token"] = refreshed.json()["refresh_token"]
    # A space token (Pat creates a space and is its admin).
    assert (
        await person.submit("/spaces/new", {"name": "Co-Up", "subdomain": "co-up", "custom_domain": ""})
    ).status_code == 303
    space = await person.post(f"/api/access_tokens/{user_token}/space", json={"space_id": "co-up"})
    assert space.status_code == 201, space.text
    found["space token"] = space.json()["token"]
    # Revealing the test token again after a password confirmation, a new secret, a new test token.
    url = f"/oauth2_clients/{app.client_id}"
    assert (await browser.submit(url, {"password": dev_password}, action=f"{url}/reveal")).status_code == 303
    page = await browser.get(url)
    assert (
        shown(page, "test-access-token") == app.test_token
        and shown(page, "client-secret") == app.client_secret
    )
    assert (await browser.submit(url, {"confirm": "1"}, action=f"{url}/secret")).status_code == 303
    found["regenerated secret"] = shown(await browser.get(url), "client-secret") or ""
    assert (await browser.submit(url, {"action": "create"}, action=f"{url}/test_token")).status_code == 303
    found["recreated test token"] = shown(await browser.get(url), "test-access-token") or ""
    assert all(found.values()), [k for k, v in found.items() if not v]
    for token in (
        user_token,
        found["space token"],
        found["recreated test token"],
        found["refreshed access token"],
    ):
        assert await api_status(person, token) == 200

    db.expire_all()
    dump = await dump_database(db)
    assert "fdat_" not in dump and "fdrt_" not in dump and "fdac_" not in dump and "fdcs_" not in dump
    assert_nowhere(dump, found, "the database")
    assert "$argon2id$" in dump  # the passwords are there, as Argon2id hashes


# ---- no tokens in page URLs or cookies (checklist item 31) --------------------------------


@pytest.mark.rfc("6750 5.3")
@pytest.mark.checklist(31)
async def test_no_tokens_in_page_urls_or_cookies(
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
    read: list[tuple[str, str]] = []  # the HTML pages whose URLs were checked
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
                continue  # redirects, static files: nothing to read
            read.append((origin, path))
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
    # Every start page was read, the navigation page among them.
    assert {(c.origin, p) for c, starts in seeds for p in starts} <= set(read), set(read)
    assert len(read) >= 14, read
    for jar in (browser, developer, space_host):
        for value in jar.http.cookies.values():
            assert not TOKEN_SHAPED.search(value)
