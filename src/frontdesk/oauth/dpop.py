"""Sender-constrained tokens: DPoP proofs (RFC 9449).

A client proves possession of a key by sending a *DPoP proof*, a JWT signed with that key, in
the ``DPoP`` header of each request. Tokens issued with a proof are bound to the key's JWK
SHA-256 thumbprint (RFC 7638), the ``jkt``: a stolen token is useless without the key.

* **Checking a proof** (§4.3), in :meth:`DpopVerifier.verify`: one header with one compact JWS;
  header ``typ: dpop+jwt``, an asymmetric ``alg`` from :data:`SIGNING_ALGS` (the same list the
  metadata advertises, §5.1), a public ``jwk`` (no private parts) that verifies the signature;
  claims ``jti``, ``htm`` (the request's method), ``htu`` (the request's URL without query and
  fragment, compared after syntax- and scheme-based normalisation, :func:`normalize_htu`),
  ``iat`` within ``max_age`` of now; at resource servers ``ath``, the base64url SHA-256 of the
  access token (§4.3 item 11, §7.1), and the key the token is bound to (item 12); a ``nonce``
  when server nonces are on (§8, §9). The ``jti`` is single use (§11.1), remembered through
  :class:`frontdesk.oauth.storage.ReplayGuard` (Redis when configured, so every worker sees it)
  for as long as a proof with that ``iat`` is acceptable. A proof that fails a check is
  ``invalid_dpop_proof``; the replay check runs last, after every other check passed.
* **Nonces** (§8 at the token endpoint, §9 at resources) are stateless: the time window and an
  HMAC of it with the server secret, so every worker and server of the deployment accepts the
  nonces of the others. A nonce is good in its window and the next (:data:`NONCE_WINDOW_SECONDS`
  each). A proof without a (current) nonce is answered ``use_dpop_nonce`` with a fresh nonce in
  the ``DPoP-Nonce`` header.
* **Where it is used**: the token endpoint (oauth/token_endpoint.py, §5: binds the issued tokens),
  and the API (oauth/bearer.py, §7: ``Authorization: DPoP <token>``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import string
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

from frontdesk.oauth.errors import InvalidToken, OAuthError
from frontdesk.oauth.storage import ReplayGuard

# §4.2: the media type of a proof.
PROOF_TYP = "dpop+jwt"
# §4.2: asymmetric algorithms only (never "none" nor a MAC). EdDSA (RFC 8037) and its fully
# specified name Ed25519 (RFC 9864) both; advertised as ``dpop_signing_alg_values_supported``.
SIGNING_ALGS: tuple[str, ...] = (
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "RS256",
    "RS384",
    "RS512",
    "EdDSA",
    "Ed25519",
)
# The token type of bound tokens in token responses (§5) and introspection (RFC 7662 §2.2).
TOKEN_TYPE = "DPoP"
# The HTTP authentication scheme at resources (§7.1).
SCHEME = "DPoP"
NONCE_WINDOW_SECONDS = 300
# Bounds on what a proof may carry, before anything is parsed.
MAX_PROOF_LENGTH = 8192
MAX_JTI_LENGTH = 256
# RSA keys below 2048 bits are refused (RFC 7518 §3.3, §3.5).
MIN_RSA_BITS = 2048
# Proofs carry their public key in the header (an RSA key's is over 512 bytes, joserfc's default
# cap); the whole proof stays under MAX_PROOF_LENGTH all the same.
_REGISTRY = jws.JWSRegistry(algorithms=list(SIGNING_ALGS))
_REGISTRY.max_header_length = MAX_PROOF_LENGTH
_REGISTRY.max_payload_length = MAX_PROOF_LENGTH
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 §2.3: unreserved characters are never percent-encoded in normalised form (§6.2.2.2).
_UNRESERVED_CHARS = frozenset(string.ascii_letters + string.digits + "-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


class InvalidDpopProof(OAuthError):
    """§5 (token endpoint, 400) and §7.1 (resources, 401 with a ``DPoP`` challenge): the proof
    is missing where it is needed, or fails a check of §4.3."""

    error = "invalid_dpop_proof"
    challenge_scheme: ClassVar[str] = SCHEME


class UseDpopNonce(OAuthError):
    """§8 (token endpoint, 400) and §9 (resources, 401): the proof must carry the server's
    nonce; ``nonce`` is sent in the ``DPoP-Nonce`` header of the answer."""

    error = "use_dpop_nonce"
    challenge_scheme: ClassVar[str] = SCHEME

    def __init__(self, nonce: str, description: str, *, status_code: int | None = None) -> None:
        super().__init__(description, status_code=status_code)
        self.nonce = nonce


class DpopTokenError(InvalidToken):
    """§7.1: the token is bound to a key but came as a bearer token (or the reverse); 401
    ``invalid_token`` with a ``DPoP`` challenge."""

    challenge_scheme: ClassVar[str] = SCHEME


@dataclass(frozen=True, slots=True)
class Proof:
    """A valid proof: the key's thumbprint (the ``jkt`` tokens are bound to) and its claims."""

    jkt: str
    jti: str
    claims: dict[str, Any]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def access_token_hash(token: str) -> str:
    """§4.2 ``ath``: the base64url SHA-256 of the ASCII access token."""
    return b64url(hashlib.sha256(token.encode()).digest())


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK (its required members only): the ``jkt``
    (§6.1)."""
    return _public_key(jwk).thumbprint()


def _normalize_part(value: str) -> str:
    """RFC 3986 §6.2.2.1-2: percent-encodings in upper case, those of unreserved characters
    decoded; everything else as it was."""

    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED_CHARS else match.group(0).upper()

    return _PERCENT.sub(one, value)


def normalize_htu(url: str) -> str | None:
    """``url`` without query and fragment (§4.3 item 9), normalised per RFC 3986 §6.2.2 and
    §6.2.3: scheme and host in lower case, the default port dropped, an empty path as ``/``,
    percent-encodings normalised. None when it is no absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _normalize_part(parts.path or "/")
    return urlunsplit((scheme, netloc, path, "", ""))


def _nonce_mac(key: Callable[[str], str], window: int) -> str:
    return key(f"dpop-nonce v1:{window}")[:22]


@dataclass(frozen=True, slots=True)
class DpopSettings:
    # §4.3 item 11: how old (or, for clock skew, how far ahead) a proof's iat may be.
    max_age_seconds: int = 300
    # §8, §9: proofs must carry a server-provided nonce.
    nonces: bool = False


class DpopVerifier:
    """Checks DPoP proofs (§4.3) and makes the server's nonces (§8)."""

    def __init__(
        self,
        settings: DpopSettings,
        *,
        replay_guard: ReplayGuard | None,
        mac: Callable[[str], str],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.replay_guard = replay_guard
        self._mac = mac
        self.clock = clock

    # ---- nonces (§8, §9) -----------------------------------------------------------------

    def _window(self) -> int:
        return math.floor(self.clock().timestamp() / NONCE_WINDOW_SECONDS)

    def nonce(self) -> str:
        """The current server nonce: its window, and the HMAC of the window."""
        window = self._window()
        return f"{window}.{_nonce_mac(self._mac, window)}"

    def nonce_ok(self, value: str) -> bool:
        """A nonce of this window or the one before, made with this server secret."""
        window_text, _, mac = value.partition(".")
        if not window_text.isdigit() or len(window_text) > 12:
            return False
        window = int(window_text)
        if window not in (self._window(), self._window() - 1):
            return False
        return hmac.compare_digest(mac, _nonce_mac(self._mac, window))

    # ---- proofs (§4.3) --------------------------------------------------------------------

    async def verify(
        self,
        header: str | None,
        *,
        method: str,
        urls: Collection[str],
        access_token: str | None = None,
        bound_jkt: str | None = None,
        at_resource: bool = False,
    ) -> Proof:
        """The proof in ``header`` (the request's ``DPoP`` field values, joined by commas when
        there were several) for a request with ``method`` to one of ``urls`` (the URLs the
        request may have been sent to, without query). At a resource server ``access_token``
        is the presented token (checked against ``ath``) and ``bound_jkt`` the key it is bound
        to. Raises :class:`InvalidDpopProof` or :class:`UseDpopNonce` (400 at the token
        endpoint, 401 at resources)."""
        try:
            return await self._verify(header, method, urls, access_token, bound_jkt)
        except OAuthError as exc:
            if at_resource:
                exc.status_code = 401
            raise

    async def _verify(
        self,
        header: str | None,
        method: str,
        urls: Collection[str],
        access_token: str | None,
        bound_jkt: str | None,
    ) -> Proof:
        # §4.3 items 1-2: one DPoP field, holding one well-formed JWT.
        if header is None or not header.strip():
            raise InvalidDpopProof("send a DPoP proof in the DPoP header (RFC 9449 §4)")
        if "," in header:
            raise InvalidDpopProof("send one DPoP header with one proof")
        proof = header.strip()
        if len(proof) > MAX_PROOF_LENGTH or proof.count(".") != 2:
            raise InvalidDpopProof("the DPoP proof is not a compact JWS")
        try:
            compact = jws.extract_compact(proof.encode("ascii"), registry=_REGISTRY)
            protected = compact.protected
            claims = json.loads(compact.payload)
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidDpopProof("the DPoP proof is not a well-formed JWT") from exc
        if not isinstance(claims, dict):
            raise InvalidDpopProof("the DPoP proof's payload is not a JSON object")
        # Items 3-5: typ, alg, jwk.
        if protected.get("typ") != PROOF_TYP:
            raise InvalidDpopProof(f"the DPoP proof's typ must be {PROOF_TYP}")
        alg = protected.get("alg")
        if not isinstance(alg, str) or alg not in SIGNING_ALGS:
            raise InvalidDpopProof("the DPoP proof's alg must be one of " + " ".join(SIGNING_ALGS))
        jwk = protected.get("jwk")
        if not isinstance(jwk, dict):
            raise InvalidDpopProof("the DPoP proof's header needs the public key as jwk")
        if _PRIVATE_MEMBERS & set(jwk):
            raise InvalidDpopProof("the DPoP proof's jwk must be a public key (no private parts)")
        key = _public_key(jwk)
        # Item 6: the signature, with that key and the proof's own algorithm only.
        try:
            with warnings.catch_warnings():
                # joserfc warns about the name EdDSA (RFC 9864); both names are allowed here.
                warnings.simplefilter("ignore")
                jws.deserialize_compact(proof, key, algorithms=[alg], registry=_REGISTRY)
        except (JoseError, ValueError) as exc:
            raise InvalidDpopProof("the DPoP proof's signature does not verify with its jwk") from exc
        jkt = key.thumbprint()
        # Item 7-10: the claims.
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise InvalidDpopProof("the DPoP proof needs a jti")
        if claims.get("htm") != method:
            raise InvalidDpopProof(f"the DPoP proof's htm must be {method}")
        htu = claims.get("htu")
        expected = {n for n in (normalize_htu(u) for u in urls) if n is not None}
        if not isinstance(htu, str) or normalize_htu(htu) not in expected:
            raise InvalidDpopProof("the DPoP proof's htu is not the URL of this request")
        iat = claims.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
            raise InvalidDpopProof("the DPoP proof needs a numeric iat")
        now = self.clock().timestamp()
        max_age = self.settings.max_age_seconds
        if iat < now - max_age or iat > now + max_age:
            raise InvalidDpopProof("the DPoP proof's iat is too far from the server's time")
        # Item 11: the access token's hash, at resources.
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
                raise InvalidDpopProof("the DPoP proof's ath is not the hash of this access token")
        # Item 12: the key the token is bound to.
        if bound_jkt is not None and not hmac.compare_digest(jkt, bound_jkt):
            raise InvalidDpopProof("the access token is bound to another key")
        # §8, §9: the server's nonce.
        if self.settings.nonces:
            nonce = claims.get("nonce")
            if not isinstance(nonce, str) or not self.nonce_ok(nonce):
                raise UseDpopNonce(self.nonce(), "the DPoP proof must carry the server's current nonce")
        # §11.1: each proof once, across every worker (after every other check: a bad proof
        # burns nothing).
        if self.replay_guard is not None:
            seen = hashlib.sha256(f"{jkt} {jti}".encode()).hexdigest()
            if not await self.replay_guard.first_use("dpop", seen, 2 * max_age + 1):
                raise InvalidDpopProof("this DPoP proof was used before (its jti must be new)")
        return Proof(jkt=jkt, jti=jti, claims=claims)


def _public_key(jwk: dict[str, Any]) -> ECKey | RSAKey | OKPKey:
    """The proof's key: an EC, RSA (2048 bits or more) or OKP public key."""
    try:
        with warnings.catch_warnings():
            # joserfc warns about small RSA keys: refused below.
            warnings.simplefilter("ignore")
            key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidDpopProof("the DPoP proof's jwk is not a valid key") from exc
    if isinstance(key, RSAKey):
        if key.raw_value.key_size < MIN_RSA_BITS:
            raise InvalidDpopProof(f"RSA keys need {MIN_RSA_BITS} bits or more")
        return key
    if isinstance(key, ECKey | OKPKey):
        return key
    raise InvalidDpopProof("the DPoP proof's jwk must be an asymmetric key (EC, RSA or OKP)")
