"""What `make test` needs is said in the README, and a run without Chromium says so at its end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]


def test_readme_says_what_make_test_needs() -> None:
    intro = (REPO / "README.md").read_text().split("## A five-minute tour")[0]
    for needed in ("Python 3.11", "`chromium`", "`npm`", "`nginx`", "`caddy`", "`systemd`", "PostgreSQL"):
        assert needed in intro


def test_browser_tests_without_chromium_say_so_on_the_last_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FRONTDESK_REQUIRE_BROWSER"}
    env["FRONTDESK_TEST_CHROMIUM"] = str(tmp_path / "no-chromium")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "tests/browser/test_clickjacking.py",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    lines = result.stdout.strip().splitlines()
    assert "browser tests skipped (no Chromium)" in lines[-1]
    assert any(line.startswith("browser tests skipped: Chromium not found") for line in lines)
    assert "apt-get install chromium" in result.stdout
