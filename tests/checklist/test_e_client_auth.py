"""E. Client authentication (checklist items 17–21)."""

from __future__ import annotations

import ast
import base64
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

import frontdesk
from frontdesk.store.models import AuditEvent
from tests.checklist.support import assert_no_store
from tests.oauth_support import TOKEN_URL, RegisteredApp, basic, exchange, get_code
from tests.support import Browser

SRC = Path(frontdesk.__file__).parent


def encode_all(value: str) -> str:
    """Percent-encode every character, unreserved ones included (as oauth4webapi does)."""
    return "".join(f"%{b:02X}" for b in value.encode())


def basic_raw(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.rfc("6749 2.3.1")
async def test_item_17_supported_client_authentication_methods(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    """Basic with raw and with form-urlencoded credentials, and credentials in the body, all
    work. ``client_secret`` in the query string is accepted by default (project decision 2;
    the strict-mode test checks the checklist's refusal)."""
    secret = registered.client_secret
    assert secret
    for user, password in (
        (registered.client_id, secret),
        (encode_all(registered.client_id), encode_all(secret)),
    ):
        code = await get_code(logged_in, registered)
        response = await logged_in.post(
            TOKEN_URL,
            data={"grant_type": "authorization_code", "code": code},
            headers=basic_raw(user, password),
        )
        assert response.status_code == 200, response.text
    code = await get_code(logged_in, registered)
    assert (await exchange(logged_in, registered, code)).status_code == 200  # client_secret_post
    code = await get_code(logged_in, registered)
    in_query = await logged_in.post(
        TOKEN_URL + "?" + urlencode({"client_id": registered.client_id, "client_secret": secret}),
        data={"grant_type": "authorization_code", "code": code},
    )
    assert in_query.status_code == 200, in_query.text  # decision 2


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.parametrize("settings_overrides", [{"strict_mode": True}])
async def test_item_17_strict_mode_refuses_credentials_in_the_query(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    secret = registered.client_secret
    assert secret
    code = await get_code(logged_in, registered)
    for query in (
        {"client_secret": secret},
        {"client_id": registered.client_id, "client_secret": secret},
        {"code": code},
    ):
        response = await logged_in.post(
            TOKEN_URL + "?" + urlencode(query),
            data={"grant_type": "authorization_code", "code": code, "client_id": registered.client_id},
        )
        assert response.status_code in (400, 401) and response.json()["error"] == "invalid_request", query
        assert_no_store(response)
    ok = await logged_in.post(
        TOKEN_URL,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": registered.redirect_uri},
        headers=basic(registered.client_id, secret),
    )
    assert ok.status_code == 200, ok.text  # the code was not burned by the refused requests


@pytest.mark.rfc("6749 2.3")
async def test_item_18_one_authentication_method_per_request(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    secret = registered.client_secret
    assert secret
    code = await get_code(logged_in, registered)
    both = await logged_in.post(
        TOKEN_URL,
        data={"grant_type": "authorization_code", "code": code, "client_secret": secret},
        headers=basic(registered.client_id, secret),
    )
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    assert_no_store(both)
    both_in_query = await logged_in.post(
        TOKEN_URL + "?" + urlencode({"client_secret": secret}),
        data={"grant_type": "authorization_code", "code": code},
        headers=basic(registered.client_id, secret),
    )
    assert both_in_query.status_code == 400 and both_in_query.json()["error"] == "invalid_request"
    other_id = await logged_in.post(
        TOKEN_URL,
        data={"grant_type": "authorization_code", "code": code, "client_id": "someone-else"},
        headers=basic(registered.client_id, secret),
    )
    assert other_id.status_code == 400 and other_id.json()["error"] == "invalid_request"


@pytest.mark.rfc("6749 5.2")
async def test_item_19_invalid_client_responses(browser: Browser, registered: RegisteredApp) -> None:
    """401 ``invalid_client``; ``WWW-Authenticate: Basic realm=…`` when the header was used;
    an unknown client and a wrong secret are indistinguishable."""
    form = {"grant_type": "authorization_code", "code": "fdac_x"}
    wrong = await browser.post(
        TOKEN_URL, data={**form, "client_id": registered.client_id, "client_secret": "fdcs_x"}
    )
    unknown = await browser.post(TOKEN_URL, data={**form, "client_id": "f" * 32, "client_secret": "fdcs_x"})
    for response in (wrong, unknown):
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"
        assert_no_store(response)
    assert wrong.json() == unknown.json()
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")

    wrong_basic = await browser.post(TOKEN_URL, data=form, headers=basic(registered.client_id, "fdcs_x"))
    unknown_basic = await browser.post(TOKEN_URL, data=form, headers=basic("f" * 32, "fdcs_x"))
    malformed = await browser.post(TOKEN_URL, data=form, headers={"authorization": "Basic !!!"})
    no_colon = await browser.post(
        TOKEN_URL, data=form, headers={"authorization": "Basic " + base64.b64encode(b"nocolon").decode()}
    )
    for response in (wrong_basic, unknown_basic, malformed, no_colon):
        assert response.status_code == 401 and response.json()["error"] == "invalid_client", response.text
        challenge = response.headers["www-authenticate"]
        assert re.match(r'^Basic realm="[^"]+"', challenge), challenge
        assert_no_store(response)
    assert wrong_basic.json() == unknown_basic.json()
    assert wrong_basic.headers["www-authenticate"] == unknown_basic.headers["www-authenticate"]


@pytest.mark.rfc("6749 5.2")
@pytest.mark.parametrize("path", ["/oauth/access_token", "/oauth/revoke", "/oauth/introspect"])
async def test_item_19_non_ascii_basic_credentials_are_invalid_client(app: Any, path: str) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
        response = await http.post(
            path,
            data={"grant_type": "authorization_code", "code": "x", "token": "x"},
            headers={"authorization": "Basic \xe9t\xe9".encode("latin-1")},
        )
    assert response.status_code == 401, response.status_code
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic realm=")


@pytest.mark.rfc("6749 2.3.1")
async def test_item_20_client_authentication_brute_force_is_throttled(
    browser: Browser, new_browser: Any, registered: RegisteredApp
) -> None:
    """50 bad secrets for one client_id: throttled (429 + Retry-After) long before the end,
    and the right secret waits too, from this or any address."""
    statuses = []
    for i in range(50):
        response = await browser.post(
            TOKEN_URL,
            data={
                "grant_type": "authorization_code",
                "code": "x",
                "client_id": registered.client_id,
                "client_secret": f"fdcs_guess{i}",
            },
        )
        statuses.append(response.status_code)
        assert_no_store(response)
    assert set(statuses) <= {401, 429} and 429 in statuses
    first = statuses.index(429)
    assert first <= 25 and set(statuses[first:]) == {429}
    assert int(response.headers["retry-after"]) > 0
    other_address: Browser = new_browser(client_ip="203.0.113.50")
    right = await other_address.post(
        TOKEN_URL,
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        },
    )
    assert right.status_code == 429


@pytest.mark.rfc("6749 2.3.1")
async def test_item_20_client_authentication_brute_force_is_recorded(
    browser: Browser, registered: RegisteredApp, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The checklist asks for "an alert or log event" too: an audit event naming the app (or a
    warning in the frontdesk log naming the client) once failures pile up."""
    caplog.set_level(logging.INFO)
    for i in range(30):
        await browser.post(
            TOKEN_URL,
            data={
                "grant_type": "authorization_code",
                "code": "x",
                "client_id": registered.client_id,
                "client_secret": f"fdcs_guess{i}",
            },
        )
    events = (await db.execute(select(AuditEvent.event, AuditEvent.app_id))).all()
    audited = [
        e
        for e, app_id in events
        if app_id == registered.client_id and re.search(r"client|auth|throttl|limit", e)
    ]
    logged = [
        r
        for r in caplog.records
        if r.name.startswith("frontdesk")
        and r.levelno >= logging.WARNING
        and registered.client_id in r.getMessage()
    ]
    assert audited or logged, f"no audit event or warning for 30 failed client logins (events: {events})"


# ---- item 21: a code check ---------------------------------------------------------------------

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
def test_item_21_constant_time_secret_comparison() -> None:
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
def test_item_21_the_scan_catches_naive_comparisons(tmp_path: Path) -> None:
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
