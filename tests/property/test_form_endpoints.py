"""Fuzzing the form-encoded OAuth endpoints the OpenAPI description cannot describe (their
bodies are read by hand): the token, revocation and introspection endpoints answer any
request with a JSON error or success, never a 5xx, and never let a response be cached."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oauth_support import RegisteredApp

PATHS = ["/oauth/access_token", "/oauth/token", "/oauth/revoke", "/oauth/introspect"]
NAMES = [
    "grant_type",
    "code",
    "client_id",
    "client_secret",
    "redirect_uri",
    "code_verifier",
    "username",
    "password",
    "scope",
    "refresh_token",
    "token",
    "token_type_hint",
]
GRANTS = ["authorization_code", "password", "refresh_token", "client_credentials", ""]
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
VALUE = st.one_of(TEXT, st.sampled_from([*GRANTS, "fdat_x", "fdrt_x", "fdac_x", "S256", "access_token"]))
PAIRS = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), TEXT), VALUE), max_size=8)
# HTTP header values are latin-1 on the wire; non-ASCII Basic credentials are a known bug
# (tests/property/test_client_auth.py), so the header here stays ASCII.
ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
AUTHORIZATION = st.one_of(
    st.none(),
    st.builds(
        lambda v: "Basic " + base64.b64encode(v.encode()).decode(),
        st.text(st.characters(codec="utf-8"), max_size=30),
    ),
    st.builds(lambda v: "Basic " + v, ASCII),
    st.builds(lambda v: "Bearer " + v, ASCII),
    ASCII,
)
# Malformed multipart bodies have their own test below.
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/json",
        "text/plain",
        "",
    ]
)
EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@EXAMPLES
@given(
    path=st.sampled_from(PATHS),
    body=PAIRS,
    query=PAIRS,
    authorization=AUTHORIZATION,
    content_type=CONTENT_TYPES,
    with_client=st.booleans(),
)
async def test_form_endpoints_never_fail(
    browser: Any,
    registered: RegisteredApp,
    path: str,
    body: list[tuple[str, str]],
    query: list[tuple[str, str]],
    authorization: str | None,
    content_type: str,
    with_client: bool,
) -> None:
    if with_client:
        body = [("client_id", registered.client_id), ("client_secret", registered.client_secret or ""), *body]
    headers = {"content-type": content_type} if content_type else {}
    if authorization is not None:
        headers["authorization"] = authorization
    url = path + ("?" + urlencode(query) if query else "")
    response: httpx.Response = await browser.post(url, content=urlencode(body).encode(), headers=headers)
    assert response.headers["cache-control"] == "no-store"
    assert response.status_code == expected_status(response), (response.status_code, response.text)
    if response.content:
        assert response.headers["content-type"].startswith("application/json")


def expected_status(response: httpx.Response) -> int:
    """The one status the answer's body calls for (RFC 6749 §5.2, RFC 7009 §2.2, RFC 7662 §2.3):
    200 for a success (revocation's is empty), 401 for ``invalid_client``, 400 for any other
    error, 429 for a throttled one (it carries Retry-After). A 5xx is never expected."""
    if not response.content:
        return 200
    answer = response.json()
    if "error" not in answer:
        return 200
    assert isinstance(answer["error"], str) and answer["error"] != "server_error", answer
    if "retry-after" in response.headers:
        return 429
    return 401 if answer["error"] == "invalid_client" else 400


@pytest.mark.rfc("6749 5.2")
async def test_a_malformed_multipart_body_is_invalid_request(browser: Any) -> None:
    response = await browser.post(
        "/oauth/access_token",
        content=b"grant_type=password",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
