"""Reading numbers and JSON from untrusted input: the one place for both.

* :func:`ascii_int`: a whole number written in ASCII digits only. ``int()`` alone also takes
  other scripts' digits (``int("٣٠٠")`` is 300) and ``str.isdigit`` lets superscripts through
  that ``int()`` then refuses (``"³⁰⁰"``).
* :func:`load_json`: a JSON document whose nesting and strings are bounded: at most
  :data:`MAX_JSON_DEPTH` levels deep (deeper input made the parser or later code recurse until
  it failed), and strings without NUL characters (PostgreSQL text cannot hold them) or lone
  surrogates (``"\\ud800"`` is valid JSON but no UTF-8 text). The size is bounded before this,
  by the request limits (``web/limits.py``).

Both raise :class:`BadInput` (a ``ValueError``) with a message fit to show the sender.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32


class BadInput(ValueError):
    """Input that cannot be read; the message says why."""


def ascii_int(text: str, *, max_digits: int = 18) -> int:
    """The value of ``text`` (surrounding spaces allowed), ASCII digits ``0-9`` only, no sign,
    at most ``max_digits`` digits (so it fits a 64-bit column)."""
    digits = text.strip()
    if not digits or len(digits) > max_digits or not (digits.isascii() and digits.isdigit()):
        raise BadInput("not a whole number")
    return int(digits)


def check_text(value: str) -> str:
    """``value`` if it can be stored as text: no NUL character, no lone surrogate."""
    if "\x00" in value:
        raise BadInput("text must not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadInput("text must be valid Unicode (no lone surrogates)") from exc
    return value


def load_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON document (RFC 8259) and check its depth and every string (keys too)."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError as exc:  # the C parser's own limit: far deeper than ``max_depth``
        raise BadInput(f"the JSON is nested more than {max_depth} levels deep") from exc
    except ValueError as exc:  # also UnicodeDecodeError
        raise BadInput("the body is not valid JSON") from exc
    _check(value, max_depth)
    return value


def _no_constant(name: str) -> Any:
    raise BadInput(f"{name} is not a JSON value (RFC 8259 §6)")


def _check(value: Any, max_depth: int) -> None:
    """Walk the parsed document without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise BadInput(f"the JSON is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)
