"""Log redaction (issue 11, items 12 and 15), through the handlers ``frontdesk serve``
configures (logs.uvicorn_log_config):

* a logged exception's traceback goes through the same redaction as every line: a failed
  INSERT once logged a new user's Argon2 hash in SQLAlchemy's ``[parameters: …]``;
* query strings are split exactly as the server splits them (``&`` only: Starlette's and the
  token endpoint's ``parse_qsl``), so a ``;`` inside a password does not end its redaction.

The access log of a real server is checked in tests/e2e/test_edge_limits.py."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa

from frontdesk.logs import redact, uvicorn_log_config
from frontdesk.security.passwords import Passwords

SECRET_TAIL = "SuperSecretTail"


@pytest.fixture
def server_logging() -> Iterator[dict[str, io.StringIO]]:
    """The logging configuration of ``frontdesk serve``, writing to buffers; restored after."""
    streams = {"default": io.StringIO(), "access": io.StringIO()}
    config = uvicorn_log_config("info")
    for name, handler in config["handlers"].items():
        handler["stream"] = streams[name]
    names = [None, "uvicorn", "uvicorn.error", "uvicorn.access", "frontdesk"]
    saved = {n: (lg.handlers[:], lg.level, lg.propagate) for n in names for lg in [logging.getLogger(n)]}
    logging.config.dictConfig(config)
    try:
        yield streams
    finally:
        for n, (handlers, level, propagate) in saved.items():
            lg = logging.getLogger(n)
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate


def failed_insert(argon2_hash: str) -> Exception:
    """A real SQLAlchemy error from an INSERT that carried the hash as a parameter."""
    engine = sa.create_engine("sqlite://")
    users = sa.Table(
        "users",
        sa.MetaData(),
        sa.Column("email", sa.String, unique=True),
        sa.Column("password_hash", sa.String),
    )
    users.create(engine)
    with engine.begin() as conn:
        conn.execute(users.insert(), {"email": "a@example.com", "password_hash": "x"})
    try:
        with engine.begin() as conn:
            conn.execute(users.insert(), {"email": "a@example.com", "password_hash": argon2_hash})
    except sa.exc.IntegrityError as exc:
        return exc
    raise AssertionError("the INSERT did not fail")


@pytest.mark.parametrize("logger", ["uvicorn.error", "frontdesk.web", "sqlalchemy.pool"])
async def test_tracebacks_are_redacted(server_logging: dict[str, io.StringIO], logger: str) -> None:
    passwords = Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=1)
    argon2_hash = await passwords.hash("correct horse battery staple")
    assert argon2_hash.startswith("$argon2id$")
    error = failed_insert(argon2_hash)
    assert argon2_hash in str(error)  # SQLAlchemy shows the parameters
    try:
        raise RuntimeError("request failed") from error
    except RuntimeError:
        logging.getLogger(logger).exception("Exception in ASGI application")
    logging.getLogger(logger).error("plain: %s", error)
    logging.getLogger(logger).warning("a hash in a message: %s", argon2_hash)
    output = server_logging["default"].getvalue()
    assert "Exception in ASGI application" in output and "IntegrityError" in output
    assert "[parameters: [redacted]]" in output
    assert "a hash in a message: $argon2id$[redacted]" in output
    salt_and_hash = argon2_hash.rsplit("$", 2)[-2:]
    assert not any(part in output for part in salt_and_hash), output


def test_a_semicolon_does_not_end_the_redaction() -> None:
    query = f"grant_type=password&username=pat&password=abc;{SECRET_TAIL}&client_id=x"
    assert dict(parse_qsl(query))["password"] == f"abc;{SECRET_TAIL}"  # as the server reads it
    line = f'127.0.0.1:5000 - "POST /oauth/access_token?{query} HTTP/1.1" 200'
    redacted = redact(line)
    assert SECRET_TAIL not in redacted
    assert "password=[redacted]&client_id=x" in redacted


def test_an_emailed_link_inside_a_login_pages_next_is_redacted() -> None:
    # "Log in to accept" on an invitation page (web/routes/pages/invitations.py).
    line = f'127.0.0.1:5000 - "GET /login?next=%2Finvitation%3Ftoken%3Dfdel_{SECRET_TAIL} HTTP/1.1" 200'
    redacted = redact(line)
    assert SECRET_TAIL not in redacted
    assert "GET /login?next=[redacted] HTTP/1.1" in redacted


def test_access_log_handler(server_logging: dict[str, io.StringIO]) -> None:
    args: Any = ("127.0.0.1:5000", "POST", f"/oauth/token?code=a;{SECRET_TAIL}", "1.1", 400)
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', *args)
    output = server_logging["access"].getvalue()
    assert "code=[redacted]" in output and SECRET_TAIL not in output
