"""``frontdesk.oauth.client_auth.parse_basic``: RFC 6749 §2.3.1 and Appendix B (both halves
form-urlencoded, then base64)."""

from __future__ import annotations

import base64
import contextlib
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.oauth.client_auth import parse_basic
from frontdesk.oauth.errors import InvalidClient

# Any Unicode text (no lone surrogates, which UTF-8 cannot carry), biased towards the
# characters Basic credentials trip over.
TEXT = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(":%+ &=/?#~._-")), max_size=40
)


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


@given(client_id=TEXT, secret=TEXT)
def test_inverts_form_urlencoding_and_base64(client_id: str, secret: str) -> None:
    assert parse_basic(header(quote_plus(client_id), quote_plus(secret))) == (client_id, secret)


@given(client_id=TEXT, secret=TEXT)
def test_inverts_percent_encoding_of_every_character(client_id: str, secret: str) -> None:
    """oauth4webapi encodes even ``- _ . ~``; plain ``quote`` encodes spaces as %20."""
    everything = "".join(f"%{b:02X}" for b in client_id.encode())
    assert parse_basic(header(everything, quote(secret, safe=""))) == (client_id, secret)


@given(
    client_id=st.text(alphabet=st.characters(codec="utf-8", exclude_characters=":%+"), max_size=30),
    secret=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="%+"), max_size=30),
)
def test_raw_credentials_without_escapable_characters_pass_unchanged(client_id: str, secret: str) -> None:
    """Clients that send id and secret raw (requests-oauthlib, Authlib) work as long as neither
    holds ``%`` or ``+`` (Frontdesk's ids and secrets never do) and the id has no ``:``."""
    assert parse_basic(header(client_id, secret)) == (client_id, secret)


@given(scheme=st.sampled_from(["Basic", "basic", "BASIC"]), value=st.text(max_size=40))
def test_the_scheme_is_case_insensitive_and_garbage_is_invalid_client(scheme: str, value: str) -> None:
    """Whatever follows ``Basic``, the answer is credentials or ``invalid_client``, never another
    exception (which would be a 500). Latin-1 only: HTTP header values arrive that way."""
    with contextlib.suppress(InvalidClient):
        parse_basic(f"{scheme} " + base64.b64encode(value.encode()).decode())
    value_latin1 = value.encode("utf-8").decode("latin-1")
    if value_latin1.isascii():
        with contextlib.suppress(InvalidClient):
            parse_basic(f"{scheme} {value_latin1}")


@given(value=st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0xFF), min_size=1, max_size=20))
def test_non_ascii_basic_credentials_are_invalid_client(value: str) -> None:
    with pytest.raises(InvalidClient):
        parse_basic("Basic " + value)
