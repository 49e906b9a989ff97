"""The messages Frontdesk sends: every subject and sentence in one place (:data:`TEXTS`, one
entry per template, ready for translations), rendered with Jinja2 into a plain-text and an
HTML part (``templates/<name>.txt`` and ``.html``, in the style of the pages)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from frontdesk import i18n
from frontdesk.i18n import N_

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
        "subject": N_("Confirm your email address"),
        "greeting": N_("Hello {name},"),
        "intro": N_("please confirm that {email} is your email address by opening this link:"),
        "button": N_("Confirm my email address"),
        "validity": N_("The link works once and for {hours} hours."),
        "ignore": N_("If you did not create an account, you can ignore this message."),
    },
    RESET: {
        "subject": N_("Reset your password"),
        "greeting": N_("Hello {name},"),
        "intro": N_(
            "someone (hopefully you) asked to reset the password of your account. Choose a new one here:"
        ),
        "button": N_("Choose a new password"),
        "validity": N_("The link works once and for {minutes} minutes."),
        "ignore": N_("If you did not ask for this, ignore this message: your password stays as it is."),
    },
    RESET_UNKNOWN: {
        "subject": N_("Password reset requested"),
        "greeting": N_("Hello,"),
        "intro": N_(
            "someone (hopefully you) asked to reset the password for {email}, but there is no "
            "account with this address. You can create one here:"
        ),
        "button": N_("Sign up"),
        "validity": "",
        "ignore": N_("If you did not ask for this, you can ignore this message."),
    },
    EMAIL_CHANGE: {
        "subject": N_("Confirm your new email address"),
        "greeting": N_("Hello {name},"),
        "intro": N_(
            "you asked to change the email address of your account from {old_email} to {email}. "
            "Confirm the new address by opening this link:"
        ),
        "button": N_("Confirm my new address"),
        "validity": N_(
            "The link works once and for {hours} hours. Your address stays {old_email} until you open it."
        ),
        "ignore": N_("If you did not ask for this, ignore this message: nothing changes."),
    },
    EMAIL_CHANGE_NOTICE: {
        "subject": N_("Your email address is about to change"),
        "greeting": N_("Hello {name},"),
        "intro": N_(
            "someone logged in to your account asked to change its email address from {email} "
            "to {new_email}. A link to confirm was sent to {new_email}; the address changes only once "
            "it is opened. If this was not you, choose a new password right away (that also cancels "
            "the change):"
        ),
        "button": N_("Reset my password"),
        "validity": "",
        "ignore": N_(
            "If it was you, there is nothing more to do. If you need help, contact the "
            "people who run this service."
        ),
    },
    INVITATION: {
        "subject": N_("You are invited to {space}"),
        "greeting": N_("Hello,"),
        "intro": N_(
            "{inviter} invites you to join {space} as {role_words}. Open this link to accept "
            "(with your account, or by creating one for {email}):"
        ),
        "button": N_("See the invitation"),
        "validity": N_("The link works once and for {days} days."),
        "ignore": N_("If you do not want to join, ignore this message."),
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


# Values that are words themselves (an invitation's role), translated like the sentences.
TRANSLATED_VALUES: Final = ("role_words",)


def words(template: str, values: dict[str, Any], locale: str | None = None) -> dict[str, str]:
    """The template's sentences in ``locale`` with ``values`` filled in."""
    filled = {
        key: i18n.gettext(locale, value) if key in TRANSLATED_VALUES and isinstance(value, str) else value
        for key, value in values.items()
    }
    return {key: i18n.gettext(locale, text).format(**filled) for key, text in TEXTS[template].items()}


def render(template: str, values: dict[str, Any], *, sender: str, to: str) -> EmailMessage:
    """The message ``template`` with ``values`` (which name its ``link`` and may name its
    ``locale``: the reader's language), as a MIME message with a plain-text part and an HTML
    alternative."""
    locale = values.get("locale") or i18n.DEFAULT
    text = words(template, values, locale)
    context = {**values, "t": text, "signature": SIGNATURE, "html_lang": i18n.html_lang(locale)}
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
