"""The token flood the kill tests run, and the database checks after it.

Threads send authorization code redemptions, refresh token grants and password grants as fast
as they can; each remembers what reached it (the tokens of every 200) and what did not (a
code whose answer was lost: the connection broke before a response)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from frontdesk.security.server_secret import ServerSecret
from frontdesk.settings import normalize_database_url
from tests.conftest import run_async
from tests.e2e.conftest import Server, Visitor, form_fields, query_of
from tests.support import PASSWORD, TEST_SECRET

REDIRECT_URI = "https://app.example/cb"


@dataclass
class Outcomes:
    """What the clients saw, shared by the flood's threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> how it was obtained
    refresh: dict[int, str] = field(default_factory=dict)  # chain -> its newest refresh token
    chain_tokens: dict[int, list[str]] = field(default_factory=dict)  # chain -> its access tokens
    lost_refresh: dict[int, str] = field(default_factory=dict)  # chain -> the token whose answer was lost
    lost_codes: list[str] = field(default_factory=list)
    redeemed_codes: set[str] = field(default_factory=set)
    statuses: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    errors: list[BaseException] = field(default_factory=list)  # what a thread met unexpectedly

    def count(self, what: str) -> None:
        with self.lock:
            self.statuses[what] = self.statuses.get(what, 0) + 1


def mint_codes(port: int, app: dict[str, Any], count: int) -> list[str]:
    """``count`` authorization codes of the app's owner (consent asked once, then straight back)."""
    server = Server(port=port, base=f"http://localhost:{port}", log=None, env={})  # type: ignore[arg-type]
    codes = []
    url = (
        f"/oauth/authorize?response_type=code&client_id={app['client_id']}"
        f"&redirect_uri={REDIRECT_URI}&state=flood&scope=read_user"
    )
    with Visitor(server) as browser:
        browser.login(app["owner"], PASSWORD)
        for _ in range(count):
            response = browser.get(url)
            if response.status_code == 200:  # the consent page, the first time
                fields = form_fields(response.text, "/oauth/authorize")
                response = browser.http.post("/oauth/authorize", data={**fields, "decision": "approve"})
            assert response.headers.get("location"), (response.status_code, response.text[:300])
            codes.append(query_of(response.headers["location"])["code"])
    return codes


def token_request(port: int, app: dict[str, Any], timeout: float = 10, **data: str) -> httpx.Response:
    with httpx.Client(timeout=timeout) as c:
        return c.post(
            f"http://127.0.0.1:{port}/oauth/access_token",
            headers={"host": f"localhost:{port}"},
            data={"client_id": app["client_id"], "client_secret": app["client_secret"], **data},
        )


def password_grant(port: int, app: dict[str, Any]) -> httpx.Response:
    return token_request(
        port, app, grant_type="password", username=app["owner"], password=PASSWORD, scope="read_user"
    )


class Flood:
    """Runs the threads until :meth:`stop`; ``port()`` is read on each request (a restarted
    server may be on the same port)."""

    def __init__(self, port: int, app: dict[str, Any], codes: list[str], chains: int, passwords: int) -> None:
        self.port = port
        self.app = app
        self.codes = codes
        self.out = Outcomes()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        for chain in range(chains):
            first = password_grant(port, app)
            assert first.status_code == 200, first.text
            self.out.refresh[chain] = first.json()["refresh_token"]
            self.out.tokens[first.json()["access_token"]] = "password"
            self.out.chain_tokens[chain] = [first.json()["access_token"]]
            self.threads.append(self._thread(self._refresher, chain))
        self.threads += [self._thread(self._redeemer) for _ in range(2)]
        self.threads += [self._thread(self._passwords) for _ in range(passwords)]
        self.code_lock = threading.Lock()

    def _thread(self, target: Any, *args: Any) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:  # reported by the test after stop()
                with self.out.lock:
                    self.out.errors.append(exc)

        return threading.Thread(target=run, daemon=True)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(30)

    def _next_code(self) -> str | None:
        with self.code_lock:
            return self.codes.pop() if self.codes else None

    def _redeemer(self) -> None:
        while not self.stopping.is_set():
            code = self._next_code()
            if code is None:
                return
            try:
                r = token_request(self.port, self.app, grant_type="authorization_code", code=code)
            except httpx.TransportError:
                with self.out.lock:
                    self.out.lost_codes.append(code)
                    self.out.lost += 1
                time.sleep(0.05)
                continue
            self.out.count(f"code {r.status_code}")
            assert r.status_code == 200, r.text  # each code is sent once: never refused
            with self.out.lock:
                self.out.tokens[r.json()["access_token"]] = "authorization_code"
                self.out.redeemed_codes.add(code)

    def _refresher(self, chain: int) -> None:
        while not self.stopping.is_set():
            old = self.out.refresh[chain]
            try:
                r = token_request(self.port, self.app, grant_type="refresh_token", refresh_token=old)
            except httpx.TransportError:
                # Whether the rotation committed is unknown: the chain stops here and the test
                # presents this token again after the restart.
                self.out.count("refresh lost")
                with self.out.lock:
                    self.out.lost += 1
                    self.out.lost_refresh[chain] = old
                return
            self.out.count(f"refresh {r.status_code}")
            assert r.status_code == 200, r.text
            body = r.json()
            with self.out.lock:
                self.out.refresh[chain] = body["refresh_token"]
                self.out.tokens[body["access_token"]] = "refresh_token"
                self.out.chain_tokens[chain].append(body["access_token"])

    def _passwords(self) -> None:
        while not self.stopping.is_set():
            try:
                r = password_grant(self.port, self.app)
            except httpx.TransportError:
                self.out.count("password lost")
                time.sleep(0.05)
                continue
            self.out.count(f"password {r.status_code}")
            assert r.status_code == 200, r.text
            with self.out.lock:
                self.out.tokens[r.json()["access_token"]] = "password"


def digest(value: str) -> str:
    return ServerSecret(TEST_SECRET.encode()).digest(value)


async def _rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_async_engine(normalize_database_url(url))
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    return run_async(lambda: _rows(url, sql, **params))  # type: ignore[no-any-return]


# "Half-written" made concrete on this schema (store/models.py): each query lists the rows of
# one kind of torn write; every list must be empty.
HALF_WRITTEN = {
    # an access token from a code that is still redeemable (the code's consumption lost)
    "token of an unconsumed code": """
        SELECT t.id FROM access_tokens t JOIN authorization_codes c ON c.id = t.code_id
        WHERE t.app_id = :app AND c.consumed_at IS NULL""",
    # a code used up with no token ever issued for it (the tokens lost)
    "consumed code without tokens": """
        SELECT c.id FROM authorization_codes c WHERE c.app_id = :app AND c.consumed_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM access_tokens t WHERE t.code_id = c.id)""",
    # an access token of a refresh family whose refresh token row is missing
    "access token without its refresh family": """
        SELECT t.id FROM access_tokens t WHERE t.app_id = :app AND t.family_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = t.family_id)""",
    # a refresh token pointing at an access token that was never written
    "refresh token without its access token": """
        SELECT r.id FROM refresh_tokens r WHERE r.app_id = :app AND r.access_token_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM access_tokens t WHERE t.id = r.access_token_id)""",
    # a family with two live (neither rotated nor revoked) refresh tokens: a rotation torn
    "family with two live refresh tokens": """
        SELECT r.family_id FROM refresh_tokens r
        WHERE r.app_id = :app AND r.rotated_at IS NULL AND r.revoked_at IS NULL
        GROUP BY r.family_id HAVING count(*) > 1""",
}


def half_written(url: str, app_id: str) -> dict[str, list[Any]]:
    return {name: rows(url, sql, app=app_id) for name, sql in HALF_WRITTEN.items()}


def code_tokens(url: str, code: str) -> list[Any]:
    """(kind, revoked_at) of every token issued for ``code``."""
    return rows(
        url,
        """SELECT 'access', t.revoked_at FROM access_tokens t JOIN authorization_codes c ON c.id = t.code_id
           WHERE c.digest = :d
           UNION ALL
           SELECT 'refresh', r.revoked_at FROM refresh_tokens r JOIN authorization_codes c ON c.id = r.code_id
           WHERE c.digest = :d""",
        d=digest(code),
    )
