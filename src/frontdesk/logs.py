"""Logging set-up: secrets never reach the logs (RFC 6750 §5.3, RFC 9700 §4.3.2).

Query parameters that carry credentials are blanked, and anything shaped like one of our
prefixed secrets (``fdat_…``, ``fdcs_…``) is cut to its prefix, wherever it appears: the
access log line for ``GET /api/access_tokens/<token>`` contains the token in its path.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from uvicorn.config import LOGGING_CONFIG

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
_PAIR = re.compile(r"(?P<lead>^|[?&;\s])(?P<name>[^=&;#\s\"?]+)=(?P<value>[^&;#\s\"]*)")
_PREFIXED = re.compile(r"\b(fd(?:at|rt|ac|cs|ss)_)[A-Za-z0-9_\-]{8,}")
_SECRET_VALUE = re.compile(r"^fd(?:at|rt|ac|cs|ss)_", re.IGNORECASE)


def _redact_pair(match: re.Match[str]) -> str:
    name = unquote_plus(match["name"]).lower()
    value = unquote_plus(match["value"])
    if name in SENSITIVE_PARAMS or _SECRET_VALUE.match(value):
        return f"{match['lead']}{match['name']}=[redacted]"
    return match.group(0)


def redact(text: str) -> str:
    """Blank credential parameters (matched by their decoded names) and prefixed secrets."""
    return _PREFIXED.sub(r"\1[redacted]", _PAIR.sub(_redact_pair, text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def uvicorn_log_config(level: str = "info", access_log: bool = True) -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "frontdesk.logs.RedactSecrets"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"]["uvicorn"]["level"] = level.upper()
    config["loggers"]["frontdesk"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    if not access_log:
        config["loggers"]["uvicorn.access"]["handlers"] = []
    return config
