"""Bringing existing accounts in: ``frontdesk users import FILE`` (docs/integrating.md,
"Importing users").

A file is CSV with a header line, or JSON lines (one object per line), with the fields
``email`` (required), ``name`` and ``password_hash`` (a hash the other system wrote, kept as it
is: ``security/passwords.hash_scheme`` says which are accepted; without one the account has no
password until one is set). :func:`read_rows` streams it: one line at a time, so a file of any
size takes the memory of one line, and a bad row becomes a :class:`RowError` with its line
number instead of stopping the import. :func:`import_batch` stages one batch in the caller's
session (the caller commits each batch, so a large file is written in steps and an interrupted
import can simply be run again).

Importing is idempotent: an address that already has an account is left as it is ("unchanged")
unless ``update`` is asked for, which sets the name and hash the file gives.
"""

from __future__ import annotations

import csv
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import FieldError
from frontdesk.inputs import BadInput, check_text, load_json
from frontdesk.security.passwords import NO_PASSWORD
from frontdesk.security.randoms import new_id
from frontdesk.services import accounts
from frontdesk.store.audit_storage import record_event
from frontdesk.store.inserts import insert_many_unless_taken
from frontdesk.store.models import User
from frontdesk.store.types import utcnow

FIELDS = ("email", "name", "password_hash")
# A longer line is refused (and skipped) rather than read into memory.
MAX_LINE_BYTES = 64 * 1024

Format = Literal["csv", "jsonl"]
Status = Literal["created", "updated", "unchanged", "failed"]


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (no header, unknown columns); nothing is written."""


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str
    name: str | None = None
    password_hash: str | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


@dataclass(frozen=True)
class RowResult:
    line: int
    email: str
    status: Status
    field: str = ""
    message: str = ""


def guess_format(name: str, head: bytes) -> Format:
    """JSON lines for ``.jsonl``/``.ndjson``/``.json`` files or a first line starting with
    ``{``; CSV otherwise."""
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


class _Lines:
    """Physical lines of a binary stream, decoded one by one; over-long lines are skipped and
    noted in ``errors``."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.number = 0
        self.errors: list[RowError] = []

    def __iter__(self) -> Iterator[str]:
        while True:
            raw = self.stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            self.number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := self.stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                self.errors.append(RowError(self.number, "line", f"longer than {MAX_LINE_BYTES} bytes"))
                yield "\n"  # a blank line: skipped by both readers
                continue
            if self.number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
            # Undecodable bytes become lone surrogates, which the row check refuses.
            yield raw.decode("utf-8", errors="surrogateescape")


def _row(line: int, values: dict[str, object]) -> ImportRow | RowError:
    cleaned: dict[str, str | None] = {}
    for field in FIELDS:
        value = values.get(field)
        if value is None:
            cleaned[field] = None
            continue
        if not isinstance(value, str):
            return RowError(line, field, "must be a string")
        try:
            check_text(value)
        except BadInput as exc:
            return RowError(line, field, str(exc))
        cleaned[field] = value.strip() or None
    email = cleaned["email"]
    if email is None:
        return RowError(line, "email", "an email address is required")
    return ImportRow(line, email, cleaned["name"], cleaned["password_hash"])


def _csv_rows(lines: _Lines) -> Iterator[ImportRow | RowError]:
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ImportFileError(f"line {lines.number}: cannot read the header: {exc}") from exc
    columns = [column.strip().lower() for column in header]
    unknown = [c for c in columns if c not in FIELDS]
    if unknown or "email" not in columns or len(set(columns)) != len(columns):
        raise ImportFileError(
            f"line {reader.line_num}: the header must name the columns, among {', '.join(FIELDS)} "
            f"(email required, each once); found {', '.join(columns) or 'nothing'}"
        )
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(reader.line_num, "line", f"not valid CSV: {exc}")
            continue
        yield from lines.errors
        lines.errors.clear()
        if not record:
            continue
        if len(record) != len(columns):
            yield RowError(reader.line_num, "line", f"{len(record)} values for {len(columns)} columns")
            continue
        yield _row(reader.line_num, dict(zip(columns, record, strict=True)))


def _jsonl_rows(lines: _Lines) -> Iterator[ImportRow | RowError]:
    for text in lines:
        yield from lines.errors
        lines.errors.clear()
        if not text.strip():
            continue
        try:
            value = load_json(text.encode("utf-8", errors="surrogateescape"))
        except BadInput as exc:
            yield RowError(lines.number, "line", str(exc).replace("the body", "the line"))
            continue
        if not isinstance(value, dict):
            yield RowError(lines.number, "line", "each line must be a JSON object")
            continue
        unknown = sorted(set(value) - set(FIELDS))
        if unknown:
            yield RowError(lines.number, unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
            continue
        yield _row(lines.number, value)


def read_rows(stream: IO[bytes], fmt: Format) -> Iterator[ImportRow | RowError]:
    """The rows of a CSV (with a header) or JSON-lines stream, one at a time, in file order.
    Raises :class:`ImportFileError` (before any row) when the CSV header is unusable."""
    lines = _Lines(stream)
    rows = _csv_rows(lines) if fmt == "csv" else _jsonl_rows(lines)
    yield from rows
    yield from lines.errors


def _failed(row: ImportRow, field: str, message: str) -> RowResult:
    return RowResult(row.line, row.email, "failed", field, message.replace("\n", " "))


async def import_batch(
    db: AsyncSession, rows: Sequence[ImportRow], *, update: bool = False
) -> list[RowResult]:
    """Create (or, with ``update``, bring up to date) the accounts of ``rows``, staged in
    ``db``; one result per row. Nothing here commits."""
    checked: dict[int, tuple[str, str, str | None]] = {}
    results: dict[int, RowResult] = {}
    for index, row in enumerate(rows):
        try:
            display, key = accounts.normalize_email(row.email)
            name = accounts.clean_name(row.name or "", required=False) or None
            if row.password_hash is not None:
                accounts.check_password_hash(row.password_hash)
        except FieldError as exc:
            results[index] = _failed(row, exc.field, exc.message)
            continue
        checked[index] = (display, key, name)
    keys = {key for _, key, _ in checked.values()}
    existing: dict[str, User] = {}
    if keys:
        found = await db.execute(select(User).where(User.email_key.in_(keys)))
        existing = {user.email_key: user for user in found.scalars()}
    # New accounts: one statement per batch; the first row of an address wins, a later row of
    # the same address (or one a concurrent sign-up took) counts as unchanged.
    new: dict[str, dict[str, object]] = {}
    for index, (display, key, name) in checked.items():
        if key not in existing and key not in new:
            new[key] = {
                "id": new_id(),
                "email": display,
                "email_key": key,
                "name": name or display.split("@", 1)[0],
                "password_hash": rows[index].password_hash or NO_PASSWORD,
                "created_at": utcnow(),
            }
    created = await insert_many_unless_taken(db, User, list(new.values()), User.email_key)
    for index, (_, key, name) in checked.items():
        row = rows[index]
        if key in created:
            created.discard(key)
            # As accounts.create_user does for every new account (the audit log, webhooks).
            await record_event(db, events.USER_CREATED, user_id=str(new[key]["id"]))
            results[index] = RowResult(row.line, row.email, "created")
            continue
        user = existing.get(key)
        changed: list[str] = []
        if update and user is not None:
            if name is not None and user.name != name:
                user.name = name
                changed.append("name")
            if row.password_hash is not None and not hmac.compare_digest(
                user.password_hash.encode(), row.password_hash.encode()
            ):
                user.password_hash = row.password_hash
                changed.append("password")
        if changed and user is not None:
            await record_event(db, events.USER_UPDATED, user_id=user.id, detail={"changed": changed})
        results[index] = RowResult(row.line, row.email, "updated" if changed else "unchanged")
    await db.flush()
    return [results[index] for index in range(len(rows))]


def error_dict(error: RowError | RowResult) -> dict[str, object]:
    return {"line": error.line, "field": error.field, "message": error.message}
