"""Unit tests of the framework-free protocol pieces."""

from __future__ import annotations

import base64

import pytest

from frontdesk.oauth import pkce, redirect_uris
from frontdesk.oauth.bearer import MissingToken, challenge, extract_token
from frontdesk.oauth.client_auth import parse_basic
from frontdesk.oauth.errors import (
    InsufficientScope,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
)
from frontdesk.oauth.request import OAuthRequest, Params, token_params
from frontdesk.oauth.scopes import catalogue, grant_scopes, parse_scope
from tests.oauth_support import REDIRECT_URI_MUTATIONS

REG = "https://app.test/cb"


@pytest.mark.rfc("9700 4.1.3")
@pytest.mark.parametrize("mutation", [*REDIRECT_URI_MUTATIONS, ""])
def test_redirect_uri_exact_match_refuses_mutations(mutation: str) -> None:
    assert not redirect_uris.match(mutation, [REG]).ok


@pytest.mark.rfc("8252 7.3")
def test_loopback_port_is_free() -> None:
    assert redirect_uris.match("http://127.0.0.1:51234/cb", ["http://127.0.0.1/cb"]).ok
    assert redirect_uris.match("http://localhost:1/cb", ["http://localhost:8080/cb"]).ok
    assert not redirect_uris.match("http://localhost:1/other", ["http://localhost:8080/cb"]).ok
    assert not redirect_uris.match("https://app.test:444/cb", ["https://app.test/cb"]).ok


def test_query_tolerant_matching_is_opt_in() -> None:
    registered = ["https://app.test/auth/cobot/callback?origin=x"]
    requested = "https://app.test/auth/cobot/callback?origin=x&page=1"
    assert not redirect_uris.match(requested, registered).ok
    assert redirect_uris.match(requested, registered).only_query_differs
    assert redirect_uris.match(requested, registered, allow_query=True).ok
    # Never a response parameter (docs/decisions.md §8): the app would read ours second.
    injected = "https://app.test/auth/cobot/callback?origin=x&state=1"
    assert not redirect_uris.match(injected, registered, allow_query=True).ok
    assert not redirect_uris.match(injected, registered).only_query_differs
    assert not redirect_uris.match(
        "https://app.test/auth/cobot/callback?state=1", registered, allow_query=True
    ).ok
    assert not redirect_uris.match(
        "https://app.test/auth/cobot/other?origin=x", registered, allow_query=True
    ).ok


@pytest.mark.rfc("6749 3.1.2")
@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("https://app.test/cb", True),
        ("http://localhost:3000/cb", True),
        ("http://127.0.0.1/cb", True),
        ("http://[::1]:8080/cb", True),
        ("com.example.app:/callback", True),
        ("/relative", False),
        ("https://app.test/cb#frag", False),
        ("http://app.test/cb", False),
        ("javascript:alert(1)", False),
        ("https://user@app.test/cb", False),
        ("myapp://cb", False),
        ("https:///nohost", False),
        ("https://app.test/a b", False),
    ],
)
def test_redirect_uri_registration_rules(uri: str, ok: bool) -> None:
    if ok:
        assert redirect_uris.validate_for_registration(uri) == uri
    else:
        with pytest.raises(redirect_uris.RedirectUriError):
            redirect_uris.validate_for_registration(uri)


@pytest.mark.rfc("6749 3.3")
def test_scope_parsing_and_granting() -> None:
    assert parse_scope("read_user  navigation,read_memberships read_user") == (
        "read_user",
        "navigation",
        "read_memberships",
    )
    assert parse_scope(None) == parse_scope("") == ()
    allowed = ("read_user", "navigation")
    assert grant_scopes((), allowed) == allowed
    assert grant_scopes(("navigation", "read_memberships"), allowed) == ("navigation",)
    with pytest.raises(InvalidScope):
        grant_scopes(("bogus",), allowed)
    with pytest.raises(InvalidScope):
        grant_scopes(("read_memberships",), allowed)
    with pytest.raises(InvalidScope):
        grant_scopes(("signin",), ("signin",))
    assert grant_scopes(("signin",), ("signin",), trusted=True) == ("signin",)


def test_umbrella_scopes_imply_their_parts() -> None:
    expanded = catalogue().expand(["read", "navigation"])
    assert {"read_user", "read_memberships", "write_navigation_links"} <= expanded
    assert "write_memberships" not in expanded


@pytest.mark.rfc("7636 4.6")
def test_pkce() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 Appendix B
    pkce.verify(pkce.s256(verifier), verifier)
    for bad in (None, "x" * 42, verifier[:-1] + "A"):
        with pytest.raises(InvalidGrant):
            pkce.verify(pkce.s256(verifier), bad)
    with pytest.raises(InvalidGrant):  # downgrade (RFC 9700 §4.8.2)
        pkce.verify(None, verifier)
    pkce.verify(None, None)


@pytest.mark.rfc("7636 4.3")
def test_pkce_challenge_rules() -> None:
    challenge_value = pkce.s256("a" * 43)
    assert pkce.check_challenge(challenge_value, "S256", required=False) == (challenge_value, "S256")
    for method in ("plain", None):
        with pytest.raises(InvalidRequest, match="S256"):
            pkce.check_challenge(challenge_value, method, required=False)
    with pytest.raises(InvalidRequest):
        pkce.check_challenge(None, None, required=True)
    with pytest.raises(InvalidRequest):
        pkce.check_challenge("short", "S256", required=False)


@pytest.mark.rfc("6749 2.3.1")
def test_basic_credentials_are_form_urldecoded() -> None:
    raw = base64.b64encode(b"my%20client:s%2Bcr%3At").decode()
    assert parse_basic(f"Basic {raw}") == ("my client", "s+cr:t")
    assert parse_basic("basic " + base64.b64encode(b"id:se:cret").decode()) == ("id", "se:cret")
    for bad in ("Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        with pytest.raises(InvalidClient):
            parse_basic(bad)


@pytest.mark.rfc("6749 3.2")
def test_repeated_and_empty_parameters() -> None:
    params = Params((("code", "a"), ("code", "b"), ("state", "")))
    with pytest.raises(InvalidRequest):
        params.get("code")
    assert params.get("state") is None
    strict = OAuthRequest(method="POST", query=(("client_secret", "x"),))
    with pytest.raises(InvalidRequest):
        token_params(strict, strict=True)
    merged = token_params(OAuthRequest(method="POST", query=(("a", "1"),), form=(("a", "2"),)), strict=False)
    with pytest.raises(InvalidRequest):
        merged.get("a")


@pytest.mark.rfc("6750 2")
def test_bearer_extraction() -> None:
    assert extract_token("Bearer abc", ()) == "abc"
    assert extract_token("BEARER abc", ()) == "abc"
    assert extract_token(None, (("access_token", "abc"),)) == "abc"
    assert extract_token(None, (), (("access_token", "abc"),)) == "abc"
    assert extract_token("Basic xyz", ()) is None
    assert extract_token(None, ()) is None
    for args in (
        ("Bearer abc", (("access_token", "abc"),)),
        (None, (("access_token", "a"), ("access_token", "b"))),
        ("Bearer", ()),
        ("Bearer a b", ()),
    ):
        with pytest.raises(InvalidRequest):
            extract_token(*args)  # type: ignore[arg-type]


@pytest.mark.rfc("6750 3")
def test_challenges() -> None:
    assert challenge("http://x") == 'Bearer realm="http://x"'
    assert challenge("http://x", MissingToken()) == 'Bearer realm="http://x"'
    assert (
        challenge("r", InvalidToken('bad "one"'))  # RFC 6749 §5.2 characters only
        == 'Bearer realm="r", error="invalid_token", error_description="bad ?one?"'
    )
    assert challenge("r", InsufficientScope("write")).endswith(
        'error="insufficient_scope", error_description="this needs the scope write", scope="write"'
    )
