"""The token endpoint (RFC 6749 §3.2, §5): parameters, client authentication, grant dispatch.

Errors are raised as :class:`frontdesk.oauth.errors.OAuthError`; the web layer renders them as
RFC 6749 §5.2 JSON with the same no-store headers as successes. Nothing is committed here: the
caller commits the unit of work on success, or when the error says ``persist``.
"""

from __future__ import annotations

from frontdesk.oauth.client_assertion import ClientAssertions
from frontdesk.oauth.client_auth import authenticate_client
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.dpop import DpopVerifier, InvalidDpopProof, Proof
from frontdesk.oauth.errors import InvalidRequest, UnsupportedGrantType
from frontdesk.oauth.grants import Grant, GrantContext
from frontdesk.oauth.request import OAuthRequest, token_params
from frontdesk.oauth.storage import Limiter, PasswordAuthenticator, Storage
from frontdesk.oauth.tokens import TokenIssuer, TokenResponse


class TokenEndpoint:
    def __init__(
        self,
        config: OAuthConfig,
        grants: list[type[Grant]],
        *,
        issuer: TokenIssuer | None = None,
        password_limiter: Limiter | None = None,
        client_limiter: Limiter | None = None,
        code_limiter: Limiter | None = None,
        client_assertions: ClientAssertions | None = None,
        dpop: DpopVerifier | None = None,
    ) -> None:
        self.config = config
        self.issuer = issuer or TokenIssuer(config)
        self.grants = {g.grant_type: g for g in grants}
        self.password_limiter = password_limiter
        self.client_limiter = client_limiter
        self.code_limiter = code_limiter
        # private_key_jwt (RFC 7523 §2.2; oauth/client_assertion.py).
        self.client_assertions = client_assertions
        # RFC 9449 §5: DPoP proofs bind the tokens issued (oauth/dpop.py).
        self.dpop = dpop

    @property
    def grant_types(self) -> list[str]:
        return list(self.grants)

    async def handle(
        self, request: OAuthRequest, storage: Storage, *, password_auth: PasswordAuthenticator | None = None
    ) -> TokenResponse:
        if request.method != "POST":
            raise InvalidRequest("the token endpoint accepts POST only")
        params = token_params(request, strict=self.config.strict)
        grant_type = params.get("grant_type")
        if grant_type is None:
            raise InvalidRequest("missing parameter 'grant_type'")
        grant_cls = self.grants.get(grant_type)
        if grant_cls is None:
            raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported")
        client = await authenticate_client(
            request, params, storage, self.client_limiter, self.client_assertions
        )
        proof = await self.dpop_proof(request, client.needs_dpop)
        jkt = proof.jkt if proof is not None else None
        grant = grant_cls(
            GrantContext(
                config=self.config,
                storage=storage,
                request=request,
                params=params,
                client=client,
                issuer=self.issuer.bound_to(jkt) if jkt is not None else self.issuer,
                password_auth=password_auth,
                limiter=self.password_limiter,
                failure_limiter=self.code_limiter,
                dpop_jkt=jkt,
            )
        )
        await grant.validate_token_request()
        response = await grant.create_token_response()
        if proof is not None and self.dpop is not None and self.dpop.settings.nonces:
            # RFC 9449 §8.2: the next nonce to use, with the answer.
            response.headers["DPoP-Nonce"] = self.dpop.nonce()
        return response

    async def dpop_proof(self, request: OAuthRequest, required: bool) -> Proof | None:
        """RFC 9449 §5: the request's DPoP proof, checked (§4.3), or None when it sent none;
        ``invalid_dpop_proof`` when the app must send one (§5.2 ``dpop_bound_access_tokens``)."""
        header = request.header("dpop")
        if header is None:
            if required:
                raise InvalidDpopProof(
                    "this app must send a DPoP proof with its token requests (RFC 9449 §5)"
                )
            return None
        if self.dpop is None:
            raise InvalidDpopProof("this server does not accept DPoP proofs")
        return await self.dpop.verify(header, method="POST", urls=request.urls)
