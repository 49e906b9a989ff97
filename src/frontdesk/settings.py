"""Configuration from ``FRONTDESK_*`` environment variables (and an optional ``.env`` file).

Every absolute URL Frontdesk emits is built from :attr:`Settings.public_url`, never from a
request's ``Host`` header.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse as parse_limit
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./frontdesk.db"


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says what to change."""


def normalize_database_url(url: str) -> str:
    """Pick the async driver for plain ``postgresql://`` and ``sqlite://`` URLs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"FRONTDESK_DATABASE_URL is not a URL: {url!r}")
    base = scheme.split("+", 1)[0].lower()
    if base in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ConfigurationError(f"unsupported database {scheme!r}: use sqlite:/// or postgresql://")


def parse_dns_server(value: str) -> tuple[str, int]:
    """``FRONTDESK_DNS_RESOLVER``: an IP address, ``IPv4:port`` or ``[IPv6]:port`` (port 53
    unless given). Raises ValueError saying what is wrong."""
    host, port_text = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(
                f"FRONTDESK_DNS_RESOLVER: write an IPv6 address as [address]:port, not {value!r}"
            )
        port_text = rest[1:]
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"FRONTDESK_DNS_RESOLVER: {host!r} is not an IP address (use the DNS server's address, "
            "optionally with :port)"
        ) from None
    if not port_text:
        return str(address), 53
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise ValueError(
            f"FRONTDESK_DNS_RESOLVER: the port must be a number from 1 to 65535, not {port_text!r}"
        )
    return str(address), int(port_text)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDESK_", env_file=".env", extra="ignore", frozen=True)

    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    public_url: str = "http://localhost:8000"
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    # Addresses (IPs or CIDR networks) whose X-Forwarded-For/-Proto/-Host headers are trusted.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_url: str | None = None
    # Database connections per worker (and as many again in bursts). With PostgreSQL keep
    # workers x 2 x db_pool_size below the server's max_connections.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # SQLite runs on the event loop's thread (see store/sqlite_inline.py); true: aiosqlite's thread.
    sqlite_thread: bool = False
    # How a write reaches the other processes' caches (store/invalidation.py): auto picks
    # postgres (LISTEN/NOTIFY) on PostgreSQL, else redis when FRONTDESK_REDIS_URL is set, else
    # poll (the cache_events table, SQLite).
    cache_invalidation: Literal["auto", "postgres", "redis", "poll"] = "auto"
    # Cached values expire after this many seconds even without an invalidation.
    cache_ttl_seconds: float = Field(default=300, gt=0, le=86400)
    # Entries each of a worker's caches holds at most (tokens, apps, ...; store/caching.py), the
    # least recently used dropped first: with the default, a worker's token cache takes up to
    # some 90 MiB once 100,000 tokens were used within the TTL (docs/performance.md, "Memory").
    cache_max_entries: int = Field(default=100_000, ge=1, le=10_000_000)

    # Sessions
    session_days: int = 14
    # A MaxMind .mmdb file (GeoLite2 City or Country) for the sessions page's places; read
    # with the optional ``maxminddb`` package (the ``geoip`` extra). Empty: places are unknown.
    geoip_db: str = ""

    # Password hashing: Argon2id, OWASP baseline (m=19 MiB, t=2, p=1).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    # How many hashes may run at once; the rest wait (bounded) so logins cannot starve the API.
    hash_concurrency: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1))
    hash_queue_limit: int = 64
    # Scheduling priority of hashing threads (0..19): the API keeps priority over a login flood.
    hash_nice: int = Field(default=10, ge=0, le=19)
    # Devise's `config.pepper`, for bcrypt hashes imported from a Devise app that set one
    # (security/passwords.py; docs/integrating.md "Importing users"). Empty: no pepper.
    import_bcrypt_pepper: SecretStr = SecretStr("")

    # Throttles on failures, checked before any expensive work (`limits` syntax); every rule
    # the server applies is one of these (see composition.py and services/throttle.py).
    # Wrong passwords (login form, password confirmation, password grant): per account and
    # client address, each attempt counted before hashing and the count cleared by the right
    # password; per address across accounts; and a slower ceiling per account which, once
    # reached, holds back only the addresses that have failed for that account themselves.
    login_failures_per_account_address: str = "10/15 minutes"
    login_failures_per_address: str = "50/15 minutes"
    login_failures_per_account: str = "100/day"
    # Wrong second-factor codes (authenticator app or recovery code) at login and when turning
    # two-step login on or off: per account and address (each attempt counted before the
    # check), per address across accounts, and a ceiling per account (docs/guide.md).
    second_factor_failures_per_account_address: str = "5/15 minutes"
    second_factor_failures_per_address: str = "50/15 minutes"
    second_factor_failures_per_account: str = "30/day"
    # The name authenticator apps show beside the account (the otpauth URI's issuer).
    totp_issuer: str = Field(default="Frontdesk", min_length=1, max_length=60)
    # Wrong passwords at the password grant, per client.
    password_grant_failures_per_client: str = "200/minute"
    # Failed client authentication (token, revocation, introspection), per client and address,
    # and per address across clients.
    client_auth_failures_per_client_address: str = "20/minute"
    client_auth_failures_per_address: str = "60/minute"
    # Failed authorization code redemptions (guessed codes), per client and address, and per
    # address across clients.
    code_failures_per_client_address: str = "30/minute"
    code_failures_per_address: str = "30/minute"
    # Wrong user codes entered at /device (RFC 8628 §5.1: 34 bits, so guessing must be slow):
    # per browser session and address, and per address across sessions.
    user_code_failures_per_session: str = "10/15 minutes"
    user_code_failures_per_address: str = "30/hour"
    # Sign-ups per client address; "0" or empty switches the limit off.
    signup_rate_limit: str = "10/hour"
    # Passkey checks started (each stores a challenge for 5 minutes) per client address.
    passkey_challenge_rate_per_address: str = "30/minute"
    # Device authorizations (RFC 8628 §3.1; each stores a device code and a user code for
    # FRONTDESK_DEVICE_CODE_TTL_SECONDS) started per client address.
    device_authorization_rate_per_address: str = "30/minute"

    # OAuth
    code_ttl_seconds: int = 60
    # The device authorization grant (RFC 8628 §3.2): how long a device code and its user code
    # live, and the seconds a device waits between polls (grown by 5 s with each slow_down).
    device_code_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    device_poll_interval_seconds: int = Field(default=5, ge=1, le=60)
    # The password grant ("app flow", docs/decisions.md §4): on by default, off for every app here.
    password_grant: bool = True
    # Retired signing keys stay in the JWKS this long, so earlier signatures still verify.
    signing_key_retention_days: float = Field(default=30, ge=0)
    strict_mode: bool = False
    # RFC 7591 dynamic registration of public PKCE clients at POST /oauth/register, and how
    # many registrations one client address may make (`limits` syntax).
    dynamic_registration: bool = True
    dynamic_registration_rate_limit: str = "10/hour"
    # API requests per user and app (Cobot: 60/minute); "0" or empty switches the limit off.
    api_rate_limit: str = "60/minute"
    # Admin API requests per administrative app (web/admin_auth.py); "0" or empty: no limit.
    admin_api_rate_limit: str = "600/minute"
    # The scope catalogue (oauth/scopes.py, docs/reference.md "Scopes"): a TOML file of the
    # platform's scopes; unset: the built-in scopes and Cobot's published ones.
    scopes_file: Path | None = None
    # RFC 8707: resources besides this deployment's hosts that apps may request tokens for
    # (the platform's own APIs on origins of their own), comma-separated absolute URIs.
    extra_resources: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Custom domain verification (services/domains.py): the DNS server asked for the TXT
    # record, as "host" or "host:port" (empty: the system's resolver), and how long a check may take.
    dns_resolver: str | None = None
    dns_timeout_seconds: float = Field(default=5, gt=0, le=60)

    # Request size limits (web/limits.py; deploy/ sets the same at the proxy). A body over its
    # cap is answered 413 before or while it is read, never buffered past the cap: protocol
    # and API endpoints (/oauth/…, /api/…, everything that is no page) take max_body_bytes,
    # HTML page forms max_page_body_bytes. Request line plus headers over max_header_bytes: 431.
    max_body_bytes: int = Field(default=65536, ge=1024, le=64 * 1024 * 1024)
    max_page_body_bytes: int = Field(default=262144, ge=1024, le=64 * 1024 * 1024)
    max_header_bytes: int = Field(default=16384, ge=4096, le=1024 * 1024)

    # On SIGTERM, `frontdesk serve` stops accepting connections and lets requests in progress
    # finish for at most this long, then closes what is left and exits (web/server.py).
    shutdown_timeout_seconds: float = Field(default=10, gt=0, le=600)

    # Prometheus metrics (docs/metrics.md): /metrics on the main host is open in development;
    # in production it needs "Authorization: Bearer <metrics_token>" (401 without it). With
    # metrics_address ("127.0.0.1:9100") `frontdesk serve` also serves them there, unguarded.
    metrics_token: SecretStr | None = None
    metrics_address: str | None = None

    # Observability (docs/deployment.md, "Probes, logs, request ids and traces"): log lines as
    # uvicorn's text or one JSON object per line (logs.py); OpenTelemetry traces when tracing
    # is true, exported as the standard OTEL_* variables say (tracing.py); how long
    # /readyz waits for each of its checks before it answers 503 (services/readiness.py).
    log_format: Literal["text", "json"] = "text"
    tracing: bool = False
    readyz_timeout_seconds: float = Field(default=2, gt=0, le=30)

    # Webhooks (docs/integrating.md, "Webhooks"): the delivery worker runs in every server
    # process; destinations on private, loopback and link-local addresses are refused (after
    # DNS resolution, at send time) unless allow_private (development only); plain http only
    # with allow_private or in development. A message is retried with exponential backoff
    # (retry_base_seconds doubling, at most an hour apart) for retry_hours; an endpoint that
    # has failed for disable_after_days is disabled.
    webhooks_worker: bool = True
    webhooks_allow_private: bool = False
    webhooks_timeout_seconds: float = Field(default=10, gt=0, le=60)
    webhooks_retry_base_seconds: float = Field(default=5, gt=0, le=3600)
    webhooks_retry_hours: float = Field(default=28, gt=0, le=24 * 30)
    webhooks_disable_after_days: float = Field(default=5, gt=0, le=365)
    webhooks_poll_seconds: float = Field(default=1, gt=0, le=60)

    # private_key_jwt (docs/integrating.md, "Key-based client authentication"): an app's
    # jwks_uri is fetched with the address checks of webhooks (webhooks_allow_private allows
    # private addresses and plain http; http is also allowed in development), within
    # client_jwks_timeout_seconds, at most 64 KiB, and kept client_jwks_cache_seconds per
    # server process (an unknown key id fetches it again, at most once a minute).
    client_jwks_cache_seconds: int = Field(default=300, ge=0, le=86400)
    client_jwks_timeout_seconds: float = Field(default=5, gt=0, le=30)

    # Email (docs/guide.md, "Accounts"): messages go through the email outbox and are sent by
    # a worker in every server process (email_worker.py). With no smtp_host each message is
    # written to email_outbox_dir as an .eml file and its link printed (development); unset
    # directory: "outbox" next to the SQLite database, else ./outbox.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # starttls (port 587), tls (implicit TLS, port 465) or none (a relay on a private network).
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=15, gt=0, le=120)
    email_from: str = "Frontdesk <frontdesk@localhost>"
    # The languages offered (pages and emails), comma-separated; English is always one. Each
    # other one needs src/frontdesk/locale/<code>/LC_MESSAGES/messages.po (docs/guide.md).
    languages: str = Field(default="en,de", pattern=r"^[A-Za-z_, -]{0,200}$")
    email_outbox_dir: Path | None = None
    email_worker: bool = True
    email_poll_seconds: float = Field(default=1, gt=0, le=60)
    # A failed send is retried with exponential backoff (doubling from retry_base_seconds, at
    # most an hour apart) for retry_hours, then given up and logged.
    email_retry_base_seconds: float = Field(default=10, gt=0, le=3600)
    email_retry_hours: float = Field(default=24, gt=0, le=24 * 7)
    # Accounts: unverified accounts may log in; with this, authorization is refused until the
    # address is verified.
    require_verified_email: bool = False
    # RFC 9126 §6: every app must push its authorization requests to /oauth/par (apps can
    # require it one by one with --par-required).
    require_par: bool = False
    # Every app runs under the FAPI 2.0 Security Profile (docs/flows.md; one app: --fapi2):
    # PAR, PKCE S256, DPoP and private_key_jwt required, no password grant, 60 s codes.
    fapi2: bool = False
    # DPoP (RFC 9449, docs/integrating.md "DPoP"): proofs must carry a server nonce (§8, §9);
    # a proof's iat may be this far from the server's time (§4.3).
    dpop_nonce: bool = False
    dpop_proof_max_age_seconds: int = Field(default=300, ge=10, le=3600)
    verification_link_hours: float = Field(default=48, gt=0, le=24 * 30)
    password_reset_link_minutes: float = Field(default=60, gt=0, le=24 * 60)
    # Emails asked for (`limits` syntax): password resets per client address and per entered
    # address; verification emails per account.
    password_reset_rate_per_address: str = "10/hour"
    password_reset_rate_per_account: str = "3/hour"
    verification_email_rate_per_account: str = "3/hour"
    # Changing the address: the confirmation link sent to the new one works once, this long;
    # requests per account. Invitations to a space: how long their link works, and how many a
    # space may send.
    email_change_link_hours: float = Field(default=24, gt=0, le=24 * 30)
    email_change_rate_per_account: str = "5/hour"
    invitation_days: float = Field(default=7, gt=0, le=90)
    invitation_rate_per_space: str = "50/day"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an IP address or network: {item!r}") from exc
        return value

    @field_validator("extra_resources", mode="before")
    @classmethod
    def _split_resources(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("extra_resources")
    @classmethod
    def _check_resources(cls, value: list[str]) -> list[str]:
        from frontdesk.oauth.resource import InvalidTarget, canonical_resource

        try:
            return [canonical_resource(item) for item in value]
        except InvalidTarget as exc:
            raise ValueError(f"FRONTDESK_EXTRA_RESOURCES: {exc.description}") from exc

    @field_validator("dns_resolver")
    @classmethod
    def _dns_resolver(cls, value: str | None) -> str | None:
        # Parsed now, so a bad value is one clear error at startup, not a failed domain check.
        value = (value or "").strip()
        if value:
            parse_dns_server(value)
        return value or None

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("FRONTDESK_PUBLIC_URL must be an absolute http(s) URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("FRONTDESK_PUBLIC_URL must not have a path, query or fragment")
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @field_validator(
        "dynamic_registration_rate_limit",
        "api_rate_limit",
        "admin_api_rate_limit",
        "signup_rate_limit",
        "passkey_challenge_rate_per_address",
        "device_authorization_rate_per_address",
        "login_failures_per_account_address",
        "login_failures_per_address",
        "login_failures_per_account",
        "second_factor_failures_per_account_address",
        "second_factor_failures_per_address",
        "second_factor_failures_per_account",
        "password_grant_failures_per_client",
        "client_auth_failures_per_client_address",
        "client_auth_failures_per_address",
        "code_failures_per_client_address",
        "code_failures_per_address",
        "user_code_failures_per_session",
        "user_code_failures_per_address",
        "password_reset_rate_per_address",
        "password_reset_rate_per_account",
        "verification_email_rate_per_account",
        "email_change_rate_per_account",
        "invitation_rate_per_space",
    )
    @classmethod
    def _rate_limit(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if info.field_name in ("api_rate_limit", "admin_api_rate_limit", "signup_rate_limit") and value in (
            "",
            "0",
        ):
            return ""
        try:
            parse_limit(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '60/minute': {value!r}") from exc
        return value

    @field_validator("scopes_file")
    @classmethod
    def _scopes_file(cls, value: Path | None) -> Path | None:
        # Read now, so a bad file is one clear error at startup and in every CLI command.
        from frontdesk.oauth.scopes import CatalogueError, load_catalogue

        if value is not None:
            try:
                load_catalogue(value)
            except CatalogueError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("code_ttl_seconds")
    @classmethod
    def _code_ttl(cls, value: int) -> int:
        if not 1 <= value <= 600:
            raise ValueError("code lifetime must be between 1 and 600 seconds (RFC 6749 §4.1.2)")
        return value

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.env == "production" and self.secret_key is None and self.secret_key_file is None:
            raise ValueError("FRONTDESK_SECRET_KEY is required when FRONTDESK_ENV=production")
        return self

    # ---- derived values -------------------------------------------------------------------

    @cached_property
    def scheme(self) -> str:
        return urlsplit(self.public_url).scheme

    @cached_property
    def https(self) -> bool:
        return self.scheme == "https"

    @cached_property
    def public_host(self) -> str:
        host = urlsplit(self.public_url).hostname
        assert host is not None
        return host.rstrip(".")

    @cached_property
    def port_suffix(self) -> str:
        """``:8000`` when the public URL names a port, else empty."""
        port = urlsplit(self.public_url).port
        return f":{port}" if port else ""

    @cached_property
    def base_domain(self) -> str:
        """The domain spaces hang under: the public host without a leading ``www.``."""
        host = self.public_host
        return host[4:] if host.startswith("www.") else host

    @cached_property
    def main_hosts(self) -> frozenset[str]:
        hosts = {self.public_host, self.base_domain, f"www.{self.base_domain}"}
        if self.env == "development":
            hosts |= {"127.0.0.1", "::1", "localhost"}
        return frozenset(hosts)

    @cached_property
    def dns_server(self) -> tuple[str, int] | None:
        """The DNS server for custom domain checks (address, port); None: the system's resolver."""
        return parse_dns_server(self.dns_resolver) if self.dns_resolver else None

    @cached_property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def space_url(self, subdomain: str) -> str:
        return f"{self.scheme}://{subdomain}.{self.base_domain}{self.port_suffix}"

    def custom_domain_url(self, domain: str) -> str:
        return f"{self.scheme}://{domain}{self.port_suffix}"

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1] if ":///" in self.database_url else ""
        if not path or path.startswith(":memory:"):
            return None
        return Path(path.split("?", 1)[0])

    def resolve_secret_key(self) -> bytes:
        """The server secret: from the environment, a configured file, or (development) a
        file created once next to the database so restarts keep sessions valid."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value().encode()
            if len(value) < 32:
                raise ConfigurationError("FRONTDESK_SECRET_KEY must be at least 32 characters")
            return value
        path = self.secret_key_file or self._default_secret_path()
        if path.exists():
            value = path.read_bytes().strip()
            if len(value) < 32:
                raise ConfigurationError(f"secret key file {path} holds fewer than 32 characters")
            return value
        if self.env == "production":
            raise ConfigurationError(f"secret key file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48).encode()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(value + b"\n")
        try:
            os.link(tmp, path)  # atomic: fails if another process created the file first
        except FileExistsError:
            value = path.read_bytes().strip()
        finally:
            tmp.unlink()
        return value

    def outbox_dir(self) -> Path:
        """Where the development email outbox writes (no SMTP host): the configured folder,
        else "outbox" next to the SQLite database, else ./outbox."""
        if self.email_outbox_dir is not None:
            return self.email_outbox_dir
        db_path = self.sqlite_path()
        return db_path.with_name("outbox") if db_path is not None else Path("outbox")

    def _default_secret_path(self) -> Path:
        db_path = self.sqlite_path()
        if db_path is not None:
            return db_path.with_name(db_path.name + ".secret")
        return Path(".frontdesk-secret")

    # ---- the public URL of the server on this database (development) ----------------------

    def served_url_path(self) -> Path | None:
        """Where ``frontdesk serve`` notes the public URL it serves at: next to the SQLite
        database, like its secret file (none for PostgreSQL or an in-memory database)."""
        db_path = self.sqlite_path()
        return db_path.with_name(db_path.name + ".url") if db_path is not None else None

    def note_served_url(self) -> None:
        """Note :attr:`public_url` for the ``frontdesk`` commands run on the same database
        (:meth:`following_the_server`). The note stays when the server stops: it names the
        server last started on this database, and the next ``frontdesk serve`` replaces it."""
        path = self.served_url_path()
        if path is None:
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.public_url + "\n")
        os.replace(tmp, path)  # atomic: a reader sees the old note or the new one

    def following_the_server(self) -> Settings:
        """These settings with the public URL noted by the server last started on this SQLite
        database, unless FRONTDESK_PUBLIC_URL is set (it always wins). Without a readable,
        valid note they are returned unchanged."""
        path = self.served_url_path()
        if path is None or "public_url" in self.model_fields_set:
            return self
        try:
            noted = path.read_text().strip()
            return type(self)(**{**self.model_dump(), "public_url": noted})
        except (OSError, UnicodeDecodeError, ValueError):
            return self


def get_settings() -> Settings:
    return Settings()
