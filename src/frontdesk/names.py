"""Names shown to people: the one check every place that accepts one runs.

App names (the apps pages, the CLI, dynamic registration's ``client_name``, the admin forms),
space names, people's display names and admins' names in a space, navigation link labels, and
the scope descriptions of the operator's scope file are all shown on pages where someone decides
whom to trust. A right-to-left override (U+202E) shows the rest of a name backwards, so
"Evil" followed by an override and a reversed name reads as another app's, and invisible
characters make two names look alike, so a name must not contain:

* control characters (Unicode category Cc), NUL included; runs of white space, line breaks
  among them, become one space before the check;
* format characters (Cf): the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
  U+2066–U+2069), the marks U+200E, U+200F and U+061C, zero-width spaces, the word joiner, the
  soft hyphen, the byte-order mark, tag characters …; except the zero-width joiner and
  non-joiner (U+200D, U+200C), which emoji sequences and the spelling of several scripts need;
* surrogates (Cs, which cannot be stored as UTF-8) and private-use characters (Co, which show
  as whatever a font puts there).

Ordinary letters, marks, digits, punctuation and symbols of every script stay allowed.
"""

from __future__ import annotations

import unicodedata

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
_JOINERS = frozenset({"\u200c", "\u200d"})


class UnsafeName(ValueError):
    """A name with characters that must not be shown to people; the message says which."""


def unsafe_characters(text: str) -> list[str]:
    """The refused characters in ``text`` (each once, in order), as ``U+XXXX`` labels."""
    found: dict[str, None] = {}
    for char in text:
        if char not in _JOINERS and unicodedata.category(char) in _REFUSED_CATEGORIES:
            found[f"U+{ord(char):04X}"] = None
    return list(found)


def check_name(text: str) -> str:
    """Return ``text`` if it may be shown to people as a name, else raise :class:`UnsafeName`."""
    bad = unsafe_characters(text)
    if bad:
        raise UnsafeName(
            "A name must not contain control characters or invisible formatting characters "
            f"(such as right-to-left overrides); found {', '.join(bad[:5])}."
        )
    return text


def clean_name(raw: str | None) -> str:
    """White space collapsed to single spaces and trimmed, then :func:`check_name`."""
    return check_name(" ".join((raw or "").split()))
