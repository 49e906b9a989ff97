"""``FRONTDESK_LOG_FORMAT=json`` (logs.py): one JSON object per line, through the same
redaction as the text lines (tests/security/test_log_redaction.py); the request's access
lines and ids are checked in tests/web/test_request_id.py."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest

from frontdesk.logs import REQUEST_ID, JsonFormatter, uvicorn_log_config
from tests.security.test_log_redaction import SECRET_TAIL, failed_insert

LOGGERS = [None, "uvicorn", "uvicorn.error", "uvicorn.access", "frontdesk", "frontdesk.access"]


@pytest.fixture
def json_logging() -> Iterator[dict[str, io.StringIO]]:
    """``frontdesk serve``'s logging configuration in JSON, writing to buffers; restored after."""
    streams = {"default": io.StringIO(), "access": io.StringIO()}
    config = uvicorn_log_config("info", log_format="json")
    for name, handler in config["handlers"].items():
        handler["stream"] = streams[name]
    saved = {n: (lg.handlers[:], lg.level, lg.propagate) for n in LOGGERS for lg in [logging.getLogger(n)]}
    logging.config.dictConfig(config)
    try:
        yield streams
    finally:
        for n, (handlers, level, propagate) in saved.items():
            lg = logging.getLogger(n)
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_line_is_one_json_object(json_logging: dict[str, io.StringIO]) -> None:
    logging.getLogger("frontdesk.web").warning("two\nlines")
    [line] = lines(json_logging["default"])
    assert line["message"] == "two\nlines"
    assert line["level"] == "warning"
    assert line["logger"] == "frontdesk.web"
    assert line["request_id"] is None


def test_lines_carry_the_request_id(json_logging: dict[str, io.StringIO]) -> None:
    token = REQUEST_ID.set("req-1")
    try:
        logging.getLogger("frontdesk.web").info("inside a request")
    finally:
        REQUEST_ID.reset(token)
    assert lines(json_logging["default"])[0]["request_id"] == "req-1"


def test_messages_and_arguments_are_redacted(json_logging: dict[str, io.StringIO]) -> None:
    logging.getLogger("frontdesk.web").info("called %s", f"/api/user?access_token=fdat_{SECRET_TAIL}")
    logging.getLogger("uvicorn.error").info(f"/x?password=a;{SECRET_TAIL}&y=1")
    output = json_logging["default"].getvalue()
    assert SECRET_TAIL not in output
    assert [line["message"] for line in lines(json_logging["default"])] == [
        "called /api/user?access_token=[redacted]",
        "/x?password=[redacted]&y=1",
    ]


def test_tracebacks_are_redacted(json_logging: dict[str, io.StringIO]) -> None:
    error = failed_insert(f"$argon2id$v=19$m=64,t=1,p=1$salt{SECRET_TAIL}$hash")
    try:
        raise RuntimeError("request failed") from error
    except RuntimeError:
        logging.getLogger("frontdesk.web").exception("Exception in ASGI application")
    [line] = lines(json_logging["default"])
    assert "IntegrityError" in line["exception"]
    assert "[parameters: [redacted]]" in line["exception"]
    assert SECRET_TAIL not in json_logging["default"].getvalue()


def test_access_lines_go_to_the_access_stream_once(json_logging: dict[str, io.StringIO]) -> None:
    logging.getLogger("frontdesk.access").info(
        "GET /api/user 200", extra={"method": "GET", "path": f"/api/user?code={SECRET_TAIL}", "status": 200}
    )
    # uvicorn's own access line would repeat it: not written in JSON mode.
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", "/", "1.1", 200)
    [line] = lines(json_logging["access"])
    assert line["path"] == "/api/user?code=[redacted]"
    assert line["status"] == 200


def test_text_stays_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDESK_LOG_FORMAT", raising=False)
    formatters = uvicorn_log_config("info")["formatters"]
    assert formatters["default"]["()"] == "uvicorn.logging.DefaultFormatter"


def test_the_environment_chooses_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_LOG_FORMAT", "json")
    formatters = uvicorn_log_config("info")["formatters"]
    assert formatters["default"]["()"] == f"{JsonFormatter.__module__}.JsonFormatter"
