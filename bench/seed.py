"""Seed a Frontdesk database for the benchmark, fast.

The benchmark user and app go through Frontdesk's own services (real Argon2id hash, real
app). Scale rows (extra users and tokens) are bulk-inserted: every extra user shares one
password hash, every token is a real random secret whose HMAC digest is stored, exactly as
the server would store it. Writes the bearer tokens to use in W1 to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from pathlib import Path

from frontdesk.oauth.models import NewToken
from frontdesk.security.passwords import Passwords
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_id, new_secret
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import accounts, apps, spaces
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.store.sql_storage import SqlStorage
from frontdesk.store.types import utcnow

BENCH_EMAIL = "alice@bench.test"
BENCH_PASSWORD = "correct horse battery staple"
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-client-secret-0123456789abcdef0123456789"
REDIRECT_URI = "http://127.0.0.1:9/cb"
SCOPES = "read read_user read_memberships"
BATCH = 20_000


async def seed(
    settings: Settings, *, users: int, tokens: int, w1_tokens: int, out: Path
) -> dict[str, object]:
    started = time.monotonic()
    server_secret = ServerSecret(settings.resolve_secret_key())
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        concurrency=2,
    )
    db = Database(settings)
    async with db.session() as session:
        alice = await accounts.create_user(
            session, passwords, email=BENCH_EMAIL, password=BENCH_PASSWORD, name="Alice Bench"
        )
        space = await spaces.create_space(
            session, settings, subdomain="bench", name="Bench Space", owner=alice
        )
        created = await apps.register_app(
            session,
            server_secret,
            owner=alice,
            name="Bench",
            redirect_uris=[REDIRECT_URI],
            scopes=SCOPES,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        )
        storage = SqlStorage(session, server_secret)
        # An existing consent, so W2's authorization skips the consent page.
        await storage.remember_consent(alice.id, CLIENT_ID, None, tuple(SCOPES.split()))
        w1 = []
        for _ in range(w1_tokens):
            raw = new_secret(ACCESS_TOKEN_PREFIX)
            await storage.save_token(
                raw,
                NewToken(
                    client_id=CLIENT_ID, user_id=alice.id, scopes=tuple(SCOPES.split()), grant_type="password"
                ),
            )
            w1.append(raw)
        await session.commit()
        alice_id, space_id = alice.id, space.id
        del created, space_id

    # Scale rows: extra users sharing one hash, and tokens spread over all users, written with
    # the driver's bulk path (executemany on SQLite, COPY on PostgreSQL).
    shared_hash = passwords.hash_sync("bench filler password")
    now = utcnow()
    user_ids = [alice_id]
    user_columns = ("id", "email", "email_key", "name", "password_hash", "created_at", "updated_at")
    token_columns = ("id", "digest", "app_id", "user_id", "scope", "grant_type", "created_at")
    async with db.engine.begin() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        postgres = not settings.is_sqlite
        stamp = now if postgres else now.replace(tzinfo=None).isoformat(sep=" ")

        async def bulk(table: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
            if postgres:
                await driver.copy_records_to_table(table, records=rows, columns=list(columns))
            else:
                marks = ", ".join("?" for _ in columns)
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - fixed names
                await driver.executemany(sql, rows)

        for start in range(0, users, BATCH):
            rows = []
            for i in range(start, min(users, start + BATCH)):
                uid = new_id()
                user_ids.append(uid)
                email = f"user{i}@bench.test"
                rows.append((uid, email, email, f"User {i}", shared_hash, stamp, stamp))
            await bulk("users", user_columns, rows)
        remaining = max(0, tokens - w1_tokens)
        token_hex = secrets.token_hex
        for start in range(0, remaining, BATCH):
            rows = []
            for i in range(start, min(remaining, start + BATCH)):
                raw = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
                rows.append(
                    (
                        token_hex(16),
                        server_secret.digest(raw),
                        CLIENT_ID,
                        user_ids[i % len(user_ids)],
                        "read_user",
                        "password",
                        stamp,
                    )
                )
            await bulk("access_tokens", token_columns, rows)
    await db.dispose()
    out.write_text("\n".join(w1) + "\n")
    return {
        "users": users + 1,
        "tokens": max(tokens, w1_tokens),
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=0, help="extra users")
    parser.add_argument("--tokens", type=int, default=1000, help="access tokens in total")
    parser.add_argument("--w1-tokens", type=int, default=100, help="tokens written to --out for W1")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    report = asyncio.run(
        seed(Settings(), users=args.users, tokens=args.tokens, w1_tokens=args.w1_tokens, out=args.out)
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
