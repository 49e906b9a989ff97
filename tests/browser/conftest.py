"""Real-browser tests: headless Debian Chromium driven by Playwright against a real
``frontdesk serve`` process (one per test module, its own SQLite database).

Chromium resolves ``*.localhost`` to the loopback interface by itself, so space hosts such as
``http://co-up.localhost:PORT`` work without DNS. Playwright cannot download a browser here: it
launches the system Chromium at ``/usr/bin/chromium`` (``FRONTDESK_TEST_CHROMIUM`` overrides the
path). Without it every test here is skipped, unless ``FRONTDESK_REQUIRE_BROWSER=1`` (set by
``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.browser.support import ARTIFACTS, REPO, STEP_MS, Person, SpaceApp
from tests.e2e.conftest import FRONTDESK, Server, cli, free_port, server_env, start, wait_ready
from tests.support import stop_process

CHROMIUM = Path(os.environ.get("FRONTDESK_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium phones home at start; the closed network refuses it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = (
    f"browser tests skipped: Chromium not found at {CHROMIUM}; install Debian's chromium "
    "(apt-get install chromium) or run .ci/run (Playwright's own download does not work here)"
)
# How the skips are counted on pytest's last line, e.g. "412 passed, 17 browser tests skipped
# (no Chromium) in 80s", so a run without a browser never looks complete.
SKIPPED_CATEGORY = "browser tests skipped (no Chromium)"

# What examples/space_app asks for (examples/space_app/register.sh registers it the same way).
SPACE_APP_SCOPE = "openid profile email read_user navigation read_memberships"

expect.set_options(timeout=STEP_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


def _skipped_for_lack_of_chromium(report: pytest.TestReport | pytest.CollectReport) -> bool:
    return report.skipped and MISSING in str(report.longrepr)


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    if _skipped_for_lack_of_chromium(report):
        return SKIPPED_CATEGORY, "s", "SKIPPED"
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if terminalreporter.stats.get(SKIPPED_CATEGORY):
        terminalreporter.write_line(MISSING, yellow=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    # Fixtures look at this to keep a screenshot of a failed test's pages.
    setattr(item, f"report_{report.when}", report)
    return report


# Module-scoped, not session-scoped: the browser and Playwright's driver (and its event loop in
# this thread) end with the last browser test instead of living on through the rest of the suite.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        if os.environ.get("FRONTDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(MISSING.replace("skipped", "required"), pytrace=False)
        pytest.skip(MISSING)
    with sync_playwright() as pw:
        yield pw


def launch(playwright: Playwright, *extra_args: str) -> Iterator[Browser]:
    """Debian's Chromium, headless, closed when the module is done."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *extra_args], timeout=60_000
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    yield from launch(playwright)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``frontdesk serve`` on a free port; FRONTDESK_PUBLIC_URL=http://localhost:PORT, so
    spaces live at http://<subdomain>.localhost:PORT."""
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = server_env(tmp, port)
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        yield Server(port=port, base=f"http://localhost:{port}", log=tmp / "server.log", env=env)
    finally:
        stop_process(proc)


def new_context(chromium: Browser, locale: str = "en-US") -> BrowserContext:
    """A fresh profile: no cookies, bounded waits, the browser's language ``locale``."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(STEP_MS)
    context.set_default_navigation_timeout(STEP_MS)
    return context


def keep_failure_screenshots(request: pytest.FixtureRequest, contexts: list[BrowserContext]) -> None:
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    folder = ARTIFACTS / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    for c, context in enumerate(contexts):
        for p, page in enumerate(context.pages):
            path = folder / f"{request.node.name}-{c}-{p}.png"
            try:
                page.screenshot(path=str(path), full_page=True, timeout=5_000)
            except Exception:  # the page may be gone: a screenshot is only a courtesy
                continue


@pytest.fixture
def browser_contexts(
    chromium: Browser, request: pytest.FixtureRequest
) -> Iterator[Callable[..., BrowserContext]]:
    """Makes fresh browser profiles (one per person); all are closed after the test, and their
    pages are kept as screenshots under test-artifacts/browser/failures/ if it failed."""
    made: list[BrowserContext] = []

    def make(locale: str = "en-US") -> BrowserContext:
        made.append(new_context(chromium, locale))
        return made[-1]

    try:
        yield make
    finally:
        keep_failure_screenshots(request, made)
        for context in made:
            context.close()


@pytest.fixture
def context(browser_contexts: Callable[[], BrowserContext]) -> BrowserContext:
    return browser_contexts()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# ---- the example app (examples/space_app) beside the server ----------------------------------


@pytest.fixture(scope="module")
def space_app(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpaceApp]:
    if not (REPO / "examples" / "space_app" / "__main__.py").exists():
        pytest.skip("examples/space_app is not there")
    tmp = tmp_path_factory.mktemp("space-app")
    port = free_port()
    url = f"http://localhost:{port}"
    owner = Person.new("Owen")
    cli(server, "users", "create", owner.email, "--password", owner.password, "--name", owner.name)
    app = cli(
        server,
        *("clients", "create", "Space App", "--owner", owner.email),
        *("--redirect-uri", f"{url}/auth/callback", "--scope", SPACE_APP_SCOPE),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRONTDESK_", "SPACE_APP_"))}
    env.update(
        {
            "FRONTDESK_URL": server.base,
            "SPACE_APP_CLIENT_ID": app["client_id"],
            "SPACE_APP_CLIENT_SECRET": app["client_secret"],
            "SPACE_APP_URL": url,
            "SPACE_APP_SECRET": secrets.token_urlsafe(32),
            "SPACE_APP_DATA_DIR": str(tmp / "data"),
        }
    )
    log = tmp / "space_app.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "examples.space_app"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_app(port, proc, log)
        yield SpaceApp(url=url, client_id=app["client_id"], owner=owner, log=log)
    finally:
        stop_process(proc)


def wait_for_app(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"examples.space_app exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"examples.space_app did not answer within {timeout} s:\n{log.read_text()}")
