"""The composition root: every long-lived part of a Frontdesk process, built once from
:class:`frontdesk.settings.Settings` and wired together here and nowhere else.

The web application (:mod:`frontdesk.web.app`) adds its HTTP parts on top; the CLI uses the
database alone. Every throttle rule the server applies is read from the settings here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from frontdesk.oauth.authorize import AuthorizationEndpoint
from frontdesk.oauth.bearer import BearerValidator
from frontdesk.oauth.client_assertion import ClientAssertions
from frontdesk.oauth.config import OAuthConfig, utcnow
from frontdesk.oauth.device import DeviceAuthorizationEndpoint, DeviceVerification
from frontdesk.oauth.dpop import DpopSettings, DpopVerifier
from frontdesk.oauth.errors import TemporarilyUnavailable
from frontdesk.oauth.grants.authorization_code import AuthorizationCodeGrant
from frontdesk.oauth.grants.client_credentials import ClientCredentialsGrant
from frontdesk.oauth.grants.device_code import DeviceCodeGrant
from frontdesk.oauth.grants.password import PasswordGrant
from frontdesk.oauth.grants.refresh_token import RefreshTokenGrant
from frontdesk.oauth.grants.token_exchange import TokenExchangeGrant
from frontdesk.oauth.introspection import IntrospectionEndpoint
from frontdesk.oauth.models import FAPI2, Person, use_profile_for_all
from frontdesk.oauth.oidc import IdTokenExtra
from frontdesk.oauth.par import PushedAuthorizationEndpoint, RegisteredKeys
from frontdesk.oauth.refresh import RefreshTokenExtra
from frontdesk.oauth.revocation import RevocationEndpoint
from frontdesk.oauth.scopes import load_catalogue, use_catalogue
from frontdesk.oauth.storage import ReplayGuard
from frontdesk.oauth.token_endpoint import TokenEndpoint
from frontdesk.oauth.tokens import TokenIssuer
from frontdesk.security.passwords import HashingBusy, Passwords
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import accounts
from frontdesk.services.client_keys import ClientKeys
from frontdesk.services.throttle import FailureRules, FailureThrottle, Rule, Throttle, make_storage
from frontdesk.services.work import UnitOfWork
from frontdesk.settings import Settings
from frontdesk.store.db import Database


@dataclass(frozen=True)
class Rules:
    """Every rate limit and failure throttle, from the settings (``services/throttle.py`` says
    how they count)."""

    # Failure throttles (RFC 6819 §5.1.4.2.3): wrong passwords at the login form, the password
    # confirmation and the password grant share the counters of ``login``.
    login: FailureThrottle
    password_grant: FailureThrottle
    client_auth: FailureThrottle
    code: FailureThrottle
    # Wrong user codes at /device (RFC 8628 §5.1), per browser session and address.
    user_code: FailureThrottle
    # Wrong second-factor codes (services/second_factor.py), per account and address.
    second_factor: FailureThrottle
    # Rates; None: switched off.
    api: Rule | None
    # Admin API requests per administrative app (web/admin_auth.py).
    admin_api: Rule | None
    dynamic_registration: Rule | None
    signup: Rule | None
    # Passkey checks started per client address (services/passkeys.py stores a challenge each).
    passkey_challenge: Rule
    # Device authorizations started per client address (RFC 8628 §3.1, oauth/device.py).
    device_authorization: Rule
    # Emails people ask for: password resets per client address and per entered address
    # (whether or not it has an account), verification emails per account.
    password_reset_address: Rule
    password_reset_account: Rule
    verification_email: Rule
    # Email-change requests per account; invitations sent per space.
    email_change: Rule
    invitation: Rule

    @classmethod
    def from_settings(cls, settings: Settings, throttle: Throttle) -> Rules:
        def rate(name: str, spec: str) -> Rule | None:
            return Rule.parse(name, spec) if spec else None

        login = FailureRules(
            subject="account",
            pair=Rule.parse("login-account-address", settings.login_failures_per_account_address),
            address=Rule.parse("login-address", settings.login_failures_per_address),
            ceiling=Rule.parse("login-account", settings.login_failures_per_account),
            reserve=True,
        )
        password_client = Rule.parse("password-grant-client", settings.password_grant_failures_per_client)

        def per_client_and_address(name: str, pair: str, address: str) -> FailureThrottle:
            """Failures of a client's secret or codes: per client and address, per address."""
            rules = FailureRules(
                subject="client",
                pair=Rule.parse(f"{name}-client-address", pair),
                address=Rule.parse(f"{name}-address", address),
            )
            return FailureThrottle(throttle, rules)

        return cls(
            login=FailureThrottle(throttle, login),
            password_grant=FailureThrottle(throttle, replace(login, others=(("client", password_client),))),
            client_auth=per_client_and_address(
                "client-auth",
                settings.client_auth_failures_per_client_address,
                settings.client_auth_failures_per_address,
            ),
            second_factor=FailureThrottle(
                throttle,
                FailureRules(
                    subject="account",
                    pair=Rule.parse(
                        "second-factor-account-address", settings.second_factor_failures_per_account_address
                    ),
                    address=Rule.parse("second-factor-address", settings.second_factor_failures_per_address),
                    ceiling=Rule.parse("second-factor-account", settings.second_factor_failures_per_account),
                    reserve=True,
                ),
            ),
            code=per_client_and_address(
                "code-failures", settings.code_failures_per_client_address, settings.code_failures_per_address
            ),
            user_code=FailureThrottle(
                throttle,
                FailureRules(
                    subject="session",
                    pair=Rule.parse("user-code-session-address", settings.user_code_failures_per_session),
                    address=Rule.parse("user-code-address", settings.user_code_failures_per_address),
                ),
            ),
            api=rate("api", settings.api_rate_limit),
            admin_api=rate("admin-api", settings.admin_api_rate_limit),
            dynamic_registration=rate("dynamic-registration", settings.dynamic_registration_rate_limit),
            signup=rate("signup", settings.signup_rate_limit),
            passkey_challenge=Rule.parse(
                "passkey-challenge-address", settings.passkey_challenge_rate_per_address
            ),
            device_authorization=Rule.parse(
                "device-authorization-address", settings.device_authorization_rate_per_address
            ),
            password_reset_address=Rule.parse(
                "password-reset-address", settings.password_reset_rate_per_address
            ),
            password_reset_account=Rule.parse(
                "password-reset-account", settings.password_reset_rate_per_account
            ),
            verification_email=Rule.parse(
                "verification-email-account", settings.verification_email_rate_per_account
            ),
            email_change=Rule.parse("email-change-account", settings.email_change_rate_per_account),
            invitation=Rule.parse("invitation-space", settings.invitation_rate_per_space),
        )


class PasswordCheck:
    """:class:`frontdesk.oauth.storage.PasswordAuthenticator` over the accounts service, in
    one unit of work (a rehash on success is committed with the token)."""

    def __init__(self, uow: UnitOfWork, passwords: Passwords) -> None:
        self.uow = uow
        self.passwords = passwords

    async def __call__(self, email: str, password: str) -> Person | None:
        try:
            return await accounts.check_credentials(
                self.uow.session, self.passwords, email=email, password=password
            )
        except HashingBusy as exc:
            raise TemporarilyUnavailable("the server is busy; retry shortly", retry_after=1) from exc


@dataclass
class OAuthServer:
    """The protocol core's endpoints, configured."""

    config: OAuthConfig
    authorization: AuthorizationEndpoint
    token: TokenEndpoint
    revocation: RevocationEndpoint
    introspection: IntrospectionEndpoint
    # RFC 9126 pushed authorization requests (with RFC 9101 request objects).
    pushed: PushedAuthorizationEndpoint
    # RFC 8628: the device authorization endpoint and the person's side at /device.
    device: DeviceAuthorizationEndpoint
    device_verification: DeviceVerification
    bearer: BearerValidator
    issuer: TokenIssuer

    @classmethod
    def build(
        cls,
        settings: Settings,
        rules: Rules,
        server_secret: ServerSecret,
        *,
        client_assertions: ClientAssertions | None = None,
        replay_guard: ReplayGuard | None = None,
    ) -> OAuthServer:
        config = OAuthConfig(
            code_ttl_seconds=settings.code_ttl_seconds,
            strict=settings.strict_mode,
            password_grant_enabled=settings.password_grant,
            require_verified_email=settings.require_verified_email,
            require_par=settings.require_par,
        )
        issuer = TokenIssuer(config, [RefreshTokenExtra(), IdTokenExtra()])
        # The settings checked the scope file already; this process uses its catalogue.
        scopes = use_catalogue(load_catalogue(settings.scopes_file))
        # FRONTDESK_FAPI2: every app of this process runs under the FAPI 2.0 profile.
        use_profile_for_all(FAPI2 if settings.fapi2 else None)
        authorization = AuthorizationEndpoint(config, server_secret.mac)
        # RFC 9449: proofs' jti single use through the replay guard (Redis when configured);
        # nonces are MACs with the server secret, good at every worker.
        dpop = DpopVerifier(
            DpopSettings(max_age_seconds=settings.dpop_proof_max_age_seconds, nonces=settings.dpop_nonce),
            replay_guard=replay_guard,
            mac=server_secret.mac,
            clock=config.clock,
        )
        return cls(
            config=config,
            authorization=authorization,
            token=TokenEndpoint(
                config,
                [
                    AuthorizationCodeGrant,
                    PasswordGrant,
                    RefreshTokenGrant,
                    ClientCredentialsGrant,
                    DeviceCodeGrant,
                    TokenExchangeGrant,
                ],
                issuer=issuer,
                password_limiter=rules.password_grant,
                client_limiter=rules.client_auth,
                # Failed code redemptions (refresh token failures are not limited this way).
                code_limiter=rules.code,
                client_assertions=client_assertions,
                dpop=dpop,
            ),
            revocation=RevocationEndpoint(
                config, client_limiter=rules.client_auth, client_assertions=client_assertions
            ),
            introspection=IntrospectionEndpoint(
                config, client_limiter=rules.client_auth, client_assertions=client_assertions
            ),
            pushed=PushedAuthorizationEndpoint(
                config,
                authorization,
                client_limiter=rules.client_auth,
                client_assertions=client_assertions,
                # Request objects are verified with the keys client assertions use (RFC 9101 §6.2).
                keys=client_assertions.keys if client_assertions is not None else RegisteredKeys(),
                # RFC 9449 §10.1: a DPoP proof with the pushed request binds its code.
                dpop=dpop,
            ),
            device=DeviceAuthorizationEndpoint(
                config,
                ttl_seconds=settings.device_code_ttl_seconds,
                interval_seconds=settings.device_poll_interval_seconds,
                client_limiter=rules.client_auth,
                client_assertions=client_assertions,
            ),
            device_verification=DeviceVerification(config, rules.user_code),
            bearer=BearerValidator(scopes, config.clock, dpop),
            issuer=issuer,
        )


@dataclass
class Frontdesk:
    """The parts of one process."""

    settings: Settings
    server_secret: ServerSecret
    db: Database
    passwords: Passwords
    throttle: Throttle
    rules: Rules
    oauth: OAuthServer
    # private_key_jwt apps' keys (RFC 7523 §2.2): their jwks, or their jwks_uri fetched and
    # cached per process; also what verifies request objects (RFC 9101 §6.2).
    client_keys: ClientKeys

    @classmethod
    def parts(cls, settings: Settings) -> Frontdesk:
        """The parts, built from the settings (subclasses add their own around them)."""
        server_secret = ServerSecret(settings.resolve_secret_key())
        throttle = Throttle(make_storage(settings.redis_url))
        rules = Rules.from_settings(settings, throttle)
        client_keys = ClientKeys.from_settings(settings)
        # RFC 7523 §3: assertions' jti single use through the throttle's replay guard.
        assertions = ClientAssertions(keys=client_keys, replay=throttle, clock=utcnow)
        return Frontdesk(
            settings=settings,
            server_secret=server_secret,
            db=Database(settings, server_secret),
            passwords=Passwords(
                time_cost=settings.argon2_time_cost,
                memory_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
                concurrency=settings.hash_concurrency,
                queue_limit=settings.hash_queue_limit,
                nice=settings.hash_nice,
                bcrypt_pepper=settings.import_bcrypt_pepper.get_secret_value(),
            ),
            throttle=throttle,
            rules=rules,
            oauth=OAuthServer.build(
                settings, rules, server_secret, client_assertions=assertions, replay_guard=throttle
            ),
            client_keys=client_keys,
        )

    def unit_of_work(self) -> UnitOfWork:
        return self.db.unit_of_work()

    def password_check(self, uow: UnitOfWork) -> PasswordCheck:
        return PasswordCheck(uow, self.passwords)
