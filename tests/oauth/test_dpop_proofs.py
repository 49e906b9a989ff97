"""Checking DPoP proofs (RFC 9449 §4.3), one check at a time, on oauth/dpop.py alone: each
invalid proof is refused with ``invalid_dpop_proof`` (or ``use_dpop_nonce``), a valid one
yields the key's thumbprint."""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest

from frontdesk.oauth.dpop import (
    DpopSettings,
    DpopVerifier,
    InvalidDpopProof,
    Proof,
    UseDpopNonce,
    access_token_hash,
    jwk_thumbprint,
    normalize_htu,
)
from frontdesk.security.server_secret import ServerSecret
from tests.dpop_support import TOKEN_HTU, USER_HTU, DpopKey, b64

URLS = (TOKEN_HTU,)
SECRET = ServerSecret(b"tests: dpop proofs, a server secret of 32 bytes")


class Guard:
    """An in-memory ReplayGuard (oauth/storage.py)."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    async def first_use(self, kind: str, value: str, seconds: int) -> bool:
        if (kind, value) in self.seen:
            return False
        self.seen.add((kind, value))
        return True


class Clock:
    def __init__(self) -> None:
        self.now = datetime.fromtimestamp(int(time.time()), UTC)

    def __call__(self) -> datetime:
        return self.now


def verifier(
    *, nonces: bool = False, max_age: int = 300, mac: Any = SECRET.mac, clock: Any = None
) -> DpopVerifier:
    return DpopVerifier(
        DpopSettings(max_age_seconds=max_age, nonces=nonces),
        replay_guard=Guard(),
        mac=mac,
        clock=clock or Clock(),
    )


async def refused(proof: str | None, *, method: str = "POST", **kw: Any) -> str:
    """The description of the refusal of ``proof`` (it must be ``invalid_dpop_proof``)."""
    with pytest.raises(InvalidDpopProof) as caught:
        await verifier().verify(proof, method=method, urls=kw.pop("urls", URLS), **kw)
    assert caught.value.error == "invalid_dpop_proof"
    assert caught.value.status_code == 400
    return caught.value.description or ""


@pytest.mark.rfc("9449 4.3")
async def test_a_valid_proof_yields_the_thumbprint_of_its_key() -> None:
    key = DpopKey()
    proof = await verifier().verify(key.proof(), method="POST", urls=URLS)
    assert isinstance(proof, Proof)
    assert proof.jkt == key.jkt


@pytest.mark.rfc("9449 4.3")
@pytest.mark.parametrize(
    "make",
    [
        DpopKey,
        lambda: DpopKey.rsa("PS256"),
        lambda: DpopKey.rsa("RS256"),
        DpopKey.ed25519,
        lambda: DpopKey.ed25519("Ed25519"),
    ],
    ids=["ES256", "PS256", "RS256", "EdDSA", "Ed25519"],
)
async def test_every_advertised_algorithm_is_accepted(make: Any) -> None:
    key = make()
    assert (await verifier().verify(key.proof(), method="POST", urls=URLS)).jkt == key.jkt


@pytest.mark.rfc("7638 3.1")
def test_the_thumbprint_is_rfc_7638s() -> None:
    # RFC 7638 §3.1's example key and thumbprint; members beyond the required ones are ignored.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJE"
            "CPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
            "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
            "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.rfc("9449 4.2")
def test_ath_is_the_base64url_sha256_of_the_token() -> None:
    # RFC 9449 §7.1's example: the access token and the ath of the proof beside it.
    assert (
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


@pytest.mark.rfc("9449 4.3")
async def test_no_proof_is_refused() -> None:
    assert "DPoP proof" in await refused(None)
    await refused("   ")


@pytest.mark.rfc("9449 4.3")
async def test_two_proofs_are_refused() -> None:
    key = DpopKey()
    # Several DPoP fields reach the core joined by commas (web/adapter.dpop_header).
    assert "one DPoP header" in await refused(f"{key.proof()},{key.proof()}")


@pytest.mark.rfc("9449 4.3")
@pytest.mark.parametrize("value", ["not-a-jwt", "a.b", "a.b.c.d", "eyJhbGciOiJFUzI1NiJ9.e30.", "x" * 9000])
async def test_a_malformed_jwt_is_refused(value: str) -> None:
    await refused(value)


@pytest.mark.rfc("9449 4.3")
async def test_a_payload_that_is_no_object_is_refused() -> None:
    key = DpopKey()
    protected = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    from joserfc import jws

    proof = jws.serialize_compact(protected, b"[1, 2]", key.key, algorithms=["ES256"])
    assert "JSON object" in await refused(proof)


@pytest.mark.rfc("9449 4.3")
@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt", "DPOP+JWT"])
async def test_the_typ_must_be_dpop_jwt(typ: str | None) -> None:
    key = DpopKey()
    proof = key.proof(drop=("typ",)) if typ is None else key.proof(header={"typ": typ})
    assert "typ" in await refused(proof)


@pytest.mark.rfc("9449 4.3")
async def test_the_none_algorithm_is_refused() -> None:
    key = DpopKey()
    header = b64(b'{"typ":"dpop+jwt","alg":"none","jwk":' + _json(key.public_jwk) + b"}")
    body = b64(
        b'{"jti":"x","htm":"POST","htu":"'
        + TOKEN_HTU.encode()
        + b'","iat":'
        + str(int(time.time())).encode()
        + b"}"
    )
    assert "alg" in await refused(f"{header}.{body}.")


@pytest.mark.rfc("9449 4.3")
async def test_a_symmetric_algorithm_is_refused() -> None:
    from joserfc.jwk import OctKey

    secret = OctKey.generate_key(256)
    key = DpopKey(secret, "HS256")  # type: ignore[arg-type]
    proof = key.sign(
        {"typ": "dpop+jwt", "alg": "HS256", "jwk": dict(secret.as_dict(private=False))},
        {"jti": "x", "htm": "POST", "htu": TOKEN_HTU, "iat": int(time.time())},
    )
    assert "alg" in await refused(proof)


@pytest.mark.rfc("9449 4.3")
async def test_an_algorithm_that_is_not_the_keys_is_refused() -> None:
    key = DpopKey()
    # An EC key claiming RS256: the signature cannot verify under that algorithm.
    proof = key.proof()
    _, body, sig = proof.split(".")
    forged_head = b64(_json({"typ": "dpop+jwt", "alg": "RS256", "jwk": key.public_jwk}))
    await refused(f"{forged_head}.{body}.{sig}")


@pytest.mark.rfc("9449 4.3")
async def test_the_jwk_header_is_needed() -> None:
    assert "jwk" in await refused(DpopKey().proof(drop=("jwk",)))
    assert "jwk" in await refused(DpopKey().proof(header={"jwk": "a key"}))


@pytest.mark.rfc("9449 4.3")
async def test_a_private_key_in_the_header_is_refused() -> None:
    key = DpopKey()
    private = dict(key.key.as_dict(private=True))
    assert "private" in await refused(key.proof(header={"jwk": private}))


@pytest.mark.rfc("9449 4.3")
async def test_a_jwk_that_is_no_key_is_refused() -> None:
    key = DpopKey()
    assert "jwk" in await refused(
        key.proof(header={"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}})
    )


@pytest.mark.rfc("9449 4.3")
async def test_a_small_rsa_key_is_refused() -> None:
    from joserfc.jwk import RSAKey

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns about the small key
        key = DpopKey(RSAKey.generate_key(1024, auto_kid=False, private=True), "RS256")
    assert "2048" in await refused(key.proof())


@pytest.mark.rfc("9449 4.3")
async def test_the_signature_must_verify_with_the_jwk() -> None:
    key, other = DpopKey(), DpopKey()
    # Signed by ``other`` but naming ``key``'s public key.
    assert "signature" in await refused(other.proof(header={"jwk": key.public_jwk}))
    head, _, sig = key.proof().split(".")
    tampered = b64(_json({"jti": "y", "htm": "POST", "htu": TOKEN_HTU, "iat": int(time.time())}))
    assert "signature" in await refused(f"{head}.{tampered}.{sig}")


@pytest.mark.rfc("9449 4.3")
@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
async def test_each_required_claim_is_needed(claim: str) -> None:
    await refused(DpopKey().proof(drop=(claim,)))


@pytest.mark.rfc("9449 4.3")
async def test_htm_must_be_the_requests_method() -> None:
    key = DpopKey()
    assert "htm" in await refused(key.proof("GET"))
    assert "htm" in await refused(key.proof("post"))


@pytest.mark.rfc("9449 4.3")
@pytest.mark.parametrize(
    "htu",
    [
        "http://localhost:8000/oauth/token",
        "https://localhost:8000/oauth/access_token",
        "http://localhost:8001/oauth/access_token",
        "http://evil.example/oauth/access_token",
        "/oauth/access_token",
        "http://localhost:8000/oauth/access_token/",
    ],
)
async def test_htu_must_be_the_requests_url(htu: str) -> None:
    assert "htu" in await refused(DpopKey().proof(htu=htu))


@pytest.mark.rfc("9449 4.3")
@pytest.mark.parametrize(
    "htu",
    [
        TOKEN_HTU,
        TOKEN_HTU + "?foo=bar",
        TOKEN_HTU + "#frag",
        "HTTP://LocalHost:8000/oauth/access_token",
        "http://localhost:8000/oauth/%61ccess_token",
    ],
)
async def test_htu_compares_without_query_and_fragment_after_normalisation(htu: str) -> None:
    key = DpopKey()
    assert (await verifier().verify(key.proof(htu=htu), method="POST", urls=URLS)).jkt == key.jkt


def test_normalize_htu_follows_rfc_3986_section_6() -> None:
    assert normalize_htu("HTTPS://Example.COM:443/a%2fb/%7euser?q=1#f") == "https://example.com/a%2Fb/~user"
    assert normalize_htu("http://example.com") == "http://example.com/"
    assert normalize_htu("http://example.com:8080/x") == "http://example.com:8080/x"
    assert normalize_htu("ftp://example.com/x") is None
    assert normalize_htu("http://user:pw@example.com/x") is None
    assert normalize_htu("http://example.com:99999/") is None


@pytest.mark.rfc("9449 4.3")
async def test_iat_must_be_recent() -> None:
    key = DpopKey()
    now = time.time()
    assert "iat" in await refused(key.proof(iat=now - 301))
    assert "iat" in await refused(key.proof(iat=now + 301))
    assert "iat" in await refused(key.proof(claims={"iat": "now"}))
    assert "iat" in await refused(key.proof(claims={"iat": True}))
    v = verifier()
    assert (await v.verify(key.proof(iat=now - 250), method="POST", urls=URLS)).jkt == key.jkt


@pytest.mark.rfc("9449 4.3")
async def test_the_window_is_a_setting() -> None:
    key = DpopKey()
    short = verifier(max_age=30)
    with pytest.raises(InvalidDpopProof):
        await short.verify(key.proof(iat=time.time() - 60), method="POST", urls=URLS)


@pytest.mark.rfc("9449 11.1")
async def test_a_proof_is_accepted_once() -> None:
    key = DpopKey()
    v = verifier()
    proof = key.proof()
    await v.verify(proof, method="POST", urls=URLS)
    with pytest.raises(InvalidDpopProof) as caught:
        await v.verify(proof, method="POST", urls=URLS)
    assert "used before" in (caught.value.description or "")


@pytest.mark.rfc("9449 11.1")
async def test_a_refused_proof_does_not_use_up_its_jti() -> None:
    key = DpopKey()
    v = verifier()
    with pytest.raises(InvalidDpopProof):
        await v.verify(key.proof("GET", jti="same"), method="POST", urls=URLS)
    assert (await v.verify(key.proof(jti="same"), method="POST", urls=URLS)).jti == "same"


@pytest.mark.rfc("9449 4.3")
async def test_ath_must_be_the_hash_of_the_presented_token() -> None:
    key = DpopKey()
    token = "fdat_the-token"
    v = verifier()
    ok = await v.verify(
        key.proof("GET", USER_HTU, token=token),
        method="GET",
        urls=(USER_HTU,),
        access_token=token,
        bound_jkt=key.jkt,
    )
    assert ok.jkt == key.jkt
    for proof in (key.proof("GET", USER_HTU), key.proof("GET", USER_HTU, token="fdat_another")):
        with pytest.raises(InvalidDpopProof) as caught:
            await v.verify(
                proof, method="GET", urls=(USER_HTU,), access_token=token, bound_jkt=key.jkt, at_resource=True
            )
        assert "ath" in (caught.value.description or "")
        assert caught.value.status_code == 401


@pytest.mark.rfc("9449 4.3")
async def test_the_proof_key_must_be_the_one_the_token_is_bound_to() -> None:
    key, other = DpopKey(), DpopKey()
    token = "fdat_the-token"
    with pytest.raises(InvalidDpopProof) as caught:
        await verifier().verify(
            other.proof("GET", USER_HTU, token=token),
            method="GET",
            urls=(USER_HTU,),
            access_token=token,
            bound_jkt=key.jkt,
        )
    assert "another key" in (caught.value.description or "")


@pytest.mark.rfc("9449 8")
async def test_nonces_when_they_are_on() -> None:
    key = DpopKey()
    clock = Clock()
    v = verifier(nonces=True, clock=clock)
    with pytest.raises(UseDpopNonce) as caught:
        await v.verify(key.proof(), method="POST", urls=URLS)
    assert caught.value.error == "use_dpop_nonce"
    nonce = caught.value.nonce
    assert (await v.verify(key.proof(nonce=nonce), method="POST", urls=URLS)).jkt == key.jkt
    # A nonce of another server secret, or a made-up one, is answered with a fresh nonce.
    foreign = verifier(nonces=True, mac=ServerSecret(b"another server's secret, 32 bytes!").mac, clock=clock)
    for bad in (foreign.nonce(), "123.abc", "garbage"):
        with pytest.raises(UseDpopNonce):
            await v.verify(key.proof(nonce=bad), method="POST", urls=URLS)


@pytest.mark.rfc("9449 8")
async def test_a_nonce_is_accepted_by_every_worker_with_the_server_secret() -> None:
    key = DpopKey()
    clock = Clock()
    one, two = verifier(nonces=True, clock=clock), verifier(nonces=True, clock=clock)
    assert (await two.verify(key.proof(nonce=one.nonce()), method="POST", urls=URLS)).jkt == key.jkt


@pytest.mark.rfc("9449 8")
async def test_a_nonce_expires_after_two_windows() -> None:
    from datetime import timedelta

    from frontdesk.oauth.dpop import NONCE_WINDOW_SECONDS

    key = DpopKey()
    clock = Clock()
    v = verifier(nonces=True, clock=clock, max_age=3600)
    nonce = v.nonce()
    clock.now += timedelta(seconds=NONCE_WINDOW_SECONDS)
    assert (await v.verify(key.proof(nonce=nonce, iat=clock.now.timestamp()), method="POST", urls=URLS)).jkt
    clock.now += timedelta(seconds=NONCE_WINDOW_SECONDS)
    with pytest.raises(UseDpopNonce):
        await v.verify(key.proof(nonce=nonce, iat=clock.now.timestamp()), method="POST", urls=URLS)


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()
