"""Without Node.js the oauth4webapi tests skip and say how to run them; where they are required
(``FRONTDESK_REQUIRE_NODE=1``, set by ``.ci/run``) they fail instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]
ONE_TEST = "tests/clients/test_oauth4webapi.py::test_client_credentials_for_the_admin_api"


def run_without_node(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_REQUIRE_")}
    env.update(FRONTDESK_TEST_NODE=str(tmp_path / "no-node"), **extra)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            ONE_TEST,
            "-k",
            "sqlite",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_node_the_tests_skip_and_say_how_to_run_them(tmp_path: Path) -> None:
    result = run_without_node(tmp_path)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.strip().splitlines()
    assert "1 oauth4webapi tests skipped (not installed)" in lines[-1]
    assert "make client-js" in result.stdout


def test_where_node_is_required_its_absence_fails(tmp_path: Path) -> None:
    result = run_without_node(tmp_path, FRONTDESK_REQUIRE_NODE="1")
    assert result.returncode == 1, result.stdout
    assert "oauth4webapi tests required: Node.js 20 or later not found" in result.stdout
