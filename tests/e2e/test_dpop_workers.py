"""DPoP proofs are single use across every worker (RFC 9449 §11.1): a real ``frontdesk serve
--workers 2`` with Redis (FRONTDESK_TEST_REDIS_URL), on SQLite and on PostgreSQL
(FRONTDESK_TEST_DATABASE_URL). The replay guard is services/throttle.Throttle.first_use.

The same proof is sent many times, at once and on new connections, so that the kernel hands
them to both workers: exactly one is accepted. With a per-worker memory instead of Redis each
worker would accept it once.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.dpop_support import DpopKey
from tests.e2e.conftest import FRONTDESK, free_port, server_env, start, wait_ready
from tests.support import PASSWORD, stop_process

pytestmark = pytest.mark.e2e
ATTEMPTS = 24


def cli(env: dict[str, str], cwd: Path, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [FRONTDESK, *args, "--json"], env=env, cwd=cwd, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.fixture(params=["sqlite", "postgresql"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[int, dict[str, str]]]:
    redis = os.environ.get("FRONTDESK_TEST_REDIS_URL")
    if not redis:
        pytest.skip("set FRONTDESK_TEST_REDIS_URL: the workers share the replay guard through Redis")
    extra = {"FRONTDESK_REDIS_URL": redis}
    if request.param == "postgresql":
        url = os.environ.get("FRONTDESK_TEST_DATABASE_URL")
        if not url:
            pytest.skip("set FRONTDESK_TEST_DATABASE_URL for the PostgreSQL case")
        extra["FRONTDESK_DATABASE_URL"] = url
    port = free_port()
    env = server_env(tmp_path, port, **extra)
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    proc = start(tmp_path, port, env, "--workers", "2")
    try:
        wait_ready(port, proc)
        yield port, env
    finally:
        stop_process(proc)


def post_token(port: int, app: dict[str, object], proof: str) -> int:
    with httpx.Client(timeout=10) as c:  # a new connection each time
        return c.post(
            f"http://127.0.0.1:{port}/oauth/access_token",
            headers={"host": f"localhost:{port}", "dpop": proof},
            data={
                "grant_type": "password",
                "username": str(app["owner"]),
                "password": PASSWORD,
                "client_id": str(app["client_id"]),
                "client_secret": str(app["client_secret"]),
            },
        ).status_code


def get_user(port: int, token: str, proof: str) -> int:
    with httpx.Client(timeout=10) as c:
        return c.get(
            f"http://127.0.0.1:{port}/api/user",
            headers={"host": f"localhost:{port}", "authorization": f"DPoP {token}", "dpop": proof},
        ).status_code


def at_once(call: object, count: int) -> list[int]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: call(), range(count)))  # type: ignore[operator]


@pytest.mark.rfc("9449 11.1")
def test_a_proof_is_accepted_once_across_two_workers(
    server: tuple[int, dict[str, str]], tmp_path: Path
) -> None:
    port, env = server
    suffix = os.urandom(3).hex()
    email = f"dpop-{suffix}@example.com"
    cli(env, tmp_path, "users", "create", email, "--password", PASSWORD)
    app = cli(
        env,
        tmp_path,
        "clients",
        "create",
        f"DPoP {suffix}",
        "--owner",
        email,
        "--redirect-uri",
        "https://app.example/cb",
        "--scope",
        "read_user",
    )
    key = DpopKey()
    base = f"http://localhost:{port}"
    # The token endpoint: one token for one proof.
    proof = key.proof(htu=base + "/oauth/access_token")
    codes = at_once(lambda: post_token(port, app, proof), ATTEMPTS)
    assert sorted(codes) == [200] + [400] * (ATTEMPTS - 1), codes
    # A bound token, then one proof sent to the API many times: accepted once.
    with httpx.Client(timeout=10) as c:
        issued = c.post(
            f"http://127.0.0.1:{port}/oauth/access_token",
            headers={"host": f"localhost:{port}", "dpop": key.proof(htu=base + "/oauth/access_token")},
            data={
                "grant_type": "password",
                "username": email,
                "password": PASSWORD,
                "client_id": str(app["client_id"]),
                "client_secret": str(app["client_secret"]),
            },
        )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    api_proof = key.proof("GET", base + "/api/user", token=token)
    codes = at_once(lambda: get_user(port, token, api_proof), ATTEMPTS)
    assert sorted(codes) == [200] + [401] * (ATTEMPTS - 1), codes
    # Fresh proofs keep working on every worker.
    fresh = [get_user(port, token, key.proof("GET", base + "/api/user", token=token)) for _ in range(6)]
    assert fresh == [200] * 6
