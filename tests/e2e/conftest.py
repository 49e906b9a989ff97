"""A real `frontdesk serve` process on a free port, with its own SQLite database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import TEST_SECRET

FRONTDESK = str(Path(sys.executable).with_name("frontdesk"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    base: str
    log: Path
    env: dict[str, str]

    def url(self, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}"

    def client(self, host: str = "localhost", **kwargs: object) -> httpx.Client:
        """A client that connects to 127.0.0.1 but names ``host`` (no DNS for *.localhost needed)."""
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"host": f"{host}:{self.port}"},
            follow_redirects=False,
            **kwargs,
        )  # type: ignore[arg-type]

    def read_log(self) -> str:
        return self.log.read_text()


def server_env(tmp: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        {
            "FRONTDESK_DATABASE_URL": f"sqlite:///{tmp}/e2e.db",
            "FRONTDESK_PUBLIC_URL": f"http://localhost:{port}",
            "FRONTDESK_SECRET_KEY": TEST_SECRET,
            "FRONTDESK_ARGON2_TIME_COST": "1",
            "FRONTDESK_ARGON2_MEMORY_KIB": "64",
        }
    )
    env.update(extra)
    return env


def start(tmp: Path, port: int, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    log = (tmp / "server.log").open("ab")
    return subprocess.Popen(
        [FRONTDESK, "serve", "--port", str(port), *args],
        env=env,
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not become ready")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("e2e")
    port = free_port()
    env = server_env(tmp, port)
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        yield Server(port=port, base=f"http://localhost:{port}", log=tmp / "server.log", env=env)
    finally:
        proc.terminate()
        proc.wait(10)
