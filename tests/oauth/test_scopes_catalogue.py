"""The scope catalogue belongs to the platform (FRONTDESK_SCOPES_FILE, oauth/scopes.py).

Cobot's published scopes are the default, so real Cobot apps' scope strings get consent pages
and tokens; scopes no Frontdesk endpoint serves are granted and reported (introspection,
UserInfo, token info); a changed file never widens a token issued before; a bad file is one
clear error at startup and in the CLI.
"""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from frontdesk.cli import app as cli_app
from frontdesk.errors import FieldError
from frontdesk.oauth.scopes import ADMIN_SCOPES, CatalogueError, load_catalogue, use_catalogue
from frontdesk.services import spaces
from frontdesk.web.app import create_app
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    authorize_params,
    bearer,
    decide,
    exchange,
    password_grant,
    query,
    register_app,
)
from tests.support import TEST_SECRET, Browser, lifespan, make_settings, stop_process

# Real Cobot apps' scope strings (../shared/reference/cobot-wire-notes.md §4.3 and §2.1).
COBOT_APPS = {
    "coworkers": "navigation read write_subscriptions read_memberships write_membership_picture",
    "cobot-slack": "read_user read_memberships write write_activities",
    "reminders": "read read_teams",
    "zapier": "read read_admins read_bookings read_user write_activities write_subscriptions read_teams",
    "door client": "checkin_tokens read_bookings write_bookings",
}

# A platform's own file: two scopes of its own, an umbrella over one of them, and an umbrella
# over nothing yet.
FILE_A = """
extends = "cobot"

[scopes.rooms]
description = "see and book the rooms of spaces you belong to"
includes = ["read_bookings"]

[scopes.directory]
description = "look people up in the member directory"

[scopes.billing]
description = "see your invoices"
"""
# The same file, later: both umbrellas include more, `read` (built in) too, and `billing`
# became restricted.
FILE_B = """
extends = "cobot"

[scopes.rooms]
description = "see and book the rooms of spaces you belong to"
includes = ["read_bookings", "write_bookings"]

[scopes.directory]
description = "look people up in the member directory"
includes = ["read_user"]

[scopes.read]
description = "read all your data and the data of spaces you administer"
includes = ["read_invoices"]

[scopes.billing]
description = "see your invoices"
restricted = true
"""


@pytest.fixture(autouse=True)
def default_catalogue_afterwards() -> Iterator[None]:
    """Each server installs its file's catalogue in the process; later tests get the default."""
    yield
    use_catalogue(load_catalogue(None))


@pytest.fixture
def scopes_text() -> str | None:
    """The scope file of the test's server (None: the default catalogue); tests parametrize it."""
    return None


@pytest.fixture
def settings_overrides(scopes_text: str | None, tmp_path: Path) -> dict[str, Any]:
    if scopes_text is None:
        return {}
    path = tmp_path / "scopes.toml"
    path.write_text(scopes_text)
    return {"scopes_file": path}


@asynccontextmanager
async def restarted(database_url: str, tmp_path: Path, text: str) -> AsyncIterator[Browser]:
    """The server started again on the same database with another scope file."""
    path = tmp_path / "scopes-later.toml"
    path.write_text(text)
    application = create_app(make_settings(database_url, scopes_file=path))
    async with lifespan(application), Browser(application) as browser:
        yield browser


async def consent_page(browser: Browser, app: RegisteredApp, scope: str, host: str = "") -> Any:
    page = await browser.get("/oauth/authorize", params=authorize_params(app, scope=scope))
    return page


async def code_token(browser: Browser, app: RegisteredApp, scope: str) -> dict[str, Any]:
    page = await consent_page(browser, app, scope)
    if page.status_code == 200:
        answer = await decide(browser, page)
        assert answer.status_code == 303, answer.text
    else:
        assert page.status_code == 302, page.text
        answer = page
    code = query(answer.headers["location"])["code"]
    response = await exchange(browser, app, code)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def introspect(browser: Browser, app: RegisteredApp, token: str) -> dict[str, Any]:
    response = await browser.post(
        "/oauth/introspect",
        data={"client_id": app.client_id, "client_secret": app.client_secret or "", "token": token},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ---- Cobot's catalogue is the default ----------------------------------------------------------


@pytest.mark.parametrize("app_name", list(COBOT_APPS))
async def test_cobot_apps_scope_strings_get_a_consent_page_and_a_token(
    state: Any, db: Any, dev: Any, logged_in: Browser, app_name: str
) -> None:
    scope = COBOT_APPS[app_name]
    app = await register_app(state, db, dev, name=app_name, scopes=scope)
    page = await consent_page(logged_in, app, scope)
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    cat = load_catalogue(None)
    for name in scope.split():
        # Each scope is described on the page in the catalogue's words.
        said = cat.describe(name)
        assert said != name
        assert f'{said[0].upper()}{said[1:]}</strong> <small class="muted">({name})' in text, name
    answer = await decide(logged_in, page)
    assert answer.status_code == 303
    response = await exchange(logged_in, app, query(answer.headers["location"])["code"])
    assert response.status_code == 200, response.text
    granted = response.json()["scope"].split()
    # What was asked for, in that order, then what the umbrellas include.
    assert granted[: len(scope.split())] == scope.split()
    assert set(granted) == set(cat.expand(scope.split()))


async def test_a_door_client_gets_checkin_tokens_by_the_password_grant_with_commas(
    state: Any, db: Any, dev: Any, browser: Browser, person: Any
) -> None:
    app = await register_app(state, db, dev, name="Door", scopes=COBOT_APPS["door client"])
    response = await password_grant(browser, app, scope="checkin_tokens,read_bookings,write_bookings")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "checkin_tokens read_bookings write_bookings"


async def test_scopes_no_frontdesk_endpoint_serves_are_reported_everywhere(
    state: Any, db: Any, dev: Any, logged_in: Browser, person: Any
) -> None:
    scope = "openid read_bookings write_activities"
    app = await register_app(state, db, dev, name="Bookings", scopes=scope)
    token = (await code_token(logged_in, app, scope))["access_token"]
    # RFC 7662 introspection.
    assert (await introspect(logged_in, app, token))["scope"] == scope
    # OIDC UserInfo.
    info = await logged_in.get("/api/userinfo", headers=bearer(token))
    assert info.status_code == 200
    assert info.json()["scope"] == scope
    # Cobot's token info.
    tokeninfo = await logged_in.get(f"/api/access_tokens/{token}")
    assert tokeninfo.status_code == 200
    assert tokeninfo.json() == {"scope": scope.split()}
    # Frontdesk's own endpoints still check their scopes: no read_user, no /api/user.
    user = await logged_in.get("/api/user", headers=bearer(token))
    assert user.status_code == 403


async def test_the_main_host_advertises_admin_scopes_and_not_restricted_ones(
    browser: Browser, new_browser: Any, state: Any, db: Any, person: Any
) -> None:
    main = (await browser.get("/.well-known/oauth-authorization-server")).json()["scopes_supported"]
    assert set(ADMIN_SCOPES) <= set(main)
    assert {"read_bookings", "checkin_tokens", "write_membership_picture", "openid"} <= set(main)
    assert "write_space_subscriptions" not in main and "signin" not in main
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    space = new_browser("co-up.localhost:8000")
    listed = (await space.get("/.well-known/oauth-authorization-server")).json()["scopes_supported"]
    assert "read_bookings" in listed
    assert not set(ADMIN_SCOPES) & set(listed)


# ---- restricted scopes and hosts -------------------------------------------------------------


async def test_restricted_scopes_are_for_trusted_apps_only(state: Any, db: Any, dev: Any) -> None:
    with pytest.raises(FieldError) as refused:
        await register_app(state, db, dev, name="Untrusted", scopes="read_user write_space_subscriptions")
    assert "trusted" in refused.value.message
    await db.rollback()
    trusted = await register_app(
        state, db, dev, name="Trusted", scopes="read_user write_space_subscriptions", trusted=True
    )
    assert trusted.client_id


@pytest.mark.parametrize("scopes_text", [FILE_A])
async def test_a_scope_made_restricted_later_is_refused_to_untrusted_apps(
    state: Any, db: Any, dev: Any, browser: Browser, person: Any, database_url: str, tmp_path: Path
) -> None:
    app = await register_app(state, db, dev, name="Billing", scopes="read_user billing")
    ok = await password_grant(browser, app, scope="billing")
    assert ok.status_code == 200, ok.text
    async with restarted(database_url, tmp_path, FILE_B) as later:
        refused = await password_grant(later, app, scope="billing")
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_scope"
        assert "trusted" in refused.json()["error_description"]


@pytest.mark.parametrize(
    "scopes_text",
    ['[scopes.front_desk]\ndescription = "use the front desk of your space"\nhosts = "space"\n'],
)
async def test_a_space_only_scope_is_refused_on_the_main_host(
    state: Any, db: Any, dev: Any, browser: Browser, new_browser: Any, person: Any
) -> None:
    app = await register_app(state, db, dev, name="Desk", scopes="read_user front_desk")
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    main = await password_grant(browser, app, scope="front_desk")
    assert main.status_code == 400
    assert main.json()["error"] == "invalid_scope"
    space = new_browser("co-up.localhost:8000")
    there = await password_grant(space, app, scope="front_desk")
    assert there.status_code == 200, there.text
    assert there.json()["scope"] == "front_desk"
    listed = (await browser.get("/.well-known/openid-configuration")).json()["scopes_supported"]
    assert "front_desk" not in listed
    # Without Cobot's scopes (no `extends`), the built-in ones are still there.
    assert "read_user" in listed and "read_bookings" not in listed


# ---- changing the file never widens a token ----------------------------------------------------


@pytest.mark.parametrize("scopes_text", [FILE_A])
async def test_a_changed_scope_file_never_widens_an_existing_token(
    state: Any, db: Any, dev: Any, logged_in: Browser, person: Any, database_url: str, tmp_path: Path
) -> None:
    app = await register_app(
        state, db, dev, name="Rooms", scopes="rooms directory read", access_token_ttl=3600
    )
    body = await code_token(logged_in, app, "rooms directory")
    token, refresh = body["access_token"], body["refresh_token"]
    before = body["scope"].split()
    assert before == ["rooms", "directory", "read_bookings"]
    # `directory` includes nothing yet: this token may not read the user.
    assert (await logged_in.get("/api/user", headers=bearer(token))).status_code == 403
    # A token with the built-in umbrella `read`, which the later file adds to.
    reader = await password_grant(logged_in, app, scope="read")
    assert reader.status_code == 200
    read_before = reader.json()["scope"].split()
    assert "read_invoices" not in read_before

    async with restarted(database_url, tmp_path, FILE_B) as later:
        # The stored token: the same scopes, at token info and introspection.
        info = await later.get(f"/api/access_tokens/{token}")
        assert info.json() == {"scope": before}
        assert (await introspect(later, app, token))["scope"].split() == before
        read_token = reader.json()["access_token"]
        assert (await introspect(later, app, read_token))["scope"].split() == read_before
        # `directory` now includes read_user, but not for this token.
        user = await later.get("/api/user", headers=bearer(token))
        assert user.status_code == 403
        assert user.json()["error"] == "insufficient_scope"
        # A refresh keeps the granted set; narrowing to an umbrella gives what it held then.
        renewed = await later.post(
            TOKEN_URL,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": app.client_id,
                "client_secret": app.client_secret or "",
                "scope": "rooms",
            },
        )
        assert renewed.status_code == 200, renewed.text
        assert renewed.json()["scope"] == "rooms read_bookings"
        again = await later.post(
            TOKEN_URL,
            data={
                "grant_type": "refresh_token",
                "refresh_token": renewed.json()["refresh_token"],
                "client_id": app.client_id,
                "client_secret": app.client_secret or "",
            },
        )
        assert again.status_code == 200, again.text
        # Without a scope the refresh token gives its whole grant (RFC 6749 §6), as stored.
        assert again.json()["scope"].split() == before

        # A new authorization asks again (the umbrellas mean more now) and gets the new meaning.
        assert (await later.login("pat@example.com")).status_code == 303
        page = await consent_page(later, app, "rooms directory read")
        assert page.status_code == 200
        fresh = await code_token(later, app, "rooms directory read")
        now = fresh["scope"].split()
        assert {"write_bookings", "read_invoices", "read_user"} <= set(now)
        assert (await later.get("/api/user", headers=bearer(fresh["access_token"]))).status_code == 200


@pytest.mark.parametrize("scopes_text", [FILE_A])
async def test_the_test_token_holds_what_the_apps_umbrellas_include(
    state: Any, db: Any, dev: Any, browser: Browser
) -> None:
    app = await register_app(state, db, dev, name="Rooms", scopes="rooms")
    info = await browser.get(f"/api/access_tokens/{app.test_token}")
    assert info.json() == {"scope": ["rooms", "read_bookings"]}


# ---- loading the file ----------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scopes.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scopes.x\n", "not valid TOML"),
        ('colour = "blue"\n', "unknown key 'colour' at the top"),
        ('[scopes.x]\ndescription = "d"\ncolour = "blue"\n', "line 1: scope 'x': unknown key 'colour'"),
        ('\n[scopes."bad name"]\ndescription = "d"\n', "line 2: 'bad name' is not a scope name"),
        ('[scopes.x]\ndescription = ""\n', "'description' (text for the consent page) is required"),
        ('[scopes.x]\ndescription = "a\u202eb"\n', "U+202E"),
        ('[scopes.x]\ndescription = "d"\nhosts = "moon"\n', "'hosts' must be one of main, space, any"),
        (
            '[scopes.x]\ndescription = "d"\nincludes = ["nope"]\n',
            "scope 'x' includes 'nope', which is not defined",
        ),
        ('[scopes.x]\ndescription = "d"\nincludes = ["signin"]\n', "includes the restricted scope 'signin'"),
        ('[scopes."admin:bookings:read"]\ndescription = "d"\n', "reserved for Frontdesk's admin API"),
        ('extends = "github"\n', 'the only catalogue to extend is "cobot"'),
        # Built-in scopes: a new description and more includes only.
        (
            '\n\n[scopes.signin]\ndescription = "d"\nrestricted = false\n',
            "line 3: scope 'signin' is built in",
        ),
        ('[scopes.read_user]\ndescription = "d"\nhosts = "space"\n', "scope 'read_user' is built in"),
    ],
)
def test_a_bad_scope_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogueError) as failed:
        load_catalogue(path)
    assert message in str(failed.value)
    assert str(failed.value).startswith(f"FRONTDESK_SCOPES_FILE {path}")
    # The same error from the settings, before anything starts.
    with pytest.raises(ValidationError) as invalid:
        make_settings("sqlite:///unused.db", scopes_file=path)
    assert message in str(invalid.value)


def test_a_missing_scope_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError) as failed:
        load_catalogue(tmp_path / "nope.toml")
    assert str(failed.value) == f"FRONTDESK_SCOPES_FILE {tmp_path / 'nope.toml'}: no such file"


def test_a_file_may_describe_a_built_in_scope_and_add_to_its_includes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[scopes.x]\ndescription = "see x"\n[scopes.read]\ndescription = "read it all"\nincludes = ["x"]\n',
    )
    cat = load_catalogue(path)
    assert cat.describe("read") == "read it all"
    assert cat.scopes["read"].includes[-1] == "x" and "read_user" in cat.scopes["read"].includes
    assert "read_bookings" not in cat  # no `extends`: Cobot's scopes are not there
    assert "openid" in cat and "admin:users:read" in cat


# ---- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in ("FRONTDESK_SCOPES_FILE", "FRONTDESK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", TEST_SECRET)

    def invoke(*args: str, scopes_file: Path | None = None) -> Any:
        env = {"FRONTDESK_SCOPES_FILE": str(scopes_file)} if scopes_file else {}
        return CliRunner().invoke(cli_app, list(args), env=env, catch_exceptions=False)

    return invoke


def test_scopes_list_shows_the_catalogue(run_cli: Any, tmp_path: Path) -> None:
    result = run_cli("scopes", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.stdout)["scopes"]}
    assert listed["checkin_tokens"]["description"] == load_catalogue(None).describe("checkin_tokens")
    assert listed["read"]["includes"][0] == "read_user"
    assert listed["admin:users:read"] == {
        "name": "admin:users:read",
        "description": "read user accounts (admin API)",
        "hosts": "main",
        "restricted": True,
        "admin": True,
        "builtin": True,
        "includes": [],
    }
    text = run_cli("scopes", "list")
    assert text.exit_code == 0
    line = next(li for li in text.stdout.splitlines() if li.startswith("write_space_subscriptions "))
    assert "restricted" in line and "any" in line
    own = run_cli("scopes", "list", "--json", scopes_file=write(tmp_path, FILE_A))
    assert json.loads(own.stdout)["scopes"][-1]["name"] == "billing"


def test_scopes_list_with_a_bad_file_is_one_line_error(run_cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path, '[scopes.x]\ndescription = "d"\ncolour = "blue"\n')
    result = run_cli("scopes", "list", scopes_file=path)
    assert result.exit_code == 1
    assert "error: bad configuration:" in result.stderr
    assert f"FRONTDESK_SCOPES_FILE {path}, line 1: scope 'x': unknown key 'colour'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


LONG_NAMES = [f"platform_scope_{i:02d}_" + "x" * 60 for i in range(30)]


@pytest.mark.parametrize(
    "scopes_text",
    [
        "".join(f'[scopes.{n}]\ndescription = "d"\n' for n in LONG_NAMES)
        + '[scopes.all]\ndescription = "all"\n'
        f"includes = {json.dumps(LONG_NAMES)}\n"
    ],
)
async def test_an_app_cannot_hold_more_scopes_than_a_token_can_store(
    state: Any, db: Any, dev: Any, browser: Browser, person: Any
) -> None:
    with pytest.raises(FieldError) as refused:
        await register_app(state, db, dev, name="Greedy", scopes=" ".join(LONG_NAMES))
    assert refused.value.message == "Too many scopes for one app: choose fewer."
    await db.rollback()
    # The umbrella counts with what it includes.
    with pytest.raises(FieldError):
        await register_app(state, db, dev, name="Greedy", scopes="all")
    await db.rollback()
    app = await register_app(state, db, dev, name="Modest", scopes=" ".join(LONG_NAMES[:5]))
    assert (await password_grant(browser, app)).status_code == 200
    # Dynamic registration (RFC 7591) goes through the same check: a clear error.
    registered = await browser.post(
        "/oauth/register",
        json={
            "redirect_uris": ["https://g.example/cb"],
            "token_endpoint_auth_method": "none",
            "scope": " ".join(LONG_NAMES),
        },
    )
    assert registered.status_code == 400
    assert registered.json()["error"] == "invalid_client_metadata"


# ---- a real server, restarted with a wider file -----------------------------------------------


@pytest.mark.e2e
def test_a_real_server_restarted_with_a_wider_file_does_not_widen_tokens(tmp_path: Path) -> None:
    import subprocess

    from tests.e2e.conftest import FRONTDESK, free_port, server_env, start, wait_ready

    first, later = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(FILE_A)
    later.write_text(FILE_B)
    port = free_port()
    env = server_env(tmp_path, port, FRONTDESK_SCOPES_FILE=str(first))

    def cli(*args: str) -> Any:
        done = subprocess.run([FRONTDESK, *args], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if "--json" in args else done.stdout

    cli("db", "upgrade")
    cli("users", "create", "pat@example.com", "--password", "a long password 123", "--name", "Pat")
    created = cli(
        "clients", "create", "Rooms", "--owner", "pat@example.com",
        "--redirect-uri", "https://app.example/cb", "--scope", "rooms directory", "--json",
    )  # fmt: skip
    client_id, secret = created["client_id"], created["client_secret"]
    password = {
        "grant_type": "password",
        "username": "pat@example.com",
        "password": "a long password 123",
        "client_id": client_id,
        "client_secret": secret,
    }

    def serve(scopes_file: Path) -> subprocess.Popen[bytes]:
        env["FRONTDESK_SCOPES_FILE"] = str(scopes_file)
        proc = start(tmp_path, port, env)
        wait_ready(port, proc)
        return proc

    proc = serve(first)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"host": f"localhost:{port}"}) as http:
            issued = http.post(TOKEN_URL, data={**password, "scope": "rooms directory"})
            assert issued.status_code == 200, issued.text
            token = issued.json()["access_token"]
            assert issued.json()["scope"] == "rooms directory read_bookings"
    finally:
        stop_process(proc)
    proc = serve(later)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"host": f"localhost:{port}"}) as http:
            info = http.get(f"/api/access_tokens/{token}")
            assert info.json() == {"scope": ["rooms", "directory", "read_bookings"]}
            # `directory` includes read_user now, not for the token issued before.
            assert http.get("/api/user", headers=bearer(token)).status_code == 403
            fresh = http.post(TOKEN_URL, data={**password, "scope": "rooms directory"})
            assert fresh.json()["scope"] == "rooms directory read_bookings write_bookings read_user"
            assert http.get("/api/user", headers=bearer(fresh.json()["access_token"])).status_code == 200
    finally:
        stop_process(proc)
