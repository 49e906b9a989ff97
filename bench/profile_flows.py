"""Profile W2's authorization-code flow inside one process, without HTTP or a load generator.

    .venv/bin/python bench/profile_flows.py                 # time 2,000 flows, count SQL
    .venv/bin/python bench/profile_flows.py --cprofile 30   # and print the top 30 functions
    .venv/bin/python bench/profile_flows.py --bearer 20000  # W1: GET /api/user, CPU per request

Calls the ASGI application directly (the same app ``frontdesk serve`` runs, with its
middleware) on a fresh SQLite database seeded like the benchmark: GET /oauth/authorize with a
session and an existing consent, then POST /oauth/access_token with PKCE. Prints the
application's CPU time per flow and the SQL statements one flow runs, so a change to the hot
path can be judged without the noise of a shared machine's load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import hashlib
import json
import os
import pstats
import secrets
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
import seed as seeding  # noqa: E402

Message = dict[str, Any]


async def call(
    app: Any, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in [("host", "localhost:8000"), *headers]],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    out: dict[str, Any] = {"body": b""}

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            out["cookies"] = [
                v.decode().split(";")[0] for k, v in message["headers"] if k.lower() == b"set-cookie"
            ]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    out["headers"]["set-cookie"] = "; ".join(out["cookies"])
    return out["status"], out["headers"], out["body"]


async def run(args: argparse.Namespace) -> None:
    from asgi_lifespan import LifespanManager
    from sqlalchemy import event

    from frontdesk.settings import Settings
    from frontdesk.web.app import create_app

    settings = Settings()
    await seeding.seed(settings, users=0, tokens=10, w1_tokens=10, out=Path(args.tmp) / "tokens.txt")
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        del manager  # its wrapper shares one state dict between requests
        asgi = app
        # Log in through the login form, as the benchmark does.
        status, headers, body = await call(asgi, "GET", "/login", [])
        csrf = body.decode().split('name="csrf_token" value="')[1].split('"')[0]
        pre = headers["set-cookie"]
        form = urlencode(
            {"email": seeding.BENCH_EMAIL, "password": seeding.BENCH_PASSWORD, "csrf_token": csrf}
        ).encode()
        form_headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", "http://localhost:8000"),
        ]
        status, headers, _ = await call(
            asgi, "POST", "/login", [*form_headers, *([("cookie", pre)] if pre else [])], form
        )
        assert status == 303, status
        cookie = headers["set-cookie"]

        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
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

        spent = {"authorize": 0.0, "token": 0.0}

        async def flow() -> None:
            started = time.process_time()
            status, headers, body = await call(asgi, "GET", authorize, [("cookie", cookie)])
            middle = time.process_time()
            assert status == 302, (status, headers.get("location"), body[:300])
            code = parse_qs(urlsplit(headers["location"]).query)["code"][0]
            form = urlencode({"grant_type": "authorization_code", "code": code, "code_verifier": verifier})
            middle2 = time.process_time()
            status, _, body = await call(asgi, "POST", "/oauth/access_token", token_headers, form.encode())
            spent["authorize"] += middle - started
            spent["token"] += time.process_time() - middle2
            assert status == 200, (status, body[:300])
            last["token"] = json.loads(body)["access_token"]

        last: dict[str, str] = {}

        for _ in range(200):  # warm the caches
            await flow()

        statements: list[str] = []
        engine = app.state.frontdesk.db.engine.sync_engine

        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            statements.append(" ".join(statement.split())[:110])

        event.listen(engine, "before_cursor_execute", count)
        await flow()
        event.remove(engine, "before_cursor_execute", count)
        print(f"SQL statements in one flow: {len(statements)}")
        for line in statements:
            print("   ", line)

        if args.bearer:
            # W1's request instead: GET /api/user with a bearer token the caches know.
            bearer = [("authorization", f"Bearer {last['token']}")]
            for _ in range(500):
                assert (await call(asgi, "GET", "/api/user", bearer))[0] == 200
            profiler = cProfile.Profile() if args.cprofile else None
            cpu = time.process_time()
            if profiler:
                profiler.enable()
            for _ in range(args.bearer):
                await call(asgi, "GET", "/api/user", bearer)
            if profiler:
                profiler.disable()
            cpu = time.process_time() - cpu
            print(f"{args.bearer} GET /api/user: {1e6 * cpu / args.bearer:.0f} µs CPU each")
            if profiler:
                pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(
                    args.cprofile
                )
            return
        if os.environ.get("PYINSTRUMENT"):
            import pyinstrument

            prof = pyinstrument.Profiler(async_mode="enabled", interval=0.0002)
            prof.start()
            for _ in range(args.flows):
                await flow()
            prof.stop()
            print(prof.output_text(unicode=False, show_all=bool(os.environ.get("SHOW_ALL")), timeline=False))
            return
        spent.update(authorize=0.0, token=0.0)
        profiler = cProfile.Profile() if args.cprofile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(args.flows):
            await flow()
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"{args.flows} flows: {1000 * cpu / args.flows:.2f} ms CPU, "
            f"{1000 * wall / args.flows:.2f} ms wall per flow "
            f"(GET /oauth/authorize {1000 * spent['authorize'] / args.flows:.2f} ms, "
            f"POST /oauth/access_token {1000 * spent['token'] / args.flows:.2f} ms)"
        )
        if profiler:
            profiler.dump_stats("/tmp/flows.prof") if os.environ.get("PROFILE_DUMP") else None
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
                args.cprofile
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="print the top N functions")
    parser.add_argument("--bearer", type=int, default=0, metavar="N", help="profile N W1 requests instead")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.child:
        with tempfile.TemporaryDirectory(prefix="frontdesk-profile-") as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
            env.update(
                {
                    "FRONTDESK_DATABASE_URL": f"sqlite:///{tmp}/profile.db",
                    "FRONTDESK_SECRET_KEY": "profile-secret-key-0123456789abcdef0123456789",
                    "FRONTDESK_API_RATE_LIMIT": "0",
                    "FRONTDESK_ARGON2_TIME_COST": "1",
                    "FRONTDESK_ARGON2_MEMORY_KIB": "8192",
                }
            )
            subprocess.run(
                [str(BIN / "frontdesk"), "db", "upgrade"], env=env, check=True, capture_output=True
            )
            code = subprocess.run(
                [sys.executable, __file__, "--child", *sys.argv[1:]], env={**env, "PROFILE_TMP": tmp}
            ).returncode
        sys.exit(code)
    args.tmp = os.environ["PROFILE_TMP"]
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
