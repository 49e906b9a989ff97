"""Frontdesk's benchmark: start the server as production would, seed it, load it with wrk.

    make bench                                  # SQLite, 2 uvicorn workers, all workloads
    .venv/bin/python bench/run.py --db postgresql --workers 2 --duration 10
    .venv/bin/python bench/run.py --scale       # 100,000 users and 1,000,000 tokens

Workloads (all against 127.0.0.1 only, each bounded by --duration):
  W0  GET /healthz, no authentication: the ceiling of the stack in this deployment
  W1  GET /api/user with a valid bearer token (cycling through --w1-tokens tokens)
  W2  complete authorization-code flows: authorize (session, existing consent, PKCE) -> code -> token
  W3  password grants (Argon2id with the peers' cost)
  W4  W1 while W3 floods in parallel
Prints a table, writes results JSON and a PNG chart to --out.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))
import seed as seeding  # noqa: E402

ARGON2 = {"time_cost": 2, "memory_kib": 19456, "parallelism": 1}  # as in ../shared/bench-peers
SECRET = "benchmark-secret-key-0123456789abcdef0123456789"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("# wrk is missing: installing Debian's package", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        subprocess.run(["apt-get", "update"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk could not be installed; install it with: apt-get install -y wrk")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_database(admin_url: str, name: str) -> str:
    """A fresh PostgreSQL database for this run (dropped first if it exists)."""
    import asyncio

    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from frontdesk.settings import normalize_database_url

    async def go() -> None:
        engine = create_async_engine(normalize_database_url(admin_url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            await conn.execute(text(f"CREATE DATABASE {name}"))
        await engine.dispose()

    asyncio.run(go())
    return str(make_url(admin_url).set(database=name))


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def argon2_bound(cores: int) -> tuple[float, float, float]:
    """(verify ms on one core, the issue's bound cores / verify time, and what ``cores`` threads
    verifying at once really achieve: they share memory bandwidth, so a little less)."""
    import threading

    from argon2 import PasswordHasher, Type

    ph = PasswordHasher(
        time_cost=ARGON2["time_cost"],
        memory_cost=ARGON2["memory_kib"],
        parallelism=ARGON2["parallelism"],
        type=Type.ID,
    )
    stored = ph.hash("x")
    times = []
    for _ in range(15):
        start = time.process_time()
        ph.verify(stored, "x")
        times.append(time.process_time() - start)
    verify = statistics.median(times)

    def work() -> None:
        for _ in range(10):
            ph.verify(stored, "x")

    threads = [threading.Thread(target=work) for _ in range(cores)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    concurrent = 10 * cores / (time.perf_counter() - started)
    return verify * 1000, cores / verify, concurrent


class Server:
    def __init__(self, args: argparse.Namespace, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        if args.server == "granian":
            cmd = [
                str(BIN / "granian"),
                "--interface",
                "asgi",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
                "frontdesk.web.app:create_app_from_env",
            ]
        else:
            cmd = [
                str(BIN / "frontdesk"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ]
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited; see {log}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    time.sleep(1.0)  # let every worker finish starting
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        sys.exit("server did not start")

    def workers(self) -> list[int]:
        kids = children(self.proc.pid)
        return [pid for kid in kids for pid in (children(kid) or [kid])] if kids else [self.proc.pid]

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


def wrk(
    binary: str, url: str, duration: int, threads: int, conns: int, env: dict[str, str]
) -> dict[str, float]:
    cmd = [
        binary,
        f"-t{threads}",
        f"-c{conns}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "workloads.lua"),
        url,
    ]
    out = subprocess.run(
        cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=duration + 60
    )
    match = re.search(r"FD_RESULT (\{.*\})", out.stdout)
    if not match:
        sys.exit(f"wrk failed: {out.stdout}\n{out.stderr}")
    result = json.loads(match.group(1))
    result["rate"] = result["good"] / result["seconds"]
    return result


def login_cookie(base: str) -> str:
    with httpx.Client(base_url=base) as c:
        page = c.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        r = c.post(
            "/login",
            data={
                "email": seeding.BENCH_EMAIL,
                "password": seeding.BENCH_PASSWORD,
                "csrf_token": token.group(1),
            },
        )
        assert r.status_code == 303, r.text
        return "; ".join(f"{k}={v}" for k, v in c.cookies.items())


def flow_env(base: str, cookie: str) -> dict[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
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
    # Sanity check of one full flow before loading it.
    with httpx.Client(base_url=base, headers={"cookie": cookie}) as c:
        r = c.get("/oauth/authorize?" + query)
        assert r.status_code == 302 and "code=" in r.headers["location"], (r.status_code, r.text[:300])
    return {
        "FD_MODE": "flow",
        "FD_PATH": "/oauth/authorize?" + query,
        "FD_HEADERS": f"Cookie: {cookie}",
        "FD_TOKEN_PATH": "/oauth/access_token",
        "FD_TOKEN_BODY": f"grant_type=authorization_code&code_verifier={verifier}&code=",
        "FD_TOKEN_HEADERS": f"Authorization: Basic {basic}\nContent-Type: application/x-www-form-urlencoded",
    }


def password_env() -> dict[str, str]:
    basic = base64.b64encode(f"{seeding.CLIENT_ID}:{seeding.CLIENT_SECRET}".encode()).decode()
    body = urlencode(
        {
            "grant_type": "password",
            "username": seeding.BENCH_EMAIL,
            "password": seeding.BENCH_PASSWORD,
            "scope": "read_user",
        },
        quote_via=quote,
    )
    return {
        "FD_MODE": "plain",
        "FD_METHOD": "POST",
        "FD_PATH": "/oauth/access_token",
        "FD_BODY": body,
        "FD_HEADERS": f"Authorization: Basic {basic}\nContent-Type: application/x-www-form-urlencoded",
    }


def chart(results: dict[str, dict[str, float]], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# matplotlib not installed (pip install '.[bench]'): no chart", file=sys.stderr)
        return False
    names = list(results)
    rates = [results[n]["rate"] for n in names]
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    bars = ax.bar(names, rates, color="#2f5bd3")
    ax.set_yscale("log")
    ax.set_ylim(bottom=10, top=max(rates) * 3)
    ax.set_ylabel("per second (log)")
    ax.set_title(title, fontsize=9)
    for bar, rate in zip(bars, rates, strict=True):
        ax.annotate(
            f"{rate:,.0f}", (bar.get_x() + bar.get_width() / 2, rate), ha="center", va="bottom", fontsize=8
        )
    fig.tight_layout()
    fig.savefig(path)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FRONTDESK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("FRONTDESK_BENCH_REDIS_URL"))
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--workloads", default="W0,W1,W2,W3,W4")
    parser.add_argument("--users", type=int, default=0, help="extra users to seed")
    parser.add_argument("--tokens", type=int, default=1000, help="access tokens in the database")
    parser.add_argument("--w1-tokens", type=int, default=100, help="distinct tokens W1 cycles through")
    parser.add_argument("--scale", action="store_true", help="100,000 users and 1,000,000 tokens")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FRONTDESK_X=VALUE",
        help="a server setting for this run (repeatable)",
    )
    args = parser.parse_args()
    if args.scale:
        args.users, args.tokens = 100_000, 1_000_000
    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    binary = ensure_wrk()
    cores = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="frontdesk-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    if args.db == "sqlite":
        database = f"sqlite:///{tmp}/bench.db"
    else:
        database = pg_database(args.pg_url, "frontdesk_bench")
    env.update(
        {
            "FRONTDESK_DATABASE_URL": database,
            "FRONTDESK_PUBLIC_URL": f"http://localhost:{port}",
            "FRONTDESK_SECRET_KEY": SECRET,
            "FRONTDESK_ARGON2_TIME_COST": str(ARGON2["time_cost"]),
            "FRONTDESK_ARGON2_MEMORY_KIB": str(ARGON2["memory_kib"]),
            "FRONTDESK_ARGON2_PARALLELISM": str(ARGON2["parallelism"]),
            "FRONTDESK_API_RATE_LIMIT": "0",
            "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT": "1000000/minute",
            "FRONTDESK_LOGIN_FAILURES_PER_ADDRESS": "1000000/minute",
            "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS": "1000000/minute",
        }
    )
    if args.redis_url:
        env["FRONTDESK_REDIS_URL"] = args.redis_url
    for item in args.set:
        key, _, value = item.partition("=")
        env[key] = value
    os.environ.update({k: v for k, v in env.items() if k.startswith("FRONTDESK_")})
    subprocess.run([str(BIN / "frontdesk"), "db", "upgrade"], env=env, check=True, capture_output=True)
    seeded = subprocess.run(
        [
            sys.executable,
            str(HERE / "seed.py"),
            "--users",
            str(args.users),
            "--tokens",
            str(args.tokens),
            "--w1-tokens",
            str(args.w1_tokens),
            "--out",
            str(tmp / "tokens.txt"),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seed_report = json.loads(seeded.stdout.strip().splitlines()[-1])
    print(
        f"# seeded {seed_report['users']:,} users and {seed_report['tokens']:,} tokens "
        f"in {seed_report['seconds']} s"
    )
    server = Server(args, env, port, tmp / "server.log")
    results: dict[str, dict[str, float]] = {}
    try:
        cookie = login_cookie(base)
        token_env = {"FD_MODE": "plain", "FD_PATH": "/api/user", "FD_TOKENS": str(tmp / "tokens.txt")}
        plans = {
            "W0": ({"FD_MODE": "plain", "FD_PATH": "/healthz"}, 2, 32),
            "W1": (token_env, 2, 32),
            "W2": (flow_env(base, cookie), 4, 4),
            "W3": (password_env(), 4, 8),
        }
        for name in ("W0", "W1", "W2", "W3"):
            if name not in wanted:
                continue
            plan_env, threads, conns = plans[name]
            if args.warmup:
                wrk(binary, base, args.warmup, threads, conns, plan_env)
            results[name] = wrk(binary, base, args.duration, threads, conns, plan_env)
            print(f"# {name}: {results[name]['rate']:,.0f}/s", file=sys.stderr)
        if "W4" in wanted:
            flood_env, t3, c3 = plans["W3"]
            flood = subprocess.Popen(
                [
                    binary,
                    f"-t{t3}",
                    f"-c{c3}",
                    f"-d{args.duration + 4}s",
                    "-s",
                    str(HERE / "workloads.lua"),
                    base,
                ],
                env={**os.environ, **flood_env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(2)
            results["W4"] = wrk(binary, base, args.duration, 2, 32, token_env)
            flood_out, _ = flood.communicate(timeout=args.duration + 60)
            match = re.search(r"FD_RESULT (\{.*\})", flood_out)
            if match:
                flood_result = json.loads(match.group(1))
                results["W4"]["flood_rate"] = flood_result["good"] / flood_result["seconds"]
        workers = server.workers()
        memory = {str(pid): round(rss_mib(pid), 1) for pid in workers}
    finally:
        server.stop()
    verify_ms, bound, concurrent = argon2_bound(cores)
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"cores": cores, "python": sys.version.split()[0], "platform": sys.platform},
        "config": {
            "db": args.db,
            "server": args.server,
            "workers": args.workers,
            "duration": args.duration,
            "users": seed_report["users"],
            "tokens": seed_report["tokens"],
            "argon2": ARGON2,
            "redis": bool(args.redis_url),
        },
        "seed_seconds": seed_report["seconds"],
        "results": results,
        "argon2_verify_ms": round(verify_ms, 2),
        "argon2_bound_per_s": round(bound, 1),
        "argon2_concurrent_per_s": round(concurrent, 1),
        "worker_rss_mib": memory,
    }
    print_table(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{args.db}-{args.server}-{args.workers}w"
    if args.users or args.tokens > 1000:
        stem += "-scale"
    if wanted != ["W0", "W1", "W2", "W3", "W4"]:
        stem += "-" + "-".join(wanted)
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    title = f"Frontdesk {args.server} x{args.workers}, {args.db}, {cores} cores"
    if chart(results, args.out / f"{stem}.png", title):
        print(f"# wrote {args.out / stem}.json and .png")
    if args.keep:
        print(f"# kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.db == "postgresql":
            pass  # the database frontdesk_bench is left for inspection; the next run recreates it


def print_table(report: dict[str, object]) -> None:
    results: dict[str, dict[str, float]] = report["results"]  # type: ignore[assignment]
    labels = {
        "W0": "GET /healthz",
        "W1": "GET /api/user (bearer)",
        "W2": "code flows",
        "W3": "password grants",
        "W4": "W1 during W3 flood",
    }
    print(f"\n{'workload':28} {'per s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        errors = int(r["bad"] + r["socket_errors"])
        print(
            f"{name + ' ' + labels[name]:28} {r['rate']:>10,.0f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {errors:>7}"
        )
    bound = float(report["argon2_bound_per_s"])  # type: ignore[arg-type]
    print(
        f"\nArgon2id verify {report['argon2_verify_ms']} ms -> bound {bound:,.0f}/s on "
        f"{report['machine']['cores']} cores; measured with every core hashing: "
        f"{report['argon2_concurrent_per_s']}/s"
    )  # type: ignore[index]
    checks = []
    if "W0" in results and "W1" in results:
        checks.append(("W1 / W0 >= 0.7", results["W1"]["rate"] / results["W0"]["rate"], 0.7))
    if "W3" in results:
        checks.append(("W3 / Argon2 bound >= 0.9", results["W3"]["rate"] / bound, 0.9))
        concurrent = float(report["argon2_concurrent_per_s"])  # type: ignore[arg-type]
        checks.append(("W3 / all-cores hashing", results["W3"]["rate"] / concurrent, 0.9))
    if "W4" in results and "W1" in results:
        checks.append(("W4 / W1 >= 0.5", results["W4"]["rate"] / results["W1"]["rate"], 0.5))
    for label, value, floor in checks:
        print(f"{label:28} {value:6.2f}  {'ok' if value >= floor else 'MISSED'}")
    print(f"worker RSS MiB: {report['worker_rss_mib']}")


if __name__ == "__main__":
    main()
