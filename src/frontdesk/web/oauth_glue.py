"""Adapters between Starlette and the framework-free protocol core (:mod:`frontdesk.oauth`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from frontdesk.oauth.authorize import AuthorizationEndpoint
from frontdesk.oauth.bearer import BearerValidator, MissingToken, challenge
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.errors import InvalidClient, InvalidRequest, OAuthError, TemporarilyUnavailable
from frontdesk.oauth.grants.authorization_code import AuthorizationCodeGrant
from frontdesk.oauth.grants.password import PasswordGrant
from frontdesk.oauth.grants.refresh_token import RefreshTokenGrant
from frontdesk.oauth.models import TokenInfo, UserRef
from frontdesk.oauth.oidc import IdTokenExtra
from frontdesk.oauth.refresh import RefreshTokenExtra
from frontdesk.oauth.request import OAuthRequest
from frontdesk.oauth.scopes import catalogue
from frontdesk.oauth.token_endpoint import TokenEndpoint
from frontdesk.oauth.tokens import NO_STORE, TokenIssuer
from frontdesk.security.keyring import Keyring
from frontdesk.security.passwords import HashingBusy, Passwords
from frontdesk.services import accounts
from frontdesk.services.throttle import Rule, Throttle
from frontdesk.settings import Settings
from frontdesk.store.oauth_storage import SqlStorage
from frontdesk.web.hosts import Site

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_FIELDS = 1000  # as Starlette's form parser


class ThrottleLimiter:
    """:class:`frontdesk.oauth.storage.Limiter` on top of the shared :class:`Throttle`."""

    def __init__(self, throttle: Throttle, rules: dict[str, Rule]) -> None:
        self.throttle = throttle
        self.rules = rules

    def _checks(self, keys: dict[str, str]) -> list[tuple[Rule, str]]:
        return [(rule, keys.get(name, "")) for name, rule in self.rules.items()]

    async def retry_after(self, keys: dict[str, str]) -> int | None:
        return await self.throttle.retry_after(self._checks(keys))

    async def failed(self, keys: dict[str, str]) -> None:
        await self.throttle.hit(self._checks(keys))


class DbPasswordAuth:
    """:class:`frontdesk.oauth.storage.PasswordAuthenticator` over the accounts service."""

    def __init__(self, db: AsyncSession, passwords: Passwords) -> None:
        self.db = db
        self.passwords = passwords

    async def __call__(self, email: str, password: str) -> UserRef | None:
        try:
            user = await accounts.check_credentials(self.db, self.passwords, email=email, password=password)
        except HashingBusy as exc:
            raise TemporarilyUnavailable("the server is busy; retry shortly", retry_after=1) from exc
        return UserRef(id=user.id, email=user.email, name=user.name) if user else None


@dataclass
class OAuthServer:
    config: OAuthConfig
    authorization: AuthorizationEndpoint
    token: TokenEndpoint
    bearer: BearerValidator

    @classmethod
    def from_settings(cls, settings: Settings, throttle: Throttle) -> OAuthServer:
        config = OAuthConfig(
            code_ttl_seconds=settings.code_ttl_seconds,
            strict=settings.strict_mode,
            password_grant_enabled=settings.password_grant,
        )
        password_rules = {
            "account": Rule.parse("password-grant-account", settings.login_failures_per_account),
            "client": Rule.parse("password-grant-client", "200/minute"),
            "address": Rule.parse("password-grant-address", settings.login_failures_per_address),
        }
        client_rules = {
            "client": Rule.parse("client-auth-client", "20/minute"),
            "address": Rule.parse("client-auth-address", "60/minute"),
        }
        code_rules = {  # failed code redemptions (refresh tokens are not limited this way)
            "client": Rule.parse("code-failures-client", "30/minute"),
            "address": Rule.parse("code-failures-address", "30/minute"),
        }
        return cls(
            config=config,
            authorization=AuthorizationEndpoint(config),
            token=TokenEndpoint(
                config,
                [AuthorizationCodeGrant, PasswordGrant, RefreshTokenGrant],
                issuer=TokenIssuer(config, [RefreshTokenExtra(), IdTokenExtra()]),
                password_limiter=ThrottleLimiter(throttle, password_rules),
                client_limiter=ThrottleLimiter(throttle, client_rules),
                code_limiter=ThrottleLimiter(throttle, code_rules),
            ),
            bearer=BearerValidator(catalogue(), config.clock),
        )


def storage_for(db: AsyncSession, keyring: Keyring) -> SqlStorage:
    return SqlStorage(db, keyring)


async def form_pairs(request: Request) -> tuple[tuple[str, str], ...]:
    """The form parameters of a protocol request (RFC 6749 appendix B encoding)."""
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if request.method in ("GET", "HEAD") or content_type not in FORM_TYPES:
        return ()
    if content_type == FORM_TYPES[0]:
        # The standard library's parser: several times cheaper than the streaming multipart
        # parser behind ``request.form()`` for the few short fields of a token request.
        try:
            text = (await request.body()).decode("utf-8")
            return tuple(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRequest("the request body is not a valid form") from exc
    try:
        form = await request.form()
    except (StarletteHTTPException, ValueError) as exc:  # a malformed multipart body
        raise InvalidRequest("the request body is not a valid form") from exc
    return tuple((k, v) for k, v in form.multi_items() if isinstance(v, str))


def oauth_request(
    request: Request,
    *,
    form: tuple[tuple[str, str], ...] = (),
    query: tuple[tuple[str, str], ...] | None = None,
) -> OAuthRequest:
    site: Site = request.state.site
    return OAuthRequest(
        method=request.method,
        query=tuple(request.query_params.multi_items()) if query is None else query,
        form=form,
        headers={k.lower(): v for k, v in request.headers.items()},
        issuer=site.origin,
        space_id=site.space.id if site.space else None,
        client_ip=request.state.client_ip,
    )


def token_error_response(exc: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2: JSON error, the token endpoint's no-store headers, Basic challenge."""
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidClient) and exc.used_basic:
        headers["WWW-Authenticate"] = 'Basic realm="frontdesk", charset="UTF-8"'
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


def bearer_error_response(exc: OAuthError, realm: str) -> JSONResponse:
    """RFC 6750 §3: a challenge matching the error, and the error as JSON too."""
    headers = {"Cache-Control": "no-store"}
    if exc.status_code in (401, 403) or isinstance(exc, MissingToken):
        headers["WWW-Authenticate"] = challenge(realm, exc)
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


__all__ = ["DbPasswordAuth", "OAuthServer", "TokenInfo", "oauth_request", "storage_for"]
