"""Logging set-up: secrets never reach the logs (RFC 6750 §5.3, RFC 9700 §4.3.2).

Query parameters that carry credentials are blanked, and anything shaped like one of our
prefixed secrets (``fdat_…``, ``fdcs_…``) is cut to its prefix, wherever it appears: the
access log line for ``GET /api/access_tokens/<token>`` contains the token in its path.
Argon2 hashes and SQLAlchemy's ``[parameters: …]`` (the values of a failed statement) are
blanked too, and a logged exception's traceback goes through the same redaction as its line.

With ``FRONTDESK_LOG_FORMAT=json`` every line is one JSON object (:class:`JsonFormatter`), built
from the record after the same redaction; each carries the request id of the request it was
written in (:data:`REQUEST_ID`, set by web/request_id.py).

Query strings are split exactly as the server splits them: on ``&`` only (Starlette's
``QueryParams`` and ``web/adapter.read_form`` use the standard library's ``parse_qsl``, whose
only separator is ``&``), so a ``;`` is part of a value and does not end its redaction.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from uvicorn.config import LOGGING_CONFIG

# The id of the request being served (web/request_id.py), in every log line written for it.
REQUEST_ID: ContextVar[str | None] = ContextVar("frontdesk_request_id", default=None)

SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token_hint",
        "code",
        "code_verifier",
        "client_secret",
        "password",
        "token",
        "frontdesk_context",
    }
)
# name=value pairs in a query string or form body; names and values may be percent-encoded.
# A value runs to the next "&" (the server's only separator), "#" or whitespace (the end of a
# request target in a log line).
_PAIR = re.compile(r"(?P<lead>^|[?&\s\"])(?P<name>[^=&#\s\"?]+)=(?P<value>[^&#\s]*)")
_PREFIXED = re.compile(r"\b(fd(?:at|rt|ac|cs|ss|el)_)[A-Za-z0-9_\-]{8,}")
_SECRET_VALUE = re.compile(r"^fd(?:at|rt|ac|cs|ss|el)_", re.IGNORECASE)
# An Argon2 hash (its parameters, salt and digest), and the parameters SQLAlchemy prints with a
# failed statement (one line: the repr of the values).
_ARGON2 = re.compile(r"\$argon2(?:id|i|d)\$[A-Za-z0-9+/=,$]*")
_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
_PLAIN = (int, float, bool, type(None))


def _redact_pair(match: re.Match[str]) -> str:
    name = unquote_plus(match["name"]).lower()
    value = unquote_plus(match["value"])
    # A secret inside an encoded value counts too: a link's token in a login page's ``next``
    # (/login?next=%2Finvitation%3Ftoken%3Dfdel_…, web/routes/pages/invitations.py).
    if name in SENSITIVE_PARAMS or _SECRET_VALUE.match(value) or _PREFIXED.search(value):
        return f"{match['lead']}{match['name']}=[redacted]"
    return match.group(0)


def redact(text: str) -> str:
    """Blank credential parameters (matched by their decoded names) and prefixed secrets."""
    text = _SQL_PARAMETERS.sub("[parameters: [redacted]]", text)
    text = _ARGON2.sub("$argon2id$[redacted]", text)
    return _PREFIXED.sub(r"\1[redacted]", _PAIR.sub(_redact_pair, text))


def _redact_arg(value: Any) -> Any:
    """A log argument, redacted: strings, and other objects (an exception, say) whose text
    holds a secret become their redacted text; numbers stay numbers (``%d``)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, _PLAIN):
        return value
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


class RedactSecrets(logging.Filter):
    """Redacts the message, its arguments, and the traceback and stack of the record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.msg) if isinstance(record.msg, str) else _redact_arg(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            # The formatter uses exc_text when it is set: the traceback is formatted once, here.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# Fields an access line carries besides the message (web/request_id.py sets them as extras).
ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms", "client")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, the
    access fields when the record has them, and the traceback as ``exception``. The message
    and traceback come redacted from :class:`RedactSecrets`; string fields are redacted here
    too, so no field escapes it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_format_from_env() -> str:
    """``FRONTDESK_LOG_FORMAT`` (settings.py's ``log_format``), read without building the
    settings: ``frontdesk serve`` configures logging before any worker exists."""
    value = os.environ.get("FRONTDESK_LOG_FORMAT", "text").strip().lower()
    return "json" if value == "json" else "text"


def uvicorn_log_config(
    level: str = "info", access_log: bool = True, log_format: str | None = None
) -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "frontdesk.logs.RedactSecrets"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"]["uvicorn"]["level"] = level.upper()
    config["loggers"]["frontdesk"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    # Everything else (SQLAlchemy, asyncio's unretrieved task errors, …) through the same
    # redacting handler, not Python's unfiltered last-resort handler.
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    if (log_format or log_format_from_env()) == "json":
        for formatter in config["formatters"]:
            config["formatters"][formatter] = {"()": "frontdesk.logs.JsonFormatter"}
        # The access lines come from web/request_id.py (with the route, duration and request
        # id, which uvicorn's line lacks); uvicorn's own would say the same twice.
        config["loggers"]["uvicorn.access"]["handlers"] = []
        config["loggers"]["frontdesk.access"] = {
            "handlers": ["access"] if access_log else [],
            "level": "INFO",
            "propagate": False,
        }
    if not access_log:
        config["loggers"]["uvicorn.access"]["handlers"] = []
    return config
