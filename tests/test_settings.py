from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from frontdesk.cli import app
from frontdesk.settings import ConfigurationError, Settings, normalize_database_url
from tests.support import make_settings


def test_database_urls_get_async_drivers() -> None:
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    with pytest.raises(ConfigurationError):
        normalize_database_url("mysql://h/db")


def test_defaults_serve_localhost_with_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("FRONTDESK_DATABASE_URL", "FRONTDESK_PUBLIC_URL", "FRONTDESK_ENV"):
        monkeypatch.delenv(key, raising=False)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.public_url == "http://localhost:8000"
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s.space_url("co-up") == "http://co-up.localhost:8000"
    assert {"localhost", "www.localhost", "127.0.0.1"} <= s.main_hosts


def test_environment_variables_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_PUBLIC_URL", "https://www.Example.COM/")
    monkeypatch.setenv("FRONTDESK_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    s = Settings(_env_file=None, secret_key="x" * 40)  # type: ignore[call-arg]
    assert s.public_url == "https://www.example.com"
    assert s.base_domain == "example.com"
    assert s.space_url("co-up") == "https://co-up.example.com"
    assert s.custom_domain_url("members.co-up.test") == "https://members.co-up.test"
    assert s.trusted_proxies == ["10.0.0.1", "192.168.0.0/16"]
    assert s.https


@pytest.mark.parametrize("bad", ["localhost:8000", "ftp://x", "http://x/path", "http://x/?q=1"])
def test_public_url_must_be_a_bare_origin(bad: str) -> None:
    with pytest.raises(ValidationError):
        make_settings("sqlite:///x.db", public_url=bad)


def test_bad_proxy_address_is_refused() -> None:
    with pytest.raises(ValidationError):
        make_settings("sqlite:///x.db", trusted_proxies=["not-an-ip"])


def test_code_lifetime_is_capped_at_ten_minutes() -> None:
    with pytest.raises(ValidationError):
        make_settings("sqlite:///x.db", code_ttl_seconds=601)


@pytest.mark.parametrize("bad", [0, -1, 10_000_001])
def test_cache_entries_must_be_between_one_and_ten_million(bad: int) -> None:
    with pytest.raises(ValidationError, match="cache_max_entries"):
        make_settings("sqlite:///x.db", cache_max_entries=bad)


def test_production_requires_a_secret_key() -> None:
    with pytest.raises(ValidationError, match="FRONTDESK_SECRET_KEY"):
        make_settings("sqlite:///x.db", env="production", secret_key=None)


def test_development_secret_is_created_once_next_to_the_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(f"sqlite:///{tmp_path}/data/fd.db", secret_key=None)
    first = s.resolve_secret_key()
    path = tmp_path / "data" / "fd.db.secret"
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert make_settings(f"sqlite:///{tmp_path}/data/fd.db", secret_key=None).resolve_secret_key() == first
    assert len(first) >= 32


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        make_settings("sqlite:///x.db", secret_key="short").resolve_secret_key()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("127.0.0.1:dns", "port must be a number"),
        ("127.0.0.1:70000", "port must be a number"),
        ("dns.example.com", "is not an IP address"),
        ("[::1]x", "[address]:port"),
    ],
)
def test_a_bad_dns_resolver_is_refused_at_startup(value: str, problem: str) -> None:
    with pytest.raises(ValidationError, match="FRONTDESK_DNS_RESOLVER") as caught:
        make_settings("sqlite:///x.db", dns_resolver=value)
    assert problem in str(caught.value)


def test_a_bad_dns_resolver_stops_a_command_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_DNS_RESOLVER", "127.0.0.1:fifty-three")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: bad configuration")
    assert "FRONTDESK_DNS_RESOLVER" in result.stderr


@pytest.mark.parametrize(
    ("value", "server"),
    [
        ("", None),
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_dns_resolver_is_parsed_once(value: str, server: tuple[str, int] | None) -> None:
    assert make_settings("sqlite:///x.db", dns_resolver=value).dns_server == server
