"""Languages: the gettext catalogues in ``locale/`` and choosing one of them.

Plain Python, used by every layer (pages, emails). English is the source language (the msgids);
each other language is ``locale/<code>/LC_MESSAGES/messages.po``. The ``.po`` file is compiled
in memory the first time the language is used (Babel's reader and ``.mo`` writer), so no
compiled catalogue is committed or has to be built at install. Adding a language is dropping in
its ``.po`` and naming it in ``FRONTDESK_LANGUAGES`` (docs/guide.md, "Languages").

Strings in Python that people read are marked with :func:`N_` (extracted, not translated
where written) and translated where they are rendered, with :func:`gettext` for the reader's
language: a ``FieldError`` message, a flash notice, an email's sentences.
"""

from __future__ import annotations

import gettext as _gettext
import math
import tomllib
from collections.abc import Iterable, Iterator
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import IO, Any, Final

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).with_name("locale")
DOMAIN: Final = "messages"
DEFAULT: Final = "en"
COOKIE: Final = "frontdesk_locale"


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is rendered."""
    return message


class Text(str):
    """A message with values in it: the English text (``str(text)``, as the JSON API and the
    CLI show it), keeping its template (an ``N_`` msgid with ``{name}`` fields) and the values,
    so a page shows it translated: :func:`gettext` translates the template, then fills it in.
    A value that is itself a ``Text`` (:func:`wait_in_words`) is translated too."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Text:
        if isinstance(template, Text) and not params:
            return template  # already a message with its values
        text = super().__new__(cls, template.format(**params) if params else template)
        text.template = template
        text.params = params
        return text


def message(template: str, **params: Any) -> str:
    """``template`` filled in with ``params`` (a :class:`Text`), or ``template`` as it is when
    there are none: a FieldError's and a notice's message."""
    return Text(template, **params) if params else template


def wait_in_words(seconds: int) -> Text:
    """How long a throttled person waits, as people say it after "in": 897 → "15 minutes" (the
    rounding of oauth/errors.py ``wait_in_words``, whose English the OAuth errors keep), here
    translatable for pages ("Try again in {wait}."). Singular and plural are two msgids."""
    for size, up_to, one, many in (
        (60, 90 * 60, N_("a minute"), N_("{n} minutes")),
        (3600, 48 * 3600, N_("an hour"), N_("{n} hours")),
        (86400, None, N_("a day"), N_("{n} days")),
    ):
        if up_to is None or seconds <= up_to:
            count = max(1, math.ceil(seconds / size))
            return Text(many, n=count) if count > 1 else Text(one)
    raise AssertionError("unreachable")


def extract_scope_descriptions(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extraction method for the scope files (babel.cfg): each ``description`` of a
    ``[scopes.<name>]`` table is a msgid, shown translated on the consent page."""
    for lineno, line in enumerate(fileobj.read().decode("utf-8").splitlines(), start=1):
        key, sep, value = line.partition("=")
        if sep and key.strip() == "description":
            text = tomllib.loads(f"v = {value.strip()}")["v"]
            if isinstance(text, str) and text:
                yield lineno, "N_", text, []


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=32)
def translations(locale: str) -> _gettext.NullTranslations:
    """The catalogue of ``locale``, compiled from its ``.po`` at first use (English, and a
    language without a catalogue, translate nothing)."""
    path = catalogue_path(locale)
    if locale == DEFAULT or not path.is_file():
        return _gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def gettext(locale: str | None, message: str) -> str:
    """``message`` (an English msgid, or a :class:`Text` with values) in ``locale``; unchanged
    when it has no translation."""
    if not message:
        return message
    catalogue = translations(locale or DEFAULT)
    if isinstance(message, Text):
        params = {
            name: gettext(locale, value) if isinstance(value, Text) else value
            for name, value in message.params.items()
        }
        translated = catalogue.gettext(message.template)
        return translated.format(**params) if params else translated
    return catalogue.gettext(message)


def ngettext(locale: str | None, singular: str, plural: str, n: int) -> str:
    return translations(locale or DEFAULT).ngettext(singular, plural, n)


@lru_cache(maxsize=8)
def parse_languages(value: str) -> tuple[str, ...]:
    """``FRONTDESK_LANGUAGES`` ("en,de"): the offered languages, English always first; one
    without a catalogue is left out (its pages would be English under another name)."""
    codes = [DEFAULT]
    for part in value.split(","):
        code = part.strip().replace("-", "_")
        if code and code not in codes and catalogue_path(code).is_file():
            codes.append(code)
    return tuple(codes)


def pick(candidates: Iterable[str], available: tuple[str, ...]) -> str | None:
    """The first of ``candidates`` (language tags, best first) that is ``available``, by
    Babel's negotiation (``de-AT`` matches ``de``); None when none is."""
    wanted = [c.strip().replace("-", "_") for c in candidates if c and c.strip()]
    if not wanted:
        return None
    found = negotiate_locale(wanted, list(available), sep="_")
    if found is None:  # "de_AT" against "de": Babel matches the language part only via aliases
        found = negotiate_locale([w.split("_")[0] for w in wanted], list(available), sep="_")
    return found


def accept_language(header: str) -> list[str]:
    """The languages of an ``Accept-Language`` header (RFC 9110 §12.5.4), best first; ``q=0``
    ones left out."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def display_name(locale: str) -> str:
    """A language's name in itself ("Deutsch"), for the chooser."""
    try:
        name = Locale.parse(locale).get_display_name(locale) or locale
    except (ValueError, UnknownLocaleError):
        return locale
    return name[:1].upper() + name[1:]


def html_lang(locale: str) -> str:
    """The BCP 47 tag for ``<html lang>`` (``pt_BR`` → ``pt-BR``)."""
    return locale.replace("_", "-")
