"""Two Frontdesk servers on different ports sharing one PostgreSQL and one Redis.

    .venv/bin/python bench/scaleout.py [--workers 1] [--duration 8]

1. Loads both servers with W1 (GET /api/user) at once and reports each one's throughput.
2. Revokes a token through server A while both keep serving it, and measures how long
   server B (and A) keep answering 200: revocation must reach every worker within a second.
3. Issues a token through B's token endpoint and uses it on A at once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402
import seed as seeding  # noqa: E402


def status(port: int, token: str) -> int:
    with httpx.Client(timeout=5) as c:
        return c.get(
            f"http://127.0.0.1:{port}/api/user", headers={"authorization": f"Bearer {token}"}
        ).status_code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FRONTDESK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("FRONTDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    )
    parser.add_argument("--workers", type=int, default=1, help="workers per server")
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    binary = run.ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="frontdesk-scaleout-"))
    database = run.pg_database(args.pg_url, "frontdesk_scaleout")
    ports = [run.free_port(), run.free_port()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        {
            "FRONTDESK_DATABASE_URL": database,
            "FRONTDESK_REDIS_URL": args.redis_url,
            "FRONTDESK_SECRET_KEY": run.SECRET,
            "FRONTDESK_API_RATE_LIMIT": "0",
        }
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("FRONTDESK_")})
    subprocess.run([str(run.BIN / "frontdesk"), "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [sys.executable, str(HERE / "seed.py"), "--w1-tokens", "20", "--out", str(tmp / "tokens.txt")],
        env=env,
        check=True,
        capture_output=True,
    )
    tokens = (tmp / "tokens.txt").read_text().split()
    servers = []
    try:
        for port in ports:
            server_env = {**env, "FRONTDESK_PUBLIC_URL": f"http://localhost:{port}"}
            ns = argparse.Namespace(server="uvicorn", workers=args.workers)
            servers.append(run.Server(ns, server_env, port, tmp / f"server-{port}.log"))

        # 1. Both servers under load at once.
        results: dict[int, dict[str, float]] = {}

        def load(port: int) -> None:
            plan = {"FD_MODE": "plain", "FD_PATH": "/api/user", "FD_TOKENS": str(tmp / "tokens.txt")}
            results[port] = run.wrk(binary, f"http://127.0.0.1:{port}", args.duration, 1, 16, plan)

        threads = [threading.Thread(target=load, args=(port,)) for port in ports]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = sum(r["rate"] for r in results.values())
        for port, r in results.items():
            print(f"W1 on :{port:<6} {r['rate']:>8,.0f}/s  p99 {r['p99_ms']:.1f} ms  errors {int(r['bad'])}")
        print(f"W1 both      {total:>8,.0f}/s")

        # 2. Revocation through A reaches B.
        victim = tokens[0]
        for _ in range(10):
            assert status(ports[0], victim) == 200 and status(ports[1], victim) == 200
        with httpx.Client() as c:
            assert c.delete(f"http://127.0.0.1:{ports[0]}/api/access_tokens/{victim}").status_code == 204
        start = time.monotonic()
        last_ok = {port: 0.0 for port in ports}
        while time.monotonic() - start < 2.0:
            for port in ports:
                if status(port, victim) == 200:
                    last_ok[port] = time.monotonic() - start
        for port in ports:
            print(f"revoked via :{ports[0]}; :{port} answered 200 until {last_ok[port] * 1000:.0f} ms after")
        consistent = all(v < 1.0 for v in last_ok.values())

        # 3. A token issued by B works on A right away.
        with httpx.Client() as c:
            issued = c.post(
                f"http://127.0.0.1:{ports[1]}/oauth/access_token",
                data={
                    "grant_type": "password",
                    "username": seeding.BENCH_EMAIL,
                    "password": seeding.BENCH_PASSWORD,
                    "client_id": seeding.CLIENT_ID,
                    "client_secret": seeding.CLIENT_SECRET,
                    "scope": "read_user",
                },
            )
        fresh = issued.json()["access_token"]
        shared = status(ports[0], fresh) == 200
        print(f"token issued by :{ports[1]} accepted by :{ports[0]}: {shared}")
        print("consistent" if consistent and shared else "INCONSISTENT")
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
