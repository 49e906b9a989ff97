"""Domain errors shared by the web pages, the JSON API and the CLI."""

from __future__ import annotations


class FrontdeskError(Exception):
    """Base class: a readable message for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FieldError(FrontdeskError):
    """Bad input for one form field / CLI option; shown next to that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(FrontdeskError):
    pass


class Forbidden(FrontdeskError):
    pass


class Conflict(FrontdeskError):
    pass
