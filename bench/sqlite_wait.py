"""Measure the SQLite write-lock wait of W2's code flow with two worker processes.

    .venv/bin/python bench/sqlite_wait.py                    # both ways, interleaved, 3 rounds
    .venv/bin/python bench/sqlite_wait.py --rounds 1 --seconds 5

Two processes share one SQLite database (as two ``frontdesk serve`` workers do), each runs the
ASGI application in process (no HTTP, no load generator) with four concurrent code flows
(GET /oauth/authorize with a session and a consent, POST /oauth/access_token with PKCE: W2 of
../shared/bench-peers). Each round runs two ways, one after the other:

- ``sleeping``: the way before store/sqlite_inline.py awaited the lock: SQLite's busy handler
  (``busy_timeout``), which sleeps on the event loop's thread while the other process writes;
- ``awaiting``: the current code: ``BEGIN IMMEDIATE`` retried after ``asyncio.sleep`` steps.

It prints counts and times that do not depend on a quiet machine: write transactions per flow,
how many found the other process holding the lock, and the time the event loop stood still in
SQLite's busy handler (``sleeping``) or spent awaiting the lock while serving other flows
(``awaiting``); and, noisy on a shared machine, flows/s and the workers' CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))
import profile_flows  # noqa: E402
import seed as seeding  # noqa: E402

CONCURRENCY = 4


def sleeping_way() -> dict[str, float]:
    """Put back the wait as it was: a busy timeout on the connection, no ``BEGIN IMMEDIATE``
    (pysqlite begins a deferred transaction before the first write, which then waits in the
    busy handler). Times that first write: the loop is blocked for all of it."""
    from frontdesk.store import sqlite_inline

    blocked = {"first_writes": 0, "contended": 0, "seconds": 0.0}
    sqlite_inline.InlineConnection.busy_timeout_ms = 10000

    async def run_statement(connection: Any, sql: str, attempt: Any) -> Any:
        if connection.in_transaction or not sqlite_inline._starts_write(sql):
            return attempt()
        started = time.perf_counter()
        try:
            return attempt()
        finally:
            spent = time.perf_counter() - started
            blocked["first_writes"] += 1
            if spent > 0.0009:  # SQLite's busy handler sleeps 1 ms or more per try
                blocked["contended"] += 1
                blocked["seconds"] += spent

    sqlite_inline.run_statement = run_statement  # type: ignore[assignment]
    return blocked


async def child(way: str, seconds: float, tmp: str) -> dict[str, Any]:
    from asgi_lifespan import LifespanManager

    from frontdesk.settings import Settings
    from frontdesk.store import sqlite_inline
    from frontdesk.web.app import create_app

    blocked = sleeping_way() if way == "sleeping" else None
    holds: list[float] = []
    if blocked is None:
        released = sqlite_inline._released

        def record(connection: Any) -> None:
            since = sqlite_inline._HOLDING.get(id(connection))
            if since is not None:
                holds.append(time.monotonic() - since)
            released(connection)

        sqlite_inline._released = record  # type: ignore[assignment]
    app = create_app(Settings())
    call = profile_flows.call
    async with LifespanManager(app):
        status, headers, body = await call(app, "GET", "/login", [])
        csrf = body.decode().split('name="csrf_token" value="')[1].split('"')[0]
        pre = headers.get("set-cookie")
        form = urlencode(
            {"email": seeding.BENCH_EMAIL, "password": seeding.BENCH_PASSWORD, "csrf_token": csrf}
        ).encode()
        login_headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", "http://localhost:8000"),
        ]
        if pre:
            login_headers.append(("cookie", pre))
        status, headers, _ = await call(app, "POST", "/login", login_headers, form)
        assert status == 303, status
        cookie = headers["set-cookie"]
        verifier = "v" * 64
        import base64
        import hashlib

        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        authorize = "/oauth/authorize?" + urlencode(
            {
                "response_type": "code",
                "client_id": seeding.CLIENT_ID,
                "redirect_uri": seeding.REDIRECT_URI,
                "scope": "read_user",
                "state": "benchstate",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        basic = base64.b64encode(f"{seeding.CLIENT_ID}:{seeding.CLIENT_SECRET}".encode()).decode()
        token_headers = [
            ("authorization", f"Basic {basic}"),
            ("content-type", "application/x-www-form-urlencoded"),
        ]
        done = {"flows": 0}
        stop_at = 0.0

        async def loop() -> None:
            while time.perf_counter() < stop_at:
                status, headers, _ = await call(app, "GET", authorize, [("cookie", cookie)])
                assert status == 302, status
                code = parse_qs(urlsplit(headers["location"]).query)["code"][0]
                form = urlencode(
                    {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
                )
                status, _, body = await call(app, "POST", "/oauth/access_token", token_headers, form.encode())
                assert status == 200, (status, body[:200])
                done["flows"] += 1

        stop_at = time.perf_counter() + 1.0  # warm up
        await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
        # Start together: the parent releases both processes through a file.
        go = Path(tmp) / "go"
        print("ready", flush=True)
        while not go.exists():  # noqa: ASYNC110 - another process creates it
            await asyncio.sleep(0.005)
        done["flows"] = 0
        waits = sqlite_inline.LOCK_WAITS
        waits.begins = waits.contended = waits.tries = waits.blocking = 0
        waits.wait_seconds = waits.held_seconds = 0.0
        if blocked is not None:
            blocked.update(first_writes=0, contended=0, seconds=0.0)
        holds.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        stop_at = wall + seconds
        await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    flows = done["flows"]
    if blocked is not None:
        writes, contended, loop_blocked, awaited = (
            blocked["first_writes"],
            blocked["contended"],
            blocked["seconds"],
            0.0,
        )
    else:
        writes, contended, loop_blocked, awaited = waits.begins, waits.contended, 0.0, waits.wait_seconds
    return {
        "flows": flows,
        "wall": wall,
        "cpu": cpu,
        "write_transactions": writes,
        "contended": contended,
        "loop_blocked": loop_blocked,
        "awaited": awaited,
        "blocking_fallbacks": waits.blocking,
        "held": waits.held_seconds,
        "held_p50": statistics.median(holds) if holds else 0.0,
        "held_p99": sorted(holds)[int(0.99 * len(holds))] if holds else 0.0,
    }


def run_way(way: str, seconds: float, env: dict[str, str], tmp: str) -> dict[str, Any]:
    go = Path(tmp) / "go"
    go.unlink(missing_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", way, "--seconds", str(seconds)],
            env={**env, "WAIT_TMP": tmp},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        assert proc.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    total = {key: sum(r[key] for r in results) for key in results[0]}
    total["wall"] = max(r["wall"] for r in results)
    return total


def report(way: str, t: dict[str, Any]) -> str:
    flows = t["flows"] or 1
    return (
        f"{way:9} {t['flows'] / t['wall']:7.0f} flows/s  CPU {t['cpu'] / t['wall']:.2f} cores, "
        f"{1000 * t['cpu'] / flows:.2f} ms/flow | "
        f"write transactions/flow {t['write_transactions'] / flows:.2f}, "
        f"contended {100 * t['contended'] / max(t['write_transactions'], 1):.1f} %, "
        f"loop blocked {1000 * t['loop_blocked'] / flows:.3f} ms/flow "
        f"({100 * t['loop_blocked'] / (2 * t['wall']):.1f} % of worker time), "
        f"lock awaited {1000 * t['awaited'] / flows:.3f} ms/flow, "
        f"blocking fallbacks {t['blocking_fallbacks']}, "
        f"lock held {1e6 * t['held'] / max(t['write_transactions'], 1):.0f} µs per write transaction "
        f"(p50 {1e6 * t['held_p50'] / 2:.0f}, p99 {1e6 * t['held_p99'] / 2:.0f} µs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--child", choices=["sleeping", "awaiting"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.seconds, os.environ["WAIT_TMP"]))))
        return
    with tempfile.TemporaryDirectory(prefix="frontdesk-wait-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
        env.update(
            {
                "FRONTDESK_DATABASE_URL": f"sqlite:///{tmp}/wait.db",
                "FRONTDESK_SECRET_KEY": "profile-secret-key-0123456789abcdef0123456789",
                "FRONTDESK_API_RATE_LIMIT": "0",
                "FRONTDESK_ARGON2_TIME_COST": "1",
                "FRONTDESK_ARGON2_MEMORY_KIB": "8192",
                "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT": "1000000/minute",
                "FRONTDESK_LOGIN_FAILURES_PER_ADDRESS": "1000000/minute",
                "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS": "1000000/minute",
            }
        )
        subprocess.run([str(BIN / "frontdesk"), "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [sys.executable, str(HERE / "seed.py"), "--out", f"{tmp}/tokens.txt"],
            env=env,
            check=True,
            capture_output=True,
        )
        for number in range(args.rounds):
            ways = ["sleeping", "awaiting"] if number % 2 == 0 else ["awaiting", "sleeping"]
            for way in ways:
                print(f"round {number + 1}: {report(way, run_way(way, args.seconds, env, tmp))}", flush=True)


if __name__ == "__main__":
    main()
