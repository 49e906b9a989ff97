"""Real client libraries driving a real ``frontdesk serve``: oauth4webapi (JavaScript, run by
Node.js from tests/clients/js).

oauth4webapi comes from the npm registry, pinned in tests/clients/js/package-lock.json and
installed into tests/clients/js/node_modules by ``make test`` (``make client-js``); ``node`` is
found on the PATH (``FRONTDESK_TEST_NODE`` overrides it). Without Node.js 20 or later or the
installed package the oauth4webapi tests are skipped with a message saying how to run them,
unless ``FRONTDESK_REQUIRE_NODE=1`` or ``FRONTDESK_REQUIRE_BROWSER=1`` (both set by ``.ci/run``)
turns the skip into a failure.

The server runs on SQLite and, when ``FRONTDESK_TEST_DATABASE_URL`` is set, on that PostgreSQL
database too (with Redis when ``FRONTDESK_TEST_REDIS_URL`` is set), like tests/e2e's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, serve

JS = Path(__file__).with_name("js")
OAUTH4WEBAPI = JS / "node_modules" / "oauth4webapi" / "package.json"
NODE = os.environ.get("FRONTDESK_TEST_NODE") or shutil.which("node")
MISSING_NODE = (
    f"oauth4webapi tests skipped: Node.js 20 or later not found ({NODE or 'no node on PATH'}); "
    "install Node.js and npm, then run `make client-js` (npm ci in tests/clients/js) or `make test`"
)
MISSING_PACKAGE = (
    f"oauth4webapi tests skipped: oauth4webapi is not installed at {OAUTH4WEBAPI.parent}; "
    "run `make client-js` (npm ci in tests/clients/js) or `make test`"
)
PG_URL = os.environ.get("FRONTDESK_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("FRONTDESK_TEST_REDIS_URL")
# A script that waits longer than this for the server (or the test) has hung.
SCRIPT_TIMEOUT = 120


def _required() -> bool:
    return "1" in (os.environ.get("FRONTDESK_REQUIRE_NODE"), os.environ.get("FRONTDESK_REQUIRE_BROWSER"))


def _node_major(node: str) -> int:
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return 0
    digits = version.strip().lstrip("v").split(".")[0]
    return int(digits) if digits.isdigit() else 0


def node_missing() -> str | None:
    """Why the oauth4webapi tests cannot run here, or None."""
    if NODE is None or _node_major(NODE) < 20:
        return MISSING_NODE
    if not OAUTH4WEBAPI.exists():
        return MISSING_PACKAGE
    return None


# How the skips are counted on pytest's last line, e.g. "412 passed, 96 oauth4webapi tests
# skipped (not installed) in 80s", so a run without Node.js or oauth4webapi never looks complete.
SKIPPED_CATEGORY = "oauth4webapi tests skipped (not installed)"


def _skipped_for_lack_of_node(report: pytest.TestReport) -> bool:
    reason = str(report.longrepr)
    return report.skipped and (MISSING_NODE in reason or MISSING_PACKAGE in reason)


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    if _skipped_for_lack_of_node(report):
        return SKIPPED_CATEGORY, "s", "SKIPPED"
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if terminalreporter.stats.get(SKIPPED_CATEGORY):
        terminalreporter.write_line(node_missing() or MISSING_NODE, yellow=True, bold=True)


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` executable, with oauth4webapi installed beside the scripts."""
    missing = node_missing()
    if missing:
        if _required():
            pytest.fail(missing.replace("skipped", "required"), pytrace=False)
        pytest.skip(missing)
    assert NODE
    return NODE


# ---- the server -------------------------------------------------------------------------------


# The shortest poll interval of the device grant (a second, RFC 8628 §3.2), so a test waits
# little; dynamic registrations not limited to 10 an hour (the limit outlives a run in Redis).
SERVER_SETTINGS = {
    "FRONTDESK_DEVICE_POLL_INTERVAL_SECONDS": "1",
    "FRONTDESK_DYNAMIC_REGISTRATION_RATE_LIMIT": "1000/minute",
}


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory.mktemp("clients"), **SERVER_SETTINGS)


@pytest.fixture(scope="module")
def postgresql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server on the PostgreSQL test database (shared: every name in it is unique)."""
    if not PG_URL:
        pytest.skip(
            "PostgreSQL client tests skipped: set FRONTDESK_TEST_DATABASE_URL="
            "postgresql://postgres@127.0.0.1:5432/test (or run .ci/run) to run them on PostgreSQL too"
        )
    extra = {"FRONTDESK_DATABASE_URL": PG_URL, **SERVER_SETTINGS}
    if REDIS_URL:
        extra["FRONTDESK_REDIS_URL"] = REDIS_URL
    yield from serve(tmp_path_factory.mktemp("clients-pg"), **extra)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue(f"{request.param}_server")


# ---- running a script -------------------------------------------------------------------------


@dataclass
class ScriptRun:
    """What a script printed: its events in order, the last one the result (or the error)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""

    @property
    def last(self) -> dict[str, Any]:
        return self.events[-1] if self.events else {}

    @property
    def result(self) -> dict[str, Any]:
        """The result event; fails the test with the script's error when it ended in one."""
        if self.last.get("event") != "result":
            raise AssertionError(f"the script did not finish: {self.describe()}")
        return self.last

    @property
    def error(self) -> dict[str, Any]:
        """The error event, for a test that expects the client to refuse or be refused."""
        if self.last.get("event") != "error":
            raise AssertionError(f"the script did not end in an error: {self.describe()}")
        return self.last

    def describe(self) -> str:
        last = {k: v for k, v in self.last.items() if k != "exchanges"}
        exchanges = self.last.get("exchanges", [])[-3:]
        tail = self.stderr[-3000:]
        return json.dumps({"last": last, "last_exchanges": exchanges, "stderr": tail}, indent=1)


Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def run_script(node: str, script: str, config: dict[str, Any], on_event: Handler | None = None) -> ScriptRun:
    """Run ``tests/clients/js/<script>`` with ``config``; each event before the last goes to
    ``on_event``, whose answer (if any) is written to the script's stdin as one JSON line."""
    proc = subprocess.Popen(
        [node, str(JS / script), json.dumps(config)],
        cwd=JS,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(SCRIPT_TIMEOUT, proc.kill)
    watchdog.start()
    run = ScriptRun()
    try:
        assert proc.stdout and proc.stdin and proc.stderr
        for line in proc.stdout:
            event = json.loads(line)
            run.events.append(event)
            if event["event"] in ("result", "error"):
                proc.stdin.close()
                continue
            assert on_event is not None, f"unexpected event from {script}: {event}"
            answer = on_event(event)
            if answer is not None:
                proc.stdin.write(json.dumps(answer) + "\n")
                proc.stdin.flush()
        run.stderr = proc.stderr.read()
        proc.wait(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return run
