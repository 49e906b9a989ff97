"""The deploy recipes (deploy/) checked with the real tools an operator uses, from Debian:
``nginx -t`` with Debian's own nginx.conf, ``caddy validate``, ``systemd-analyze verify``, the
environment file read by systemd's own parser and by Docker's ``--env-file`` rules, and nginx and
Caddy run in front of Frontdesk to see the request caps and what reaches their logs.

A missing tool skips its tests with how to install it, unless ``FRONTDESK_REQUIRE_DEPLOY_TOOLS=1``
(set by ``.ci/run``, which installs them) turns the skip into a failure.
"""

from __future__ import annotations

import datetime
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from frontdesk.settings import Settings
from tests.e2e.conftest import FRONTDESK, free_port, server_env, start, wait_ready
from tests.support import stop_process

DEPLOY = Path(__file__).parents[2] / "deploy"
ENV_FILE = DEPLOY / "frontdesk.env.example"
SYSTEMD_ENV_GENERATOR = Path(
    "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator"
)
HOST = "frontdesk.example.com"
# What the query strings of the log tests carry; none of it may reach a log.
SECRETS = {
    "access_token": "at-5ecret-0001",
    "refresh_token": "rt-5ecret-0002",
    "token": "tk-5ecret-0003",
    "code": "cd-5ecret-0004",
    "code_verifier": "cv-5ecret-0005",
    "password": "pw-5ecret-0006",
    "client_secret": "cs-5ecret-0007",
}
SECRET_QUERY = "&".join(f"{k}={v}" for k, v in SECRETS.items())


def tool(name: str, package: str) -> str:
    """The path of a Debian tool, or skip (fail when required) saying how to install it."""
    found = shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if found is None:
        message = (
            f"deploy recipe tests skipped: {name} not found; install Debian's {package} "
            f"(apt-get install -y {package}) or run .ci/run"
        )
        if os.environ.get("FRONTDESK_REQUIRE_DEPLOY_TOOLS") == "1":
            pytest.fail(message.replace("skipped", "required"), pytrace=False)
        pytest.skip(message)
    return found


def substitute(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace ``old`` exactly ``count`` times, so a changed recipe breaks the test loudly."""
    assert text.count(old) == count, f"expected {count} x {old!r} in the recipe"
    return text.replace(old, new)


def assert_no_secrets(log: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in log]
    assert leaked == [], f"the log holds {leaked}:\n{log}"


# ---- the environment file -----------------------------------------------------------------------


def docker_env_file(text: str) -> dict[str, str]:
    """Docker's ``--env-file`` rules (docker CLI, opts/envfile.go): leading whitespace trimmed,
    empty lines and lines starting with ``#`` skipped, the name is what precedes the first ``=``
    and the value is everything after it, quotes and ``#`` included."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"docker would read {name!r} from its own environment: {raw!r}"
        assert name == name.strip() and " " not in name, f"docker refuses the name in {raw!r}"
        values[name] = value
    return values


def systemd_env_file(path: Path, tmp_path: Path) -> dict[str, str]:
    """The values systemd's own environment-file parser (env-file.c, shared by
    ``EnvironmentFile=`` and environment.d) reads from ``path``, through the environment.d
    generator, which prints the result."""
    generator = tool(str(SYSTEMD_ENV_GENERATOR), "systemd")
    config = tmp_path / "config"
    (config / "environment.d").mkdir(parents=True)
    shutil.copy(path, config / "environment.d" / "frontdesk.conf")
    out = subprocess.run(
        [generator], env={"XDG_CONFIG_HOME": str(config)}, capture_output=True, text=True, check=True
    ).stdout
    values: dict[str, str] = {}
    for line in out.splitlines():
        name, _, value = shlex.split(line)[0].partition("=")
        values[name] = value
    return values


def settings_from(values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("FRONTDESK_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def assert_intended_settings(values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = {n for n in values if n.removeprefix("FRONTDESK_").lower() not in Settings.model_fields}
    assert unknown == set(), f"settings Frontdesk does not know (typos are ignored silently): {unknown}"
    cfg = settings_from(values, monkeypatch)
    assert cfg.env == "production"
    assert cfg.public_url == "https://frontdesk.example.com"
    assert cfg.secret_key_file == Path("/etc/frontdesk/secret")
    assert cfg.database_url == "postgresql+asyncpg://frontdesk@db.internal:5432/frontdesk"
    assert cfg.redis_url == "redis://redis.internal:6379/0"
    assert cfg.trusted_proxies == ["127.0.0.1", "::1"]
    assert cfg.db_pool_size == 10
    assert cfg.max_body_bytes == 65536  # type: ignore[attr-defined]
    assert cfg.max_page_body_bytes == 262144  # type: ignore[attr-defined]
    assert cfg.max_header_bytes == 16384  # type: ignore[attr-defined]


def test_env_file_as_docker_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    values = docker_env_file(ENV_FILE.read_text())
    assert_intended_settings(values, monkeypatch)


def test_env_file_as_systemd_reads_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # environment.d also expands $VARS, which EnvironmentFile= does not: keep them out.
    assert "$" not in ENV_FILE.read_text()
    values = {k: v for k, v in systemd_env_file(ENV_FILE, tmp_path).items() if k.startswith("FRONTDESK_")}
    assert values == docker_env_file(ENV_FILE.read_text())
    assert_intended_settings(values, monkeypatch)


# ---- systemd unit -------------------------------------------------------------------------------


def frontdesk_stub(tmp_path: Path) -> Path:
    """systemd-analyze verify wants the commands to exist: units are checked with the venv's
    path pointing at this stub."""
    stub = tmp_path / "frontdesk"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    return stub


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    stub = frontdesk_stub(tmp_path)
    unit = tmp_path / "frontdesk.service"
    text = (DEPLOY / "frontdesk.service").read_text()
    unit.write_text(substitute(text, "/srv/frontdesk/.venv/bin/frontdesk", str(stub), count=2))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_prune_timer_verifies(tmp_path: Path) -> None:
    """The daily ``frontdesk db prune`` (docs/operations.md, "Pruning"): the timer and the
    one-shot service it starts."""
    analyze = tool("systemd-analyze", "systemd")
    stub = frontdesk_stub(tmp_path)
    service = tmp_path / "frontdesk-prune.service"
    text = (DEPLOY / "frontdesk-prune.service").read_text()
    assert "ExecStart=/srv/frontdesk/.venv/bin/frontdesk db prune\n" in text
    service.write_text(substitute(text, "/srv/frontdesk/.venv/bin/frontdesk", str(stub)))
    timer = tmp_path / "frontdesk-prune.timer"
    timer.write_text((DEPLOY / "frontdesk-prune.timer").read_text())
    result = subprocess.run([analyze, "verify", str(timer), str(service)], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


# ---- nginx --------------------------------------------------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    chain, private = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return chain, private


def nginx_site(tmp_path: Path, *, upstream: int = 8000, https: int | None = None, http: int = 0) -> Path:
    """deploy/nginx.conf as an operator installs it, with only the machine's paths (and, to run
    it, the ports) changed."""
    chain, key = self_signed(tmp_path)
    text = (DEPLOY / "nginx.conf").read_text()
    text = substitute(text, "/etc/ssl/frontdesk/fullchain.pem", str(chain))
    text = substitute(text, "/etc/ssl/frontdesk/privkey.pem", str(key))
    text = substitute(text, "/var/log/nginx/", f"{tmp_path}/", count=4)
    if https is not None:
        text = substitute(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
        text = substitute(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
        text = substitute(text, "listen 80;", f"listen 127.0.0.1:{http};")
        text = substitute(text, "    listen [::]:443 ssl http2;\n", "")
        text = substitute(text, "    listen [::]:80;\n", "")
    site = tmp_path / "frontdesk"
    site.write_text(text)
    return site


def debian_nginx_conf(tmp_path: Path, sites: list[Path]) -> Path:
    """Debian's own /etc/nginx/nginx.conf, including ``sites`` where it includes sites-enabled,
    with its log and pid files in ``tmp_path``."""
    shipped = Path("/etc/nginx/nginx.conf")
    if not shipped.exists():
        pytest.skip("no /etc/nginx/nginx.conf: install Debian's nginx (apt-get install -y nginx)")
    text = shipped.read_text()
    includes = "".join(f"include {site};\n" for site in sites)
    text = substitute(text, "include /etc/nginx/sites-enabled/*;", includes)
    text = text.replace("/var/log/nginx/", f"{tmp_path}/").replace("/run/nginx.pid", f"{tmp_path}/nginx.pid")
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    return conf


def test_nginx_site_passes_nginx_t_in_debians_nginx_conf(tmp_path: Path) -> None:
    nginx = tool("nginx", "nginx")
    # Next to Debian's default site, as in /etc/nginx/sites-enabled after installing the package.
    sites = [nginx_site(tmp_path), *sorted(Path("/etc/nginx/sites-enabled").glob("*"))]
    result = subprocess.run(
        [nginx, "-t", "-c", str(debian_nginx_conf(tmp_path, sites))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


@pytest.fixture
def nginx_in_front(tmp_path: Path) -> Iterator[tuple[int, Path, int]]:
    """nginx with the recipe in Debian's nginx.conf, in front of a port where nothing listens:
    what nginx lets through gets 502, what it stops gets its own answer."""
    nginx = tool("nginx", "nginx")
    https, upstream = free_port(), free_port()
    site = nginx_site(tmp_path, upstream=upstream, https=https, http=free_port())
    conf = debian_nginx_conf(tmp_path, [site])
    proc = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        wait_for_port(https, proc)
        yield https, tmp_path, upstream
    finally:
        stop_process(proc)


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answers on port {port}")


def proxied(port: int, *, tls: bool) -> httpx.Client:
    scheme = "https" if tls else "http"
    return httpx.Client(base_url=f"{scheme}://127.0.0.1:{port}", headers={"host": HOST}, verify=False)


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/oauth/access_token", 64 * 1024, 502),
        ("/oauth/access_token", 64 * 1024 + 1, 413),
        ("/oauth/revoke", 100_000, 413),
        ("/api/access_tokens/x/space", 100_000, 413),
        ("/scim/v2/Users", 100_000, 413),
        ("/login", 256 * 1024, 502),
        ("/login", 256 * 1024 + 1, 413),
    ],
)
def test_nginx_caps_request_bodies(
    nginx_in_front: tuple[int, Path, int], path: str, size: int, status: int
) -> None:
    port, _, _ = nginx_in_front
    with proxied(port, tls=True) as http:
        response = http.post(path, content=b"a" * size, headers={"content-type": "application/json"})
    assert response.status_code == status


def test_nginx_caps_request_headers(nginx_in_front: tuple[int, Path, int]) -> None:
    port, _, _ = nginx_in_front
    with proxied(port, tls=True) as http:
        assert http.get("/", headers={"x-big": "a" * 15_000}).status_code == 502
        assert http.get("/", headers={"x-big": "a" * 17_000}).status_code == 400


def test_nginx_logs_no_query_strings_even_when_frontdesk_is_down(
    nginx_in_front: tuple[int, Path, int],
) -> None:
    port, logs, _ = nginx_in_front
    with proxied(port, tls=True) as http:
        response = http.get(
            f"/api/user?{SECRET_QUERY}", headers={"referer": f"https://app.example/?{SECRET_QUERY}"}
        )
    assert response.status_code == 502
    access = (logs / "frontdesk.log").read_text()
    assert '"GET /api/user" 502' in access
    assert_no_secrets(access + (logs / "frontdesk-error.log").read_text() + (logs / "error.log").read_text())


# ---- Caddy --------------------------------------------------------------------------------------


def test_caddyfile_validates() -> None:
    caddy = tool("caddy", "caddy")
    result = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stderr + result.stdout


def caddy_in_front(tmp_path: Path, upstream: int) -> tuple[subprocess.Popen[bytes], int, Path]:
    """deploy/Caddyfile on plain http at a free port (on-demand TLS needs a public name), its
    admin endpoint off, in front of ``upstream``; its logs (access and errors) go to a file."""
    caddy = tool("caddy", "caddy")
    port = free_port()
    text = (DEPLOY / "Caddyfile").read_text()
    text = substitute(text, "{\n    on_demand_tls {", "{\n    admin off\n    on_demand_tls {")
    text = substitute(text, "https:// {\n    tls {\n        on_demand\n    }\n", f"http://:{port} {{\n")
    text = substitute(text, "reverse_proxy 127.0.0.1:8000 {", f"reverse_proxy 127.0.0.1:{upstream} {{")
    config = tmp_path / "Caddyfile"
    config.write_text(text)
    log = tmp_path / "caddy.log"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(config), "--adapter", "caddyfile"], stdout=out, stderr=out, env=env
        )
    wait_for_port(port, proc)
    return proc, port, log


@pytest.fixture
def caddy_before_nothing(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    proc, port, log = caddy_in_front(tmp_path, free_port())
    try:
        yield port, log
    finally:
        stop_process(proc)


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/oauth/access_token", 64 * 1024, 502),
        ("/oauth/access_token", 64 * 1024 + 1, 413),
        ("/oauth/introspect", 100_000, 413),
        ("/api/access_tokens/x/space", 100_000, 413),
        ("/scim/v2/Users", 100_000, 413),
        ("/login", 256 * 1024, 502),
        ("/login", 256 * 1024 + 1, 413),
    ],
)
def test_caddy_caps_request_bodies(
    caddy_before_nothing: tuple[int, Path], path: str, size: int, status: int
) -> None:
    port, _ = caddy_before_nothing
    with proxied(port, tls=False) as http:
        response = http.post(path, content=b"a" * size, headers={"content-type": "application/json"})
    assert response.status_code == status


def test_caddy_caps_request_headers(caddy_before_nothing: tuple[int, Path]) -> None:
    port, _ = caddy_before_nothing
    with proxied(port, tls=False) as http:
        assert http.get("/", headers={"x-big": "a" * 15_000}).status_code == 502
        assert http.get("/", headers={"x-big": "a" * 30_000}).status_code == 431


def test_caddy_error_log_holds_no_query_strings(caddy_before_nothing: tuple[int, Path]) -> None:
    port, log = caddy_before_nothing
    with proxied(port, tls=False) as http:
        # A query Go's parser cannot decode must not slip past the filter either.
        for path in ("/api/user", "/oauth/authorize?%zz&x=%"):
            response = http.get(
                f"{path}{'&' if '?' in path else '?'}{SECRET_QUERY}",
                headers={"referer": f"https://app.example/?{SECRET_QUERY}"},
            )
            assert response.status_code == 502
    text = log.read_text()
    assert '"logger":"http.log.error' in text and '"uri":"/oauth/authorize?(query removed)"' in text
    assert_no_secrets(text)


@pytest.fixture(scope="module")
def frontdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real Frontdesk on a free port, as the recipes expect it behind the proxy."""
    tmp = tmp_path_factory.mktemp("behind-proxy")
    port = free_port()
    env = server_env(tmp, port, FRONTDESK_PUBLIC_URL=f"http://{HOST}", FRONTDESK_TRUSTED_PROXIES="127.0.0.1")
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        yield port
    finally:
        stop_process(proc)


def test_caddy_access_log_in_front_of_frontdesk_holds_no_secrets(frontdesk: int, tmp_path: Path) -> None:
    proc, port, log = caddy_in_front(tmp_path, frontdesk)
    try:
        with proxied(port, tls=False) as http:
            api = http.get(
                f"/api/user?{SECRET_QUERY}", headers={"referer": f"https://app.example/?{SECRET_QUERY}"}
            )
            authorize = http.get(f"/oauth/authorize?{SECRET_QUERY}")
    finally:
        stop_process(proc)
    assert api.status_code == 401
    assert authorize.status_code == 400
    text = log.read_text()
    assert '"uri":"/api/user?(query removed)"' in text and '"status":401' in text
    assert_no_secrets(text)
