"""How a message leaves: over SMTP (aiosmtplib), or, with no SMTP host configured
(development), as an ``.eml`` file in the outbox folder with one line naming its link."""

from __future__ import annotations

import os
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from frontdesk.settings import Settings


class SendFailed(Exception):
    """The message did not leave (the worker retries it)."""


class Transport(Protocol):
    async def send(self, message: EmailMessage, *, message_id: str, link: str) -> None: ...


class SmtpTransport:
    """One SMTP session per message: ``starttls`` (RFC 3207), implicit ``tls`` (RFC 8314 §3.3)
    or ``none``; AUTH when a username is set."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host
        self.settings = settings

    async def send(self, message: EmailMessage, *, message_id: str, link: str) -> None:
        s = self.settings
        password = s.smtp_password.get_secret_value() if s.smtp_password is not None else None
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=password if s.smtp_username else None,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                timeout=s.smtp_timeout_seconds,
            )
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc


class FolderTransport:
    """Development: each message becomes ``<folder>/<id>.eml``, and one line on the console
    names the file and the link the message holds (so ``make run`` works without a mail
    server). The line goes to stderr, not through the redacting log (frontdesk/logs.py
    blanks ``token=`` values): only this development transport shows a link."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage, *, message_id: str, link: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{message_id}.eml"
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(message.as_bytes())
            os.replace(tmp, path)
        except OSError as exc:
            raise SendFailed(f"cannot write {self.folder}: {exc}") from exc
        print(f"email to {message['To']} ({message['Subject']}): {link}  [{path}]", file=sys.stderr)


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FolderTransport(settings.outbox_dir())
