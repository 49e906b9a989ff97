"""SQLAlchemy models. Ids are opaque strings; secrets are stored only as digests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from frontdesk.security.randoms import new_id
from frontdesk.store.types import UTCDateTime, utcnow

ID = String(32)
DIGEST = String(64)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254))
    # Case-folded email: unique, so addresses differing only in case cannot both register.
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    # A picture the platform set (admin API); None: /api/user reports the generated avatar.
    picture_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # An operator disabled the account (admin API): no login, its tokens revoked.
    disabled_at: Mapped[datetime | None]
    # When the person opened the verification link sent to ``email`` (None: not verified).
    email_verified_at: Mapped[datetime | None]
    # The language the person chose or signed up in (i18n.py); None: English. Emails use it.
    locale: Mapped[str | None] = mapped_column(String(16))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class LoginSession(Base):
    """A server-side browser session; the cookie holds a secret whose digest is the id."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The normalised host the cookie was set on; a session is only valid there.
    host: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    # The session's public handle: the account's sessions page names it, and ID tokens carry
    # it as ``sid`` (OpenID Connect Back-Channel Logout 1.0 §2.4). Never the cookie's secret.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True, default=new_id)
    # When the person last re-entered their password in this session (to reveal secrets).
    reauthenticated_at: Mapped[datetime | None]
    # Small server-side session state (e.g. which app's credentials may be shown once).
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # How the login was made: RFC 8176 method values, space-separated (None: a password login
    # from before migration 0014); when its authentication completed (OIDC auth_time; None:
    # created_at); and whether it still waits for a second factor (then it is no login).
    amr: Mapped[str | None] = mapped_column(String(100))
    authenticated_at: Mapped[datetime | None]
    pending_factor: Mapped[bool] = mapped_column(default=False, server_default=false())

    user: Mapped[User] = relationship()


class Space(Base):
    """A tenant: reachable at ``<subdomain>.<base domain>`` and optionally a custom domain."""

    __tablename__ = "spaces"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    subdomain: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The verified custom domain: the only one served (web/hosts.py, /healthz/domain).
    custom_domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    # A domain an admin asked for, served once its DNS TXT record proves ownership
    # (services/domains.py), and the space's verification token for that record.
    pending_domain: Mapped[str | None] = mapped_column(String(253))
    domain_token: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The space's admin pages need a second factor (web/deps.py space_admin).
    require_admin_second_factor: Mapped[bool] = mapped_column(default=False, server_default=false())

    owner: Mapped[User] = relationship()


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("space_id", "user_id", name="uq_memberships_space_user"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10), default="member")  # "member" | "admin"
    # How an admin is named inside this space (Cobot's admin_of[].name).
    admin_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Cobot's confirmed_at: when the membership took effect (services/spaces.py
    # confirm_membership; apps skip memberships without it); canceled_to: its last day.
    confirmed_at: Mapped[datetime | None]
    canceled_to: Mapped[date | None] = mapped_column(Date)

    user: Mapped[User] = relationship(back_populates="memberships")
    space: Mapped[Space] = relationship()


Index("ix_memberships_space_role", Membership.space_id, Membership.role)


class App(Base):
    """A registered OAuth client. The secret is kept as a digest (for checking) and sealed with
    AEAD (so its owner can see it again, docs/decisions.md §1)."""

    __tablename__ = "apps"

    client_id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_in_space: Mapped[str | None] = mapped_column(String(100))
    main_url: Mapped[str] = mapped_column(String(2000), default="")
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Space-separated scopes the app may hold; also what it gets when it asks for none.
    scopes: Mapped[str] = mapped_column(String(2000), default="")
    password_grant: Mapped[bool] = mapped_column(default=True)
    public: Mapped[bool] = mapped_column(default=False)
    allow_redirect_query: Mapped[bool] = mapped_column(default=False)
    trusted: Mapped[bool] = mapped_column(default=False)
    # Confidential apps may opt in to PKCE; public apps always need it (RFC 9700 §2.1.1).
    require_pkce: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Opt-in expiring access tokens (seconds) with rotating refresh tokens; None: never expire.
    access_token_ttl: Mapped[int | None]
    # A resource server allowed to introspect any token (RFC 7662 §2.1).
    can_introspect: Mapped[bool] = mapped_column(default=False, server_default=false())
    # RFC 9068 JWT access tokens instead of opaque ones (they always expire).
    jwt_access_tokens: Mapped[bool] = mapped_column(default=False, server_default=false())
    # RFC 9449 §5.2 ``dpop_bound_access_tokens``: token requests need a DPoP proof.
    dpop_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    # RFC 9126 §6 ``require_pushed_authorization_requests``: authorization requests only via PAR.
    par_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    # How it was registered: web, cli, seed or dynamic (RFC 7591); and that request's metadata.
    registered_via: Mapped[str] = mapped_column(String(10), default="web", server_default="web")
    registration_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    secret_digest: Mapped[str | None] = mapped_column(DIGEST)
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    secret_created_at: Mapped[datetime | None]
    # After a rotation with an overlap window the previous secret works until its expiry.
    previous_secret_digest: Mapped[str | None] = mapped_column(DIGEST)
    previous_secret_expires_at: Mapped[datetime | None]
    # May use the client_credentials grant (RFC 6749 §4.4); the administrative scopes it may
    # hold that way (space-separated, admin:<resource>:read|write and scim).
    client_credentials: Mapped[bool] = mapped_column(default=False, server_default=false())
    admin_scopes: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    # OpenID Connect RP-Initiated Logout 1.0 §3.1 (exact match) and Back-Channel Logout 1.0 §2.2.
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000))
    # RFC 7591 §2: None (a client secret) or "private_key_jwt" (RFC 7523 §2.2), whose public
    # keys are ``jwks`` (a JWK Set as JSON text) or published at ``jwks_uri``.
    token_endpoint_auth_method: Mapped[str | None] = mapped_column(String(32))
    jwks: Mapped[str | None] = mapped_column(Text)
    jwks_uri: Mapped[str | None] = mapped_column(String(2000))
    # None, or "fapi2": the FAPI 2.0 Security Profile (oauth/models.Client.profile).
    profile: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship()


class Consent(Base):
    """What a user granted an app (per host's space, or the main site when ``space_id`` is
    NULL): lets a later authorization with no new scopes skip the consent page."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"), index=True)
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuthorizationCode(Base):
    """Single-use, short-lived; consumed (never deleted) so replays can be detected."""

    __tablename__ = "authorization_codes"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    digest: Mapped[str] = mapped_column(DIGEST, unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The space whose host the authorization happened on (None: the main host).
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(300))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    redirect_uri_sent: Mapped[bool] = mapped_column(default=True)
    scope: Mapped[str] = mapped_column(String(2000))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    nonce: Mapped[str | None] = mapped_column(String(500))
    # RFC 8707 §2: the resource the authorization request named (the tokens' audience).
    resource: Mapped[str | None] = mapped_column(String(2000))
    auth_time: Mapped[datetime]
    # The login's methods (RFC 8176, space-separated), for the ID token's amr and acr.
    amr: Mapped[str | None] = mapped_column(String(100))
    # The public id of the browser session it was issued in (the ID token's ``sid``).
    # Indexed: when a session ends, the apps it signed in to are those of its codes
    # (store/session_apps.py), so issuing a code writes nothing else.
    sid: Mapped[str | None] = mapped_column(String(32), index=True)
    # RFC 9449 §10: the ``dpop_jkt`` of the authorization request (the token request's proof
    # must be made with that key).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]


class PushedAuthorizationRequest(Base):
    """A pushed authorization request (RFC 9126 §2): the parameters an authenticated client
    pushed, stored under a digest of the random part of its ``request_uri``; single use."""

    __tablename__ = "pushed_authorization_requests"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    digest: Mapped[str] = mapped_column(DIGEST, unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"), index=True)
    # The host it was pushed to (its issuer) and that host's space (None: the main host).
    issuer: Mapped[str] = mapped_column(String(300))
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    # The authorization request's parameters as [name, value] pairs, in order.
    params: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # When the authorization endpoint first read it, and when a decision used it up.
    opened_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]


class AccessToken(Base):
    """A bearer token, stored as a digest. ``space_id`` set means a *space token*: it reaches
    only that space and outlives its creator's admin role (it then acts for the owner)."""

    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    digest: Mapped[str] = mapped_column(DIGEST, unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"), index=True)
    # None: a client_credentials token (RFC 6749 §4.4), acting for no person.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(2000))
    # How it was issued: authorization_code, password, test, space (exchange), refresh_token,
    # client_credentials, token_exchange (RFC 8693, a narrower token; space tokens it makes are
    # "space").
    grant_type: Mapped[str] = mapped_column(String(30))
    code_id: Mapped[str | None] = mapped_column(
        ForeignKey("authorization_codes.id", ondelete="SET NULL"), index=True
    )
    # The token this one was made from (a refreshed or space token, token exchange). Indexed:
    # revoking a token reaches those made from it (store/revocation.py), and pruning keeps a
    # token while one made from it remains (store/pruning.py).
    parent_id: Mapped[str | None] = mapped_column(ID, index=True)
    # Tokens minted by refreshing share the refresh token family (revoked together on reuse).
    family_id: Mapped[str | None] = mapped_column(ID, index=True)
    # The issuer (host) the token was obtained at; OpenID Connect and introspection report it.
    issuer: Mapped[str | None] = mapped_column(String(300))
    # RFC 8707: the one resource the token is good at; None: every host of this deployment.
    audience: Mapped[str | None] = mapped_column(String(2000))
    # RFC 9449 §6: the JWK thumbprint of the key the token is bound to; None: a bearer token.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    # RFC 8693 §4.1: the ``act`` claim (JSON text) of a token issued by token exchange with an
    # actor token (oauth/delegation.py); None: the token acts for its subject alone.
    act: Mapped[str | None] = mapped_column(Text)
    # Only the app owner's test token is kept sealed, so the owner can see it again.
    sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    app: Mapped[App] = relationship()
    user: Mapped[User | None] = relationship()


Index("ix_consents_user_app", Consent.user_id, Consent.app_id)


class RefreshToken(Base):
    """Rotating refresh tokens (opt-in per app). One family per authorization; presenting a
    rotated token again revokes the whole family (RFC 9700 §4.14.2)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    digest: Mapped[str] = mapped_column(DIGEST, unique=True)
    family_id: Mapped[str] = mapped_column(ID, index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(2000))
    issuer: Mapped[str | None] = mapped_column(String(300))
    # RFC 8707: the audience of the family's access tokens (None: every host).
    audience: Mapped[str | None] = mapped_column(String(2000))
    # RFC 9449 §5: the JWK thumbprint of the key the refresh token is bound to (public
    # clients, and apps that require DPoP); None: not bound.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    code_id: Mapped[str | None] = mapped_column(
        ForeignKey("authorization_codes.id", ondelete="SET NULL"), index=True
    )
    access_token_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SigningKey(Base):
    """A key that signs ID tokens and iframe contexts. The private half is sealed with the
    server secret; retired keys stay in the JWKS so earlier signatures still verify."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10), default="RS256")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Security events (logins, consents, tokens, replays, secrets) for people and operators."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(50), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"))
    app_id: Mapped[str | None] = mapped_column(ForeignKey("apps.client_id", ondelete="SET NULL"))
    ip: Mapped[str] = mapped_column(String(45), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class NavigationLink(Base):
    """A page an app adds to a space's navigation; shown in an iframe (Cobot API 1)."""

    __tablename__ = "navigation_links"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # "members", or an admin section: "admin/setup", "admin/manage", "admin/analyze".
    section: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(100))
    iframe_url: Mapped[str] = mapped_column(String(2000))
    user_editable: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CacheEvent(Base):
    """A write that makes cached reads stale (a token revoked, a membership changed, …).
    Every worker polls this table and drops the named cache, so invalidation reaches all
    workers and hosts sharing the database within the polling interval."""

    __tablename__ = "cache_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebhookEndpoint(Base):
    """Where events are delivered (Standard Webhooks, docs/integrating.md "Webhooks"): a space's
    subscription made by an app (Cobot's ``/api/subscriptions``: ``space_id`` and ``app_id``
    set) or the operator's endpoint for every event (both None). The signing secret and the URL
    are sealed with the server secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str | None] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The callback URL, sealed with the server secret (an app may put its own secret into it, as
    # Cobot's apps do), and its keyed digest for lookups such as Cobot's "409 on the same event
    # and URL" (services/webhooks.py seal_url, url_digest).
    url_sealed: Mapped[str] = mapped_column(Text)
    url_digest: Mapped[str] = mapped_column(String(64), index=True)
    # Event types delivered here (services/webhooks.py EVENT_TYPES), ["*"] for all; a Cobot
    # subscription holds one, under the name it was made with (``subscribed_as``).
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    subscribed_as: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(200), default="")
    secret_sealed: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    # Start of the current run of failed attempts (None after a success).
    failing_since: Mapped[datetime | None]
    # A worker sends to this endpoint until then (one sender per endpoint keeps the order).
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookMessage(Base):
    """The outbox and the delivery log: one event for one endpoint, written in the transaction
    of the change it reports, sent in ``seq`` order per endpoint by the worker."""

    __tablename__ = "webhook_messages"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # The webhook-id header: the same for every attempt and for "send again".
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending | delivered | failed
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    response_status: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index(
    "ix_webhook_messages_endpoint_status_seq",
    WebhookMessage.endpoint_id,
    WebhookMessage.status,
    WebhookMessage.seq,
)


class EmailLink(Base):
    """A single-use link sent by email (verification, password reset): only the digest of its
    token is stored (``ServerSecret.digest``)."""

    __tablename__ = "email_links"

    id: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # "verify" or "reset"
    purpose: Mapped[str] = mapped_column(String(10))
    # The address the link was sent to (case-folded): a verification link proves only it.
    email_key: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # An email-change link ("change"): the address it confirms (the link was sent there).
    new_email: Mapped[str | None] = mapped_column(String(254))


class Invitation(Base):
    """A space admin's invitation by email (services/invitations.py): only the digest of its
    single-use token is stored; accepting it creates the membership with the role it names."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(10))
    token_digest: Mapped[str] = mapped_column(DIGEST, unique=True)
    invited_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]


class EmailMessage(Base):
    """The email outbox: one message, written in the transaction of the change that sends it,
    sent by the worker (email_worker.py). The template's values (they hold the one-time link)
    are sealed with the server secret, bound to the row's id, and dropped once sent."""

    __tablename__ = "email_messages"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    to_address: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(40))
    context_sealed: Mapped[str] = mapped_column(Text)
    # pending | sent | failed
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_email_messages_status_next", EmailMessage.status, EmailMessage.next_attempt_at)


class ScimUser(Base):
    """What an identity provider set on an account through SCIM (services/scim.py) that the
    account does not hold itself: its ``externalId``, its ``userName`` when that is not the
    email, and the SCIM attributes kept so a read gives back what was written."""

    __tablename__ = "scim_users"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # NULL: the userName is the account's email (services/scim.py).
    user_name: Mapped[str | None] = mapped_column(String(255))
    user_name_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScimGroup(Base):
    """A space's SCIM ``externalId`` (spaces are SCIM Groups, services/scim.py)."""

    __tablename__ = "scim_groups"

    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TotpFactor(Base):
    """An authenticator app (RFC 6238): the shared secret sealed with the server secret, the
    time step of the last accepted code (a code is accepted once, RFC 6238 §5.2)."""

    __tablename__ = "totp_factors"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret_sealed: Mapped[str] = mapped_column(Text)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None while the set-up waits for its first code.
    confirmed_at: Mapped[datetime | None]


class RecoveryCode(Base):
    """A single-use recovery code (stands in for the second factor), stored as a digest."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(DIGEST, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class WebAuthnCredential(Base):
    """A passkey (WebAuthn Level 2 §6.1): the credential id and COSE public key as base64url,
    the signature counter last seen (§6.1.1), the transports the browser reported, the
    person's name for it. Nothing here is secret (the private key never leaves the device)."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[str] = mapped_column(Text)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    name: Mapped[str] = mapped_column(String(100))
    # The authenticator verified the person when it was made (it can sign in without a password).
    user_verified: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class WebAuthnChallenge(Base):
    """The outstanding challenge of one browser for one ceremony (services/passkeys.py): the
    id is a digest bound to the browser's anti-forgery seed and session; used once."""

    __tablename__ = "webauthn_challenges"

    id: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    challenge: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]


class DeviceAuthorization(Base):
    """A device authorization (RFC 8628, oauth/device.py): the device code and the user code
    as digests only, the host it was asked at, which device asked (shown on the consent page,
    §5.4), how often it may poll, and the person's decision; ``status`` goes pending →
    approved or denied → used (approved and redeemed once)."""

    __tablename__ = "device_authorizations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    device_digest: Mapped[str] = mapped_column(DIGEST, unique=True)
    # Not unique: an expired authorization may share its user code with a live one.
    user_code_digest: Mapped[str] = mapped_column(DIGEST, index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"), index=True)
    # The space whose host the device asked at (None: the main host); the tokens' issuer.
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(300))
    scope: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    poll_interval: Mapped[int] = mapped_column(Integer)
    device_ip: Mapped[str] = mapped_column(String(45), default="")
    device_agent: Mapped[str] = mapped_column(String(300), default="")
    # The person who decided, and their login (the ID token's auth_time, amr and sid).
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[datetime | None]
    amr: Mapped[str | None] = mapped_column(String(100))
    sid: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    decided_at: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
