"""Pushed authorization requests (RFC 9126) and request objects inside them (RFC 9101).

``POST /oauth/par`` on every host. The client authenticates exactly as at the token endpoint
(:func:`frontdesk.oauth.client_auth.authenticate_client`, public clients by ``client_id``) and
pushes the parameters of an authorization request in the body (§2.1). They are checked
exactly as the authorization endpoint checks them (:class:`frontdesk.oauth.authorize.AuthorizationEndpoint`:
the redirect URI, then everything else); a ``request_uri`` among them is refused (§2.1). The
answer is 201 with a ``request_uri`` (``urn:ietf:params:oauth:request_uri:<random>``) and
``expires_in`` (§2.2); errors are JSON as at the token endpoint (§2.3).

The pushed request is stored under a digest of its random part, with the parameters, the
client, the host and the expiry (:class:`frontdesk.oauth.storage.PushedRequest`); the
authorization endpoint loads it for ``client_id`` and ``request_uri`` (§4) and a decision uses
it up.

A ``request`` parameter is a request object (RFC 9101 §2.1, RFC 9126 §3): a JWT signed by the
client with one of its registered keys (:class:`frontdesk.oauth.storage.ClientKeyStore`) with
an asymmetric algorithm (never ``none``, never a shared secret, RFC 9101 §10.1), ``iss`` the
client, ``aud`` this host's issuer, ``exp`` in the future and ``nbf`` past (RFC 9101 §4,
§6.3, §10.8). Its claims are the request's parameters; the form's own are ignored
(RFC 9101 §6.3, RFC 9126 §3).
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError, SecurityWarning

from frontdesk.oauth.authorize import (
    LOGIN_STAMP_PARAM,
    REQUEST_URI_PREFIX,
    AuthorizationEndpoint,
    AuthorizationStore,
    Flow,
    ShowError,
)
from frontdesk.oauth.client_assertion import ClientAssertions, RefreshingKeyStore
from frontdesk.oauth.client_auth import authenticate_client
from frontdesk.oauth.client_keys import candidate_keys
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.dpop import DpopVerifier, InvalidDpopProof, Proof
from frontdesk.oauth.errors import InvalidRequest, InvalidRequestObject
from frontdesk.oauth.metadata import PAR_PATH, REQUEST_OBJECT_SIGNING_ALGS
from frontdesk.oauth.models import Client
from frontdesk.oauth.request import OAuthRequest, Params
from frontdesk.oauth.resource import requested_resource
from frontdesk.oauth.storage import Limiter, PushedRequest

# RFC 9126 §2.2: "expires_in" of the request_uri; the client sends the person at once.
PUSHED_REQUEST_TTL = 60
# Parameters that authenticate the client (RFC 6749 §2.3, RFC 7521 §4.2): not part of the
# authorization request, never stored.
CLIENT_AUTH_PARAMS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})
# JWT claims of the request object itself (RFC 7519 §4.1), not authorization parameters.
JWT_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti", "sub"})
# A request object no older than this (RFC 9101 §10.8: short-lived), at most this far ahead.
MAX_REQUEST_OBJECT_LIFETIME = timedelta(hours=1)
CLOCK_SKEW = timedelta(seconds=30)


@dataclass(frozen=True)
class Pushed:
    """The answer to a pushed request (§2.2): its body, and headers (a DPoP nonce)."""

    body: dict[str, Any]
    headers: dict[str, str]


def _bound_to(pairs: tuple[tuple[str, str], ...], jkt: str) -> tuple[tuple[str, str], ...]:
    """The request with ``dpop_jkt`` the proof's key (RFC 9449 §10.1): a ``dpop_jkt`` the
    request names must be that key."""
    named = [v for k, v in pairs if k == "dpop_jkt"]
    if any(v != jkt for v in named):
        raise InvalidRequest("dpop_jkt differs from the key of the DPoP proof (RFC 9449 §10.1)")
    return pairs if named else (*pairs, ("dpop_jkt", jkt))


class RegisteredKeys:
    """The keys a client registered as a JWK Set (``Client.jwks``): what verifies request
    objects when no key store is wired (the server's,
    services/client_keys.py, also fetches a ``jwks_uri``)."""

    async def client_keys(self, client: Client) -> str | None:
        return client.jwks

    async def refresh_client_keys(self, client: Client) -> str | None:
        return client.jwks


class PushedAuthorizationEndpoint:
    def __init__(
        self,
        config: OAuthConfig,
        authorization: AuthorizationEndpoint,
        *,
        client_limiter: Limiter | None = None,
        client_assertions: ClientAssertions | None = None,
        keys: RefreshingKeyStore | None = None,
        dpop: DpopVerifier | None = None,
    ) -> None:
        self.config = config
        self.authorization = authorization
        self.client_limiter = client_limiter
        self.client_assertions = client_assertions
        self.keys: RefreshingKeyStore = keys or RegisteredKeys()
        self.dpop = dpop

    async def handle(self, request: OAuthRequest, store: AuthorizationStore) -> Pushed:
        """The 201 response (§2.2), or an ``OAuthError`` (§2.3)."""
        if request.method != "POST":
            raise InvalidRequest(f"use POST for {PAR_PATH}")
        if request.query:
            # §2.1: the parameters are the form body (and never logged from a URL).
            raise InvalidRequest("send the parameters in the request body, not the query string")
        params = Params(request.form)
        client = await authenticate_client(
            request, params, store, self.client_limiter, self.client_assertions
        )
        if params.values("request_uri"):
            raise InvalidRequest(
                "request_uri is not allowed in a pushed authorization request (RFC 9126 §2.1)"
            )
        if params.values("request"):
            pairs = await self.request_object(params.require("request"), client, request.issuer)
        else:
            pairs = tuple((k, v) for k, v in request.form if k not in CLIENT_AUTH_PARAMS)
        pairs = self._with_client_id(pairs, client)
        proof = await self._dpop_proof(request)
        if proof is not None:
            pairs = _bound_to(pairs, proof.jkt)
        await self._check(request, pairs, store)
        raw = secrets.token_urlsafe(32)
        await store.save_pushed_request(
            raw,
            PushedRequest(
                client_id=client.client_id,
                issuer=request.issuer,
                space_id=request.space_id,
                params=pairs,
                expires_at=self.config.clock() + timedelta(seconds=PUSHED_REQUEST_TTL),
            ),
        )
        headers: dict[str, str] = {}
        if proof is not None and self.dpop is not None and self.dpop.settings.nonces:
            headers["DPoP-Nonce"] = self.dpop.nonce()  # RFC 9449 §8.2
        return Pushed({"request_uri": REQUEST_URI_PREFIX + raw, "expires_in": PUSHED_REQUEST_TTL}, headers)

    async def _dpop_proof(self, request: OAuthRequest) -> Proof | None:
        """RFC 9449 §10.1: a DPoP proof sent with the pushed request binds the code to its key,
        like ``dpop_jkt``; checked as at the token endpoint (§4.3)."""
        header = request.header("dpop")
        if header is None:
            return None
        if self.dpop is None:
            raise InvalidDpopProof("this server does not accept DPoP proofs")
        return await self.dpop.verify(header, method="POST", urls=request.urls)

    @staticmethod
    def _with_client_id(pairs: tuple[tuple[str, str], ...], client: Client) -> tuple[tuple[str, str], ...]:
        """The authorization request names the authenticated client (§2.1: it MUST be the
        client that authenticated); one that names no client gets its id."""
        named = [v for k, v in pairs if k == "client_id"]
        if any(v != client.client_id for v in named):
            raise InvalidRequest("client_id differs from the authenticated client")
        if not named:
            pairs = (("client_id", client.client_id), *pairs)
        return pairs

    async def _check(
        self, request: OAuthRequest, pairs: tuple[tuple[str, str], ...], store: AuthorizationStore
    ) -> None:
        """The authorization endpoint's own checks (§2.1: "MUST validate the pushed request as
        it would an authorization request"): its redirect URI, then everything else."""
        if any(k == LOGIN_STAMP_PARAM for k, _ in pairs):
            raise InvalidRequest(f"{LOGIN_STAMP_PARAM} is not an authorization request parameter")
        endpoint = self.authorization
        flow = Flow(request=replace(request, query=pairs, form=()), viewer=None, decision=None, store=store)
        outcome = await endpoint.find_target(flow)
        if isinstance(outcome, ShowError):
            raise InvalidRequest(outcome.message)
        assert flow.target is not None
        resource = await requested_resource(flow.request, flow.params.values("resource"))
        endpoint._validate(flow.request, flow.params, flow.target, resource)

    async def request_object(self, value: str, client: Client, issuer: str) -> tuple[tuple[str, str], ...]:
        """The authorization parameters of a signed request object (RFC 9101 §6)."""
        claims = await self._verified_claims(value, client)
        self._check_claims(claims, client, issuer)
        pairs: list[tuple[str, str]] = []
        for name, claim in claims.items():
            if name in JWT_CLAIMS:
                continue
            if name in ("request", "request_uri"):
                raise InvalidRequestObject(f"a request object cannot contain {name!r} (RFC 9101 §4)")
            if isinstance(claim, bool) or not isinstance(claim, str | int):
                raise InvalidRequestObject(f"claim {name!r} must be a string")
            pairs.append((name, str(claim)))
        return tuple(pairs)

    async def _verified_claims(self, value: str, client: Client) -> dict[str, Any]:
        """The claims of ``value`` once its signature verifies with one of the client's keys
        (oauth/client_keys.py picks the candidates, as for client assertions)."""
        try:
            header = jws.extract_compact(value.encode()).protected
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidRequestObject("the request object is not a signed JWT (JWS compact)") from exc
        alg = header.get("alg")
        if alg not in REQUEST_OBJECT_SIGNING_ALGS:
            raise InvalidRequestObject(
                f"the request object's algorithm {alg!r} is not accepted "
                f"(use one of {', '.join(REQUEST_OBJECT_SIGNING_ALGS)})"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidRequestObject("the request object's 'kid' is not a string")
        key_set = await self.keys.client_keys(client)
        found = candidate_keys(key_set, alg, kid) if key_set else []
        if found is None and client.jwks_uri:
            # The client rotated its keys: an unknown kid reads the published set once more.
            key_set = await self.keys.refresh_client_keys(client)
            found = candidate_keys(key_set, alg, kid) if key_set else []
        if not found:
            raise InvalidRequestObject("no key the client registered can verify the request object")
        for key in found:
            try:
                with warnings.catch_warnings():
                    # joserfc warns that "EdDSA" is deprecated (RFC 9864); clients still send it.
                    warnings.simplefilter("ignore", SecurityWarning)
                    token = jwt.decode(value, key, algorithms=[alg])
            except (JoseError, ValueError, TypeError):
                continue
            return token.claims
        raise InvalidRequestObject("the request object's signature does not verify with the client's keys")

    def _check_claims(self, claims: dict[str, Any], client: Client, issuer: str) -> None:
        if claims.get("iss") != client.client_id:
            raise InvalidRequestObject("the request object's iss must be the client_id")
        aud = claims.get("aud")
        if not (aud == issuer or (isinstance(aud, list) and issuer in aud)):
            raise InvalidRequestObject("the request object's aud must be this issuer")
        if claims.get("client_id") not in (None, client.client_id):
            raise InvalidRequestObject("the request object's client_id differs from the client")
        now = self.config.clock()
        exp = _moment(claims, "exp")
        if exp is None or exp <= now - CLOCK_SKEW:
            raise InvalidRequestObject("the request object has expired (or has no exp)")
        if exp > now + MAX_REQUEST_OBJECT_LIFETIME:
            raise InvalidRequestObject("the request object lives too long (exp at most an hour ahead)")
        nbf = _moment(claims, "nbf")
        if nbf is not None and nbf > now + CLOCK_SKEW:
            raise InvalidRequestObject("the request object is not valid yet (nbf)")


def _moment(claims: dict[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestObject(f"the request object's {name} must be a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidRequestObject(f"the request object's {name} is out of range") from exc
