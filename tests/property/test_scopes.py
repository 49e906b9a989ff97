"""``frontdesk.oauth.scopes.parse_scope`` / ``format_scope`` (RFC 6749 §3.3; commas tolerated)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from frontdesk.oauth.scopes import format_scope, parse_scope

# RFC 6749 §3.3 scope-token characters, without the comma Frontdesk also splits on.
TOKEN = st.text(alphabet=[chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\,'], min_size=1, max_size=12)
SEPARATOR = st.text(alphabet=" \t\n\r,\x0b\x0c", min_size=1, max_size=3)


@st.composite
def raw_scopes(draw: st.DrawFn) -> tuple[list[str], str]:
    tokens = draw(st.lists(TOKEN, max_size=8))
    seps = draw(st.lists(SEPARATOR, min_size=len(tokens) + 1, max_size=len(tokens) + 1))
    lead = draw(st.booleans())
    raw = (seps[0] if lead else "") + "".join(t + s for t, s in zip(tokens, seps[1:], strict=True))
    return tokens, raw


@given(raw=st.one_of(st.none(), st.text(max_size=60)))
def test_parse_is_idempotent_over_format(raw: str | None) -> None:
    parsed = parse_scope(raw)
    assert parse_scope(format_scope(parsed)) == parsed
    assert all(s and not re.search(r"[\s,]", s) for s in parsed)


@given(case=raw_scopes())
def test_order_is_kept_and_repeats_dropped(case: tuple[list[str], str]) -> None:
    tokens, raw = case
    expected = tuple(dict.fromkeys(tokens))
    assert parse_scope(raw) == expected
    assert len(set(parse_scope(raw))) == len(parse_scope(raw))
    assert format_scope(parse_scope(raw)) == " ".join(expected)


@given(tokens=st.lists(TOKEN, max_size=8))
def test_commas_are_spaces(tokens: list[str]) -> None:
    assert parse_scope(",".join(tokens)) == parse_scope(" ".join(tokens)) == parse_scope(", ".join(tokens))


@given(tokens=st.lists(TOKEN, min_size=1, max_size=8))
def test_format_then_parse_round_trips_a_list_without_repeats(tokens: list[str]) -> None:
    unique = tuple(dict.fromkeys(tokens))
    assert parse_scope(format_scope(unique)) == unique
