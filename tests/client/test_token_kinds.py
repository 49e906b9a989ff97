"""Each kind of JWT Frontdesk signs has its own ``typ``, and each verifier of the client
library takes its own kind only (RFC 8725 §3.11): an iframe ``frontdesk_context`` is never an
ID token, and an ID token is never an iframe context, although both are signed with the same
key and carry the same ``iss`` and ``aud``.

The tokens come from a real ``frontdesk serve`` (tests/client/conftest.py); the header and
claim variants that a server cannot be made to sign come from the fake issuer
(tests/client/fakes.py).
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from typing import Any

import pytest

from frontdesk.client import Client, ContextError, IdTokenError, NavigationLinkSpec
from tests.client.conftest import Browser, World, query_of
from tests.client.fakes import CLIENT_ID, ISSUER, SECRET, FakeIssuer
from tests.support import PASSWORD

CONTEXT_TYP = "frontdesk-context+jwt"


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def _context_from_the_server(world: World, browser: Browser, client: Client) -> str:
    """The ``frontdesk_context`` of a navigation link's iframe, as the space's page hands it out."""
    api = client.api(client.password_grant(world.alice, PASSWORD, "navigation"))
    (link,) = api.install_navigation_links(
        world.space, [NavigationLinkSpec("members", "Kinds", "https://app.example/kinds")]
    )
    try:
        page = browser.open(link.user_url)
        assert page.status_code == 200, page.text
        match = re.search(r'<iframe\b[^>]*\bsrc="([^"]+)"', page.text)
        assert match, "the page has no iframe"
        return query_of(html.unescape(match.group(1)))["frontdesk_context"]
    finally:
        api.delete_navigation_link(world.space, link)


@pytest.mark.e2e
def test_an_iframe_context_is_not_an_id_token(world: World, alice_browser: Browser) -> None:
    with world.client() as client:
        context = _context_from_the_server(world, alice_browser, client)
        issuer = client.issuer_for_space(world.space)
        assert _header(context)["typ"] == CONTEXT_TYP
        # The context itself verifies as a context ...
        assert client.verify_context(context, issuer=issuer).user_id
        # ... and never as an ID token of the same issuer, for the same app.
        with pytest.raises(IdTokenError, match="not an ID token"):
            client.verify_id_token(context, issuer=issuer)


@pytest.mark.e2e
def test_an_id_token_is_not_an_iframe_context(world: World, alice_browser: Browser) -> None:
    with world.client() as client:
        issuer = client.issuer_for_space(world.space)
        pending = client.start_authorization("openid read_user", issuer=issuer)
        token = client.finish_authorization(pending, alice_browser.authorize(pending.url))
        assert token.id_token is not None
        assert _header(token.id_token)["typ"] == "JWT"
        assert client.verify_id_token(token.id_token, issuer=issuer)["iss"] == issuer
        with pytest.raises(ContextError, match="not an iframe context"):
            client.verify_context(token.id_token, issuer=issuer, subdomain=world.space)


# ---- what a server cannot be made to sign: other headers, untyped contexts -------------------


def _context_claims(fake: FakeIssuer) -> dict[str, Any]:
    return fake.claims(
        role="member",
        space={"id": "space-1", "subdomain": "co-up"},
        navigation_link="link-1",
        exp=int(time.time()) + 300,
    )


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "application/jwt"])
def test_the_id_token_verifier_takes_plain_jwts(typ: str | None) -> None:
    fake = FakeIssuer()
    header = {} if typ is None else {"typ": typ}
    with fake.client() as client:
        assert client.verify_id_token(fake.sign(fake.claims(), header=header), issuer=ISSUER)["sub"]


@pytest.mark.parametrize("typ", [CONTEXT_TYP, "application/frontdesk-context+jwt", "at+jwt", "logout+jwt"])
def test_the_id_token_verifier_refuses_other_types(typ: str) -> None:
    fake = FakeIssuer()
    with fake.client() as client, pytest.raises(IdTokenError, match="not an ID token"):
        client.verify_id_token(fake.sign(fake.claims(), header={"typ": typ}), issuer=ISSUER)


@pytest.mark.parametrize("typ", [None, "JWT"])
def test_an_untyped_context_is_still_not_an_id_token(typ: str | None) -> None:
    """A context signed without its own ``typ`` (as servers before this check did) is told
    apart by its claims."""
    fake = FakeIssuer()
    header = {} if typ is None else {"typ": typ}
    with fake.client() as client, pytest.raises(IdTokenError, match="not an ID token"):
        client.verify_id_token(fake.sign(_context_claims(fake), header=header), issuer=ISSUER)


@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt"])
def test_the_context_verifier_takes_its_own_type_only(typ: str | None) -> None:
    fake = FakeIssuer()
    header = {} if typ is None else {"typ": typ}
    with (
        Client(CLIENT_ID, SECRET, issuer=ISSUER, transport=fake.transport()) as client,
        pytest.raises(ContextError, match="not an iframe context"),
    ):
        client.verify_context(fake.sign(_context_claims(fake), header=header), issuer=ISSUER)


@pytest.mark.parametrize("typ", [CONTEXT_TYP, "application/Frontdesk-Context+JWT"])
def test_the_context_verifier_takes_its_type_in_any_case(typ: str) -> None:
    """RFC 7515 §4.1.9: ``typ`` compares case-insensitively, ``application/`` may be left out."""
    fake = FakeIssuer()
    with Client(CLIENT_ID, SECRET, issuer=ISSUER, transport=fake.transport()) as client:
        context = client.verify_context(fake.sign(_context_claims(fake), header={"typ": typ}), issuer=ISSUER)
    assert context.role == "member"
