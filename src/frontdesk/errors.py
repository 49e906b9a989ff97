"""Domain errors shared by the web pages, the JSON API and the CLI."""

from __future__ import annotations

from typing import Any

from frontdesk.i18n import message as _message


class FrontdeskError(Exception):
    """Base class: a readable message for a person.

    ``message`` is an English msgid (``i18n.N_``); with keyword ``params`` it is a template
    (``FieldError("name", N_("Use at most {n} characters."), n=100)``): ``str(error)`` and
    ``.message`` are the English text filled in (API JSON, CLI), and a page shows it in its
    language (``.message`` is an ``i18n.Text``, translated by ``i18n.gettext``)."""

    def __init__(self, message: str, **params: Any) -> None:
        text = _message(message, **params)
        super().__init__(str(text))
        self.message = text


class FieldError(FrontdeskError):
    """Bad input for one form field / CLI option; shown next to that field."""

    def __init__(self, field: str, message: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.field = field


class NotFound(FrontdeskError):
    pass


class Forbidden(FrontdeskError):
    pass


class Conflict(FrontdeskError):
    pass
