"""The messages Frontdesk sends: every subject and sentence in one place (:data:`TEXTS`, one
entry per template, ready for translations), rendered with Jinja2 into a plain-text and an
HTML part (``templates/<name>.txt`` and ``.html``, in the style of the pages)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")

VERIFY: Final = "verify_email"
RESET: Final = "reset_password"
RESET_UNKNOWN: Final = "reset_unknown"
EMAIL_CHANGE: Final = "confirm_email_change"
EMAIL_CHANGE_NOTICE: Final = "email_change_notice"
INVITATION: Final = "invitation"

# The words of each message; ``{name}`` and ``{hours}``-style fields come from its values.
TEXTS: Final[dict[str, dict[str, str]]] = {
    VERIFY: {
        "subject": "Confirm your email address",
        "greeting": "Hello {name},",
        "intro": "please confirm that {email} is your email address by opening this link:",
        "button": "Confirm my email address",
        "validity": "The link works once and for {hours} hours.",
        "ignore": "If you did not create an account, you can ignore this message.",
    },
    RESET: {
        "subject": "Reset your password",
        "greeting": "Hello {name},",
        "intro": "someone (hopefully you) asked to reset the password of your account. "
        "Choose a new one here:",
        "button": "Choose a new password",
        "validity": "The link works once and for {minutes} minutes.",
        "ignore": "If you did not ask for this, ignore this message: your password stays as it is.",
    },
    RESET_UNKNOWN: {
        "subject": "Password reset requested",
        "greeting": "Hello,",
        "intro": "someone (hopefully you) asked to reset the password for {email}, but there is no "
        "account with this address. You can create one here:",
        "button": "Sign up",
        "validity": "",
        "ignore": "If you did not ask for this, you can ignore this message.",
    },
    EMAIL_CHANGE: {
        "subject": "Confirm your new email address",
        "greeting": "Hello {name},",
        "intro": "you asked to change the email address of your account from {old_email} to {email}. "
        "Confirm the new address by opening this link:",
        "button": "Confirm my new address",
        "validity": "The link works once and for {hours} hours. Your address stays {old_email} until "
        "you open it.",
        "ignore": "If you did not ask for this, ignore this message: nothing changes.",
    },
    EMAIL_CHANGE_NOTICE: {
        "subject": "Your email address is about to change",
        "greeting": "Hello {name},",
        "intro": "someone logged in to your account asked to change its email address from {email} "
        "to {new_email}. A link to confirm was sent to {new_email}; the address changes only once "
        "it is opened. If this was not you, choose a new password right away (that also cancels "
        "the change):",
        "button": "Reset my password",
        "validity": "",
        "ignore": "If it was you, there is nothing more to do. If you need help, contact the "
        "people who run this service.",
    },
    INVITATION: {
        "subject": "You are invited to {space}",
        "greeting": "Hello,",
        "intro": "{inviter} invites you to join {space} as {role_words}. Open this link to accept "
        "(with your account, or by creating one for {email}):",
        "button": "See the invitation",
        "validity": "The link works once and for {days} days.",
        "ignore": "If you do not want to join, ignore this message.",
    },
}
SIGNATURE: Final = "Frontdesk"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def words(template: str, values: dict[str, Any]) -> dict[str, str]:
    """The template's sentences with ``values`` filled in."""
    return {key: text.format(**values) for key, text in TEXTS[template].items()}


def render(template: str, values: dict[str, Any], *, sender: str, to: str) -> EmailMessage:
    """The message ``template`` with ``values`` (which name its ``link``), as a MIME message
    with a plain-text part and an HTML alternative."""
    text = words(template, values)
    context = {**values, "t": text, "signature": SIGNATURE}
    message = EmailMessage()
    message["Subject"] = text["subject"]
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: no auto-replies, please
    message.set_content(env.get_template(f"{template}.txt").render(context))
    message.add_alternative(env.get_template(f"{template}.html").render(context), subtype="html")
    return message
