"""Token exchange (RFC 8693) at the token endpoint:
``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``.

The client authenticates as at every grant and presents a ``subject_token`` with
``subject_token_type=urn:ietf:params:oauth:token-type:access_token`` (§2.1; the only type
accepted: other types, and ``requested_token_type`` other than an access token, are
``invalid_request``). Two uses:

* **A space token** (../shared/reference/README.md decision 13): ``resource`` names a space's
  host (its issuer URL) or ``audience`` its subdomain, and the subject is a user token of an
  admin of that space. The result is exactly what Cobot's ``POST /api/access_tokens/<t>/space``
  gives (:mod:`frontdesk.oauth.space_tokens`, the one implementation of both): same rules,
  same token, same introspection fields; ``scope`` may ask for less.
* **A narrower token**: fewer scopes (``scope``, never more than the subject's:
  ``invalid_scope``) and/or one audience (``resource``, RFC 8707 §2, or an absolute URI as
  ``audience``; a subject bound to one resource yields no token for another:
  ``invalid_target``). It keeps the subject's person, space and issuer, expires no later than
  the subject (when the subject expires) and otherwise lives as the app's tokens do, and joins
  the subject's grant family: revoking the subject (or its refresh family) takes it back, and
  revoking it takes back the grant it came from (oauth/revocation.py: a token's family goes
  with it). A subject that had no family yet gets one now, named by the subject's id.

**Whose tokens.** Only tokens issued to the requesting client: its own users' tokens (and its
own client_credentials tokens). A resource server (an app with ``can_introspect``) may *not*
exchange tokens that other apps' users presented to it: docs/decisions.md, "Token exchange".
The same holds for the ``actor_token``.

**Delegation** (§1.1, §4.1): with ``actor_token`` (and ``actor_token_type``, required with it
and refused without it, §2.1) the issued token records the actor as its ``act`` claim, the
subject's own ``act`` nested inside (oauth/delegation.py); introspection and JWT access tokens
report it.

**Errors** (§2.2.2): a missing, unknown, foreign, revoked or expired subject or actor token is
``invalid_request`` (§2.2.2 requires that code for subject and actor tokens that are invalid or
unacceptable by policy), as are tokens bound to a DPoP key when the request carries no proof
made with that key (RFC 9449 §5; with one, the new token is bound to the same key); a target
that does not exist, is not allowed (not an admin of the space, another space's token, another
resource) or is named more than once is ``invalid_target``; wider scopes are ``invalid_scope``.

**Response** (§2.2.1): ``access_token``, ``issued_token_type``
(``urn:ietf:params:oauth:token-type:access_token``), ``token_type``, ``scope`` (always, as at
every grant here, docs/decisions.md §6) and ``expires_in`` when the token expires. No refresh
token and no ID token: a new exchange is the way to another token.
"""

from __future__ import annotations

from typing import Any

from frontdesk import events
from frontdesk.oauth import space_tokens
from frontdesk.oauth.delegation import act_claim, delegated
from frontdesk.oauth.errors import InvalidRequest
from frontdesk.oauth.grants import Grant
from frontdesk.oauth.models import TokenInfo
from frontdesk.oauth.resource import InvalidTarget, narrowed, requested_resource
from frontdesk.oauth.scopes import format_scope, parse_scope, scopes_within
from frontdesk.oauth.tokens import IssueRequest, TokenResponse

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
# RFC 8693 §3: the token type identifier of an OAuth 2.0 access token.
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# What a narrower token records as how it was issued (access_tokens.grant_type).
STORED_GRANT_TYPE = "token_exchange"
SPACE = "space"
NARROWER = "narrower"

_REFUSALS = {
    space_tokens.Refusal.NO_PERSON: "a token that acts for no person cannot become a space token",
    space_tokens.Refusal.NO_SPACE: "no such space",
    space_tokens.Refusal.NOT_ADMIN: "only an admin of the space can obtain a space token",
}


class TokenExchangeGrant(Grant):
    grant_type = GRANT_TYPE

    subject: TokenInfo
    actor: TokenInfo | None = None
    scopes: tuple[str, ...]
    # A space token for this space, or (None) a narrower token.
    space_id: str | None = None
    audience: str | None = None
    act: str | None = None

    async def validate_token_request(self) -> None:
        params = self.ctx.params
        subject_raw = params.require("subject_token")
        if params.require("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise InvalidRequest(
                f"subject_token_type must be {ACCESS_TOKEN_TYPE}: only access tokens are exchanged"
            )
        actor_raw = params.get("actor_token")
        actor_type = params.get("actor_token_type")
        if actor_raw is None and actor_type is not None:
            raise InvalidRequest("actor_token_type is sent only with an actor_token")
        if actor_raw is not None and actor_type != ACCESS_TOKEN_TYPE:
            if actor_type is None:
                raise InvalidRequest("missing parameter 'actor_token_type'")
            raise InvalidRequest(f"actor_token_type must be {ACCESS_TOKEN_TYPE}")
        requested_type = params.get("requested_token_type")
        if requested_type is not None and requested_type != ACCESS_TOKEN_TYPE:
            raise InvalidRequest(f"requested_token_type: only {ACCESS_TOKEN_TYPE} is issued here")
        requested_scopes = parse_scope(params.get("scope"))

        self.subject = await self._token(subject_raw, "subject_token")
        if actor_raw is not None:
            self.actor = await self._token(actor_raw, "actor_token")
        subject = self.subject
        # At any host: the issued token keeps the subject's issuer (and nothing here carries an
        # issuer to be mixed up: no ID token).
        await self._target()
        self.scopes = scopes_within(requested_scopes, subject.scopes, "subject_token")
        self.act = subject.act if self.actor is None else delegated(self.actor, subject.act)

    async def _token(self, raw: str, name: str) -> TokenInfo:
        """The live access token ``raw``, issued to this client (§2.2.2: else invalid_request).
        Unknown and other clients' tokens get the same answer: nothing is said about tokens
        that are not the caller's business."""
        token = await self.ctx.storage.lookup_token(raw)
        if token is None or token.client_id != self.client.client_id:
            raise InvalidRequest(f"{name} is not an access token issued to this client")
        if token.revoked:
            raise InvalidRequest(f"{name} was revoked")
        if token.expires_at is not None and token.expires_at <= self.ctx.config.clock():
            raise InvalidRequest(f"{name} expired")
        if token.dpop_jkt is not None and token.dpop_jkt != self.ctx.dpop_jkt:
            # RFC 9449 §5: only with a proof of its key (oauth/token_endpoint.py checked the
            # proof, and the issuer binds the new token to that key); else the exchange would
            # turn a stolen bound token into a bearer token.
            raise InvalidRequest(f"{name} is bound to a DPoP key: send a DPoP proof made with that key")
        return token

    async def _target(self) -> None:
        """The space (``space_id``) or the audience the request names (RFC 8693 §2.1,
        RFC 8707 §2): at most one ``resource`` or ``audience``."""
        params = self.ctx.params
        resources = params.values("resource")
        audiences = params.values("audience")
        if len(resources) + len(audiences) > 1:
            raise InvalidTarget("name one target: one resource or one audience")
        request = self.ctx.request
        registry = request.resources
        resource: str | None = None
        space_id: str | None = None
        if audiences and ":" not in audiences[0]:
            # A logical name: a space's subdomain (decision 13).
            space_id = await registry.space_named(audiences[0]) if registry is not None else None
            if space_id is None:
                raise InvalidTarget("no such space")
        elif resources or audiences:
            # An absolute URI: a resource (RFC 8707 §2), perhaps a space's host.
            resource = await requested_resource(request, resources or audiences)
            assert resource is not None
            space_id = await registry.space_of_resource(resource) if registry is not None else None
        subject = self.subject
        if space_id is not None and subject.space_id is None:
            try:
                space_tokens.check_subject(subject)
            except space_tokens.SpaceTokenRefused as exc:
                raise InvalidTarget(_REFUSALS[exc.reason]) from exc
            self.space_id = space_id
            return
        if space_id is not None and space_id != subject.space_id:
            raise InvalidTarget("the subject_token is a space token of another space")
        self.audience = narrowed(subject.audience, resource)

    async def create_token_response(self) -> TokenResponse:
        ctx = self.ctx
        subject = self.subject
        storage = ctx.storage
        # No refresh token, no ID token: a new exchange is the way to another token.
        issuer = ctx.issuer.without_extras()
        if self.space_id is not None:
            try:
                made = await space_tokens.issue_space_token(
                    storage,
                    issuer,
                    self.client,
                    subject,
                    self.space_id,
                    ip=ctx.request.client_ip,
                    scopes=self.scopes,
                    act=self.act,
                )
            except space_tokens.SpaceTokenRefused as exc:
                raise InvalidTarget(_REFUSALS.get(exc.reason, exc.message)) from exc
            issued, kind = made.issued, SPACE
        else:
            family_id = subject.family_id
            if family_id is None:
                # The subject and what is exchanged for it become one grant (revoked together),
                # named after the subject: every worker names it alike, even one that still
                # caches the subject without its family.
                family_id = subject.id
                await storage.assign_token_family(subject.id, family_id)
            issued = await issuer.issue(
                storage,
                IssueRequest(
                    client=self.client,
                    user_id=subject.user_id,
                    scopes=self.scopes,
                    grant_type=STORED_GRANT_TYPE,
                    issuer=subject.issuer or ctx.request.issuer,
                    space_id=subject.space_id,
                    parent_id=subject.id,
                    family_id=family_id,
                    ip=ctx.request.client_ip,
                    audience=self.audience,
                    act=self.act,
                    not_after=subject.expires_at,
                ),
            )
            kind = NARROWER
        detail: dict[str, Any] = {
            "token_id": issued.token_id,
            "subject_token_id": subject.id,
            "kind": kind,
            "scope": format_scope(self.scopes),
        }
        if self.actor is not None:
            detail["actor_token_id"] = self.actor.id
            act = act_claim(self.act)
            if act is not None:
                detail["actor"] = act.get("sub")
        if issued.request.audience:
            detail["audience"] = issued.request.audience
        await storage.record_event(
            events.TOKEN_EXCHANGED,
            user_id=subject.user_id,
            app_id=self.client.client_id,
            space_id=issued.request.space_id,
            ip=ctx.request.client_ip,
            detail=detail,
        )
        # §2.2.1: what was issued (the body is the issuer's, extended in place like extras do).
        issued.response.body["issued_token_type"] = ACCESS_TOKEN_TYPE
        return issued.response
