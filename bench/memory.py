"""Memory of ``frontdesk serve --workers 2`` at start and after many tokens.

    .venv/bin/python bench/memory.py                       # 100,000 tokens through W2, SQLite
    .venv/bin/python bench/memory.py --tokens 1000000      # the issue's million (hours here)
    .venv/bin/python bench/memory.py --tokens 20000 --seeded 1000000
                                     # and W1 over a million seeded tokens, each used about once

Starts the server as ``make bench`` does (bench/run.py), reads the PSS and RSS of every one of
its processes (``/proc/<pid>/smaps_rollup``) after start, after a first warm-up of code flows,
and then after each further batch of W2 code flows (each issues one access token) until
``--tokens`` were issued, then after a W1 round over the tokens in the caches, after 10 s of
W3 (password grants: both workers verify Argon2id hashes) and after 3 s without requests. With
``--seeded N`` the database holds N more tokens (bench/seed.py) and W1 runs in batches until it
has made N requests, cycling through all of them: every one is looked up, cached and evicted
in turn, so the bounded token cache (store/caching.py) is filled over and over. Growth between
the warm batch and the last one beyond the bounded caches would be a leak.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402


def rollup(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Pss", "Rss"):
            values[name] = int(rest.split()[0]) / 1024
    return values["Pss"], values["Rss"]


def snapshot(label: str, root: int, issued: int) -> None:
    pids = [root, *bench.children(root)]
    parts = []
    total = 0.0
    for pid in pids:
        pss, rss = rollup(pid)
        total += pss
        parts.append(f"{'supervisor' if pid == root else 'worker'} {pid}: PSS {pss:.1f} RSS {rss:.1f}")
    print(f"{label:>26} ({issued:>9,} tokens) | total PSS {total:6.1f} MiB | " + "; ".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--batch-seconds", type=int, default=60)
    parser.add_argument("--seeded", type=int, default=0, help="tokens seeded for W1")
    args = parser.parse_args()
    binary = bench.ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="frontdesk-memory-") as name:
        tmp = Path(name)
        port = bench.free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "FRONTDESK_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "FRONTDESK_PUBLIC_URL": f"http://localhost:{port}",
            "FRONTDESK_SECRET_KEY": bench.SECRET,
            "FRONTDESK_ARGON2_TIME_COST": "2",
            "FRONTDESK_ARGON2_MEMORY_KIB": "19456",
            "FRONTDESK_API_RATE_LIMIT": "0",
            "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT": "1000000/minute",
            "FRONTDESK_LOGIN_FAILURES_PER_ADDRESS": "1000000/minute",
            "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS": "1000000/minute",
        }
        import os
        import subprocess

        os.environ.update(env)
        subprocess.run([str(bench.BIN / "frontdesk"), "db", "upgrade"], check=True, capture_output=True)
        subprocess.run(
            [
                sys.executable,
                str(HERE / "seed.py"),
                "--out",
                str(tmp / "tokens.txt"),
                *(["--tokens", str(args.seeded), "--w1-tokens", str(args.seeded)] if args.seeded else []),
            ],
            check=True,
            capture_output=True,
        )
        options = argparse.Namespace(server="uvicorn", workers=2)
        server = bench.Server(options, dict(os.environ), port, tmp / "server.log")
        try:
            root = server.proc.pid
            snapshot("started", root, 0)
            cookie = bench.login_cookie(base)
            flows = bench.flow_env(base, cookie)
            issued = 0
            result = bench.wrk(binary, base, 10, 4, 4, flows)
            issued += int(result["good"])
            snapshot("warm (10 s of W2)", root, issued)
            started = time.monotonic()
            while issued < args.tokens:
                result = bench.wrk(binary, base, args.batch_seconds, 4, 4, flows)
                issued += int(result["good"])
                snapshot(f"W2 {result['rate']:.0f}/s", root, issued)
            tokens = {"FD_MODE": "plain", "FD_PATH": "/api/user", "FD_TOKENS": str(tmp / "tokens.txt")}
            requests = 0
            while True:
                result = bench.wrk(binary, base, 20 if not args.seeded else args.batch_seconds, 2, 32, tokens)
                requests += int(result["good"])
                snapshot(f"then W1 {result['rate']:.0f}/s, {requests:,} req", root, issued)
                if requests >= args.seeded:
                    break
            result = bench.wrk(binary, base, 10, 4, 8, bench.password_env())
            snapshot(f"then W3 {result['rate']:.0f}/s (Argon2id in both workers)", root, issued)
            time.sleep(3)
            snapshot("then 3 s idle", root, issued)
            print(f"# {issued:,} tokens in {time.monotonic() - started:.0f} s of W2 after the warm-up")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
