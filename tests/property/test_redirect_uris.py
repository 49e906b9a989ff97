"""``frontdesk.oauth.redirect_uris.match``: exact matching (RFC 9700 §4.1.3), loopback ports
(RFC 8252 §7.3) and the opt-in query-tolerant mode (project decision 8)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from frontdesk.oauth.redirect_uris import is_response_param, match, validate_for_registration

LABEL = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?\Z")
HOST = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["test", "example", "com", "io"]),
)
SEGMENT = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", min_size=1, max_size=10
)
PATH = st.lists(SEGMENT, max_size=4).map(lambda parts: "/" + "/".join(parts))
NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6)
VALUE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", max_size=8)
# Parameters a registered query may hold, and the extra ones an app may add in query-tolerant
# mode: no OAuth response parameter (registration refuses those, e.g. a drawn "error").
HARMLESS = st.lists(
    st.tuples(NAME.filter(lambda name: not is_response_param(name)), VALUE),
    max_size=3,
    unique_by=lambda pair: pair[0],
)
PAIRS = HARMLESS
RESPONSE_NAME = st.sampled_from(
    ["code", "state", "iss", "error", "error_description", "error_uri", "id_token", "session_state"]
)


def names_of(query: str) -> set[str]:
    return {pair.partition("=")[0] for pair in query.split("&") if pair}


PORT = st.one_of(st.none(), st.integers(1, 65535))


@st.composite
def web_uris(draw: st.DrawFn, query: bool = True) -> str:
    host = draw(HOST)
    port = draw(PORT)
    netloc = host if port is None else f"{host}:{port}"
    uri = f"https://{netloc}{draw(PATH)}"
    pairs = draw(PAIRS) if query else []
    if pairs:
        uri += "?" + urlencode(pairs)
    return validate_for_registration(uri)


LOOPBACK_HOSTS = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "127.0.0.1"])


@st.composite
def loopback_uris(draw: st.DrawFn) -> tuple[str, str, str]:
    """(registered, host, path): ``http://<loopback>[:port]<path>``."""
    host = draw(LOOPBACK_HOSTS)
    port = draw(PORT)
    path = draw(PATH)
    netloc = host if port is None else f"{host}:{port}"
    return validate_for_registration(f"http://{netloc}{path}"), host, path


def mutations(uri: str, *, scheme_case: bool = True) -> st.SearchStrategy[str]:
    """URIs that differ from ``uri`` in scheme, host, path or port, or add a fragment
    (``scheme_case=False``: leave out ``HTTPS://``, which the test at the end covers)."""
    scheme, rest = uri.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    host, _, port = netloc.partition(":")
    path_and_query = sep + tail
    path, qsep, query = path_and_query.partition("?")
    return st.one_of(
        st.sampled_from(["http", "HTTPS", "ftp", "wss"] if scheme_case else ["http", "ftp", "wss"]).map(
            lambda s: f"{s}://{rest}"
        ),
        st.sampled_from(["evil.", "a", "x-"]).map(lambda p: f"{scheme}://{p}{rest}"),
        st.sampled_from([".evil.test", "x", "."]).map(
            lambda p: f"{scheme}://{host}{p}{':' + port if port else ''}{path_and_query}"
        ),
        st.just(f"{scheme}://{host.upper()}{':' + port if port else ''}{path_and_query}"),
        st.sampled_from(["/", "x", "/x", "%2F", "/.", ";a"]).map(
            lambda p: f"{scheme}://{netloc}{path}{p}{qsep}{query}"
        ),
        st.just(f"{scheme}://{netloc}{path.upper()}{qsep}{query}"),
        st.integers(1, 65535).map(lambda p: f"{scheme}://{host}:{p}{path_and_query}"),
        st.just(f"{scheme}://{host}{path_and_query}"),
        st.sampled_from(["#", "#f", "#/cb"]).map(lambda f: uri + f),
    )


@given(uri=web_uris(), others=st.lists(web_uris(), max_size=3), tolerant=st.booleans())
def test_a_registered_uri_always_matches_itself(uri: str, others: list[str], tolerant: bool) -> None:
    assert match(uri, [*others, uri], allow_query=tolerant).ok


@given(data=st.data(), uri=web_uris())
def test_any_mutation_of_scheme_host_path_port_or_a_fragment_does_not_match(
    data: st.DataObject, uri: str
) -> None:
    mutated = data.draw(mutations(uri))
    assume(mutated != uri)
    assert not match(mutated, [uri]).ok, (uri, mutated)


@given(data=st.data(), uri=web_uris())
def test_in_query_tolerant_mode_too(data: st.DataObject, uri: str) -> None:
    mutated = data.draw(mutations(uri, scheme_case=False))
    assume(mutated != uri)
    assert not match(mutated, [uri], allow_query=True).ok, (uri, mutated)


@given(registered=loopback_uris(), port=st.integers(1, 65535))
def test_loopback_uris_match_on_any_port(registered: tuple[str, str, str], port: int) -> None:
    uri, host, path = registered
    assert match(f"http://{host}:{port}{path}", [uri]).ok
    assert match(f"http://{host}{path}", [uri]).ok


@given(registered=loopback_uris(), port=st.integers(1, 65535), data=st.data())
def test_loopback_port_freedom_is_the_only_freedom(
    registered: tuple[str, str, str], port: int, data: st.DataObject
) -> None:
    uri, host, path = registered
    other_host = {"127.0.0.1": "localhost", "localhost": "127.0.0.1", "[::1]": "127.0.0.1"}[host]
    changed = data.draw(
        st.sampled_from(
            [
                f"https://{host}:{port}{path}",
                f"http://{other_host}:{port}{path}",
                f"http://{host}:{port}{path}/x",
                f"http://{host}:{port}{path}#f",
                f"http://{host}:{port}{path}?x=1",
                f"http://{host}.evil.test:{port}{path}"
                if host != "[::1]"
                else f"http://evil.test:{port}{path}",
            ]
        )
    )
    assert not match(changed, [uri]).ok, (uri, changed)


@pytest.mark.parametrize(
    ("requested", "registered"),
    [
        ("http://evil@127.0.0.1:5000/cb", "http://127.0.0.1/cb"),
        ("http://a:b@localhost:5000/cb", "http://localhost/cb"),
        ("http://[::1].evil.test:1/cb", "http://[::1]/cb"),
        ("http://[::1]x:5000/cb", "http://[::1]/cb"),
    ],
)
def test_loopback_matching_frees_the_port_and_nothing_else(requested: str, registered: str) -> None:
    assert not match(requested, [registered]).ok


@given(uri=web_uris(), extra=HARMLESS.filter(bool))
def test_query_tolerant_mode_ignores_extra_parameters_only_when_opted_in(
    uri: str, extra: list[tuple[str, str]]
) -> None:
    assume(not names_of(uri.partition("?")[2]) & {name for name, _ in extra})
    requested = uri + ("&" if "?" in uri else "?") + urlencode(extra)
    tolerant = match(requested, [uri], allow_query=True)
    assert tolerant.ok
    strict = match(requested, [uri], allow_query=False)
    assert not strict.ok and strict.only_query_differs


@given(uri=web_uris(), extra=HARMLESS)
def test_query_tolerant_mode_keeps_the_registered_query(uri: str, extra: list[tuple[str, str]]) -> None:
    """The registered parameters must be there unchanged; extra ones may come first."""
    base, _, query = uri.partition("?")
    assume(query)
    assume(not names_of(query) & {name for name, _ in extra})
    shuffled = base + "?" + "&".join(p for p in [urlencode(extra), query] if p)
    assert match(shuffled, [uri], allow_query=True).ok
    name, _, value = query.split("&")[0].partition("=")
    changed = uri.replace(f"{name}={value}", f"{name}={value}Z", 1)
    assert not match(changed, [uri], allow_query=True).ok
    dropped = base + ("?" + urlencode(extra) if extra else "")
    assume(all(pair not in dict(extra).items() for pair in [(name, value)]))
    assert not match(dropped, [uri], allow_query=True).ok


@given(uri=web_uris(), response=RESPONSE_NAME, value=VALUE, first=st.booleans())
def test_query_tolerant_mode_never_lets_in_a_response_parameter(
    uri: str, response: str, value: str, first: bool
) -> None:
    """Issue 11 item 7: an injected ``code``/``state``/``iss``… would reach the client before
    the real one; wherever it stands, the URI does not match."""
    base, _, query = uri.partition("?")
    injected = urlencode([(response, value)])
    parts = [injected, query] if first else [query, injected]
    requested = base + "?" + "&".join(p for p in parts if p)
    assert not match(requested, [uri], allow_query=True).ok


@given(uri=web_uris(), value=VALUE, first=st.booleans())
def test_query_tolerant_mode_refuses_a_registered_parameter_repeated_or_changed(
    uri: str, value: str, first: bool
) -> None:
    base, _, query = uri.partition("?")
    assume(query)
    name, _, registered_value = query.split("&")[0].partition("=")
    assume(value != registered_value)
    extra = urlencode([(name, value)])
    requested = base + "?" + ("&".join([extra, query]) if first else "&".join([query, extra]))
    assert not match(requested, [uri], allow_query=True).ok


@given(uri=web_uris(), extra=PAIRS.filter(bool), data=st.data())
def test_query_tolerant_mode_still_binds_everything_else(
    uri: str, extra: list[tuple[str, str]], data: st.DataObject
) -> None:
    base, _, query = uri.partition("?")
    mutated = data.draw(mutations(base, scheme_case=False))
    assume(mutated != base)
    requested = mutated + ("?" + query if query and "#" not in mutated else "")
    requested += ("&" if "?" in requested else "?") + urlencode(extra) if "#" not in requested else ""
    assert not match(requested, [uri], allow_query=True).ok, (uri, requested)


@pytest.mark.parametrize("uri", ["https://a.test/cb", "http://127.0.0.1/cb"])
def test_fragments_never_match(uri: str) -> None:
    assert not match(uri + "#", [uri], allow_query=True).ok


@pytest.mark.parametrize(
    ("requested", "registered", "tolerant"),
    [
        ("HTTPS://app.test/cb?x=1", "https://app.test/cb", True),
        ("Https://app.test/cb", "https://app.test/cb", True),
        ("HTTP://127.0.0.1:5000/cb", "http://127.0.0.1/cb", False),
        ("http://LOCALHOST:5000/cb", "http://localhost/cb", False),
    ],
)
def test_scheme_and_host_case_are_compared_exactly_in_every_mode(
    requested: str, registered: str, tolerant: bool
) -> None:
    assert not match(requested, [registered], allow_query=tolerant).ok
