"""Client assertions: ``private_key_jwt`` (RFC 7523 §2.2 and §3, OpenID Connect Core §9).

A client registered with ``token_endpoint_auth_method=private_key_jwt`` authenticates by
sending ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and a
``client_assertion``: a JWT it signed with one of its registered keys
(oauth/client_keys.py). :func:`frontdesk.oauth.client_auth.authenticate_client` extracts it
and calls :meth:`ClientAssertions.verify`, so the throttle and the ``client_auth.failed`` audit
event are the client secret's.

The rules of RFC 7523 §3, in order: a signature algorithm from the allow-list (no ``none``, no
HMAC: ``client_secret_jwt`` is not offered), the signature by one of the client's keys (an
unknown ``kid`` fetches a ``jwks_uri`` once more, for a rotated key), ``iss`` = ``sub`` = the
client id (item 1, 2), ``aud`` naming this authorization server (item 3, below), ``exp``
required and not passed (item 4), ``nbf`` and ``iat`` if present not in the future (items 5,
6), ``jti`` required and used once (item 7, the :class:`frontdesk.oauth.storage.ReplayGuard`).

How long an assertion is good for (item 4 lets the server limit it): at most
:attr:`ClientAssertions.max_lifetime` seconds (5 minutes) after its ``iat``, whatever its
``exp`` says, and ``exp`` at most an hour ahead (Authlib signs with ``exp`` an hour after
``iat``); an assertion without ``iat`` must expire within ``max_lifetime``. Its ``jti`` is
remembered until then (plus the clock leeway), so a replay is caught for as long as the
assertion would be accepted.

The audience (docs/integrating.md, "Key-based client authentication"): the issuer of the
host the request reached, as RFC 7523 §3 item 3 and the FAPI 2.0 Security Profile ask; for
apps outside the FAPI 2.0 profile also that host's token endpoint URL, which OpenID Connect
Core §9 recommends and many libraries send. Under FAPI 2.0 the issuer is the only audience.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from joserfc import jws
from joserfc.errors import JoseError

from frontdesk.oauth.client_keys import SIGNING_ALGORITHMS, candidate_keys
from frontdesk.oauth.errors import InvalidClient
from frontdesk.oauth.metadata import TOKEN_PATH
from frontdesk.oauth.models import Client
from frontdesk.oauth.storage import ClientKeyStore, ReplayGuard

JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRIVATE_KEY_JWT: Final = "private_key_jwt"
# An assertion is a few hundred bytes; anything much larger is refused before parsing.
MAX_ASSERTION_LENGTH: Final = 8192
MAX_JTI_LENGTH: Final = 256
REPLAY_KIND: Final = "client_assertion"


class RefreshingKeyStore(ClientKeyStore, Protocol):
    async def refresh_client_keys(self, client: Client) -> str | None:
        """The client's keys fetched again from its ``jwks_uri`` (an assertion named a key id
        the cached set lacks: the client rotated its keys), at most once in a while per
        client; the registered ``jwks`` for an app without a ``jwks_uri``."""
        ...


def _b64_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise InvalidClient("the client_assertion is not a JWT") from exc
    if not isinstance(value, dict):
        raise InvalidClient("the client_assertion is not a JWT")
    return value


@dataclass(frozen=True)
class UnverifiedAssertion:
    """An assertion's header and claims before the signature is checked: only for choosing the
    key and the client (never trusted on their own)."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @classmethod
    def parse(cls, raw: str) -> UnverifiedAssertion:
        if len(raw) > MAX_ASSERTION_LENGTH:
            raise InvalidClient("the client_assertion is too long")
        parts = raw.split(".")
        if len(parts) != 3:
            # Five parts would be an encrypted JWT (RFC 7516), which is not accepted here.
            raise InvalidClient("the client_assertion is not a signed JWT (RFC 7515 compact form)")
        return cls(raw, _b64_json(parts[0]), _b64_json(parts[1]))

    @property
    def issuer(self) -> str:
        iss = self.claims.get("iss")
        return iss if isinstance(iss, str) else ""


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidClient(f"the client_assertion's {name!r} is not a NumericDate")
    return float(value)


@dataclass(frozen=True)
class ClientAssertions:
    """Verifies ``private_key_jwt`` client assertions (see the module's docstring)."""

    keys: RefreshingKeyStore
    replay: ReplayGuard
    clock: Callable[[], datetime]
    # RFC 7523 §3 item 4 lets the server limit how long an assertion is used: this long after
    # its iat (or, without iat, until its exp at most this far ahead).
    max_lifetime: int = 300
    # No exp further ahead than this is accepted at all.
    max_exp_ahead: int = 3600
    # Allowed clock difference between the client and this server (RFC 7519 §4.1.4).
    leeway: int = 60

    async def verify(self, client: Client, assertion: UnverifiedAssertion, issuer: str) -> None:
        """Return when ``assertion`` proves ``client``; else raise ``invalid_client``."""
        alg = assertion.header.get("alg")
        if alg not in SIGNING_ALGORITHMS:
            raise InvalidClient(
                f"the client_assertion's algorithm {alg!r} is not accepted "
                f"(use one of {', '.join(SIGNING_ALGORITHMS)})"
            )
        kid = assertion.header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidClient("the client_assertion's 'kid' is not a string")
        await self._check_signature(client, assertion.raw, alg, kid)
        self._check_claims(client, assertion.claims, issuer)
        await self._check_replay(client, assertion.claims)

    async def _check_signature(self, client: Client, raw: str, alg: str, kid: str | None) -> None:
        key_set = await self.keys.client_keys(client)
        found = candidate_keys(key_set, alg, kid) if key_set else []
        if found is None and client.jwks_uri:
            # RFC 7523 §3 leaves key rotation to the client: an unknown kid re-reads the set once.
            key_set = await self.keys.refresh_client_keys(client)
            found = candidate_keys(key_set, alg, kid) if key_set else []
        if found is None:
            raise InvalidClient(f"no registered key has the id {kid!r}")
        if not found:
            raise InvalidClient(f"the client has no registered key for algorithm {alg}")
        for key in found:
            try:
                jws.deserialize_compact(raw, key, algorithms=[alg])
            except (JoseError, ValueError, TypeError):
                continue
            return
        raise InvalidClient("the client_assertion's signature does not verify with the client's keys")

    def _check_claims(self, client: Client, claims: dict[str, Any], issuer: str) -> None:
        cid = client.client_id
        if claims.get("iss") != cid:
            raise InvalidClient("the client_assertion's 'iss' must be the client id")
        if claims.get("sub") != cid:
            raise InvalidClient("the client_assertion's 'sub' must be the client id")
        if not self._audience_ok(client, claims.get("aud"), issuer):
            raise InvalidClient(f"the client_assertion's 'aud' must be the issuer {issuer}")
        now = self.clock().timestamp()
        exp = _number(claims, "exp")
        if exp is None:
            raise InvalidClient("the client_assertion has no 'exp'")
        if exp <= now - self.leeway:
            raise InvalidClient("the client_assertion has expired")
        iat = _number(claims, "iat")
        ahead = self.max_exp_ahead if iat is not None else self.max_lifetime
        if exp > now + ahead + self.leeway:
            raise InvalidClient(f"the client_assertion's 'exp' is too far ahead (at most {ahead} seconds)")
        if iat is not None:
            if iat > now + self.leeway:
                raise InvalidClient("the client_assertion was issued in the future ('iat')")
            if iat < now - self.max_lifetime - self.leeway:
                raise InvalidClient(
                    f"the client_assertion is too old ('iat' more than {self.max_lifetime} seconds ago)"
                )
        nbf = _number(claims, "nbf")
        if nbf is not None and nbf > now + self.leeway:
            raise InvalidClient("the client_assertion is not valid yet ('nbf')")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise InvalidClient("the client_assertion needs a 'jti' (a string of at most 256 characters)")

    @staticmethod
    def _audience_ok(client: Client, aud: Any, issuer: str) -> bool:
        accepted = {issuer} if client.fapi else {issuer, issuer + TOKEN_PATH}
        if isinstance(aud, str):
            return aud in accepted
        if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            if client.fapi:
                # FAPI 2.0: the issuer as the sole audience.
                return aud == [issuer]
            return any(a in accepted for a in aud)
        return False

    async def _check_replay(self, client: Client, claims: dict[str, Any]) -> None:
        # RFC 7523 §3 item 7: a jti is unique per issuer; remembered until the assertion could
        # no longer be accepted (its exp, or max_lifetime after its iat, plus the leeway).
        until = float(claims["exp"])
        iat = _number(claims, "iat")
        if iat is not None:
            until = min(until, iat + self.max_lifetime)
        seconds = max(1, math.ceil(until - self.clock().timestamp()) + self.leeway)
        value = hashlib.sha256(f"{client.client_id}\0{claims['jti']}".encode()).hexdigest()
        if not await self.replay.first_use(REPLAY_KIND, value, seconds):
            raise InvalidClient("the client_assertion was used before ('jti' replayed)")
