"""Space App (examples/space_app) against a live Frontdesk, the way a developer sets it up.

One ``frontdesk serve`` per module, seeded with ``examples/sandbox.yaml`` and with the app
registered by ``examples/space_app/register.sh``. The app runs in-process (httpx's
ASGITransport); its requests to Frontdesk go to the live server through a loopback transport
(``*.localhost`` and the custom domain need no DNS). People are played by the client tests'
:class:`Browser` (cookies per host, login and consent forms).
"""

from __future__ import annotations

import html
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from examples.space_app import Settings, SpaceApp, create_app
from examples.space_app.state import Installation
from starlette.applications import Starlette

from tests.client.conftest import AsyncLoopbackTransport, Browser, form_fields
from tests.e2e.conftest import FRONTDESK, Server, cli, free_port, server_env, start, wait_ready
from tests.support import lifespan, stop_process

REPO = Path(__file__).resolve().parents[2]
APP_URL = "http://localhost:9000"  # nothing listens there: the app runs in-process
PASSWORDS = {"alice@example.com": "alice-password", "bob@example.com": "bob-password"}
PASSWORDS["carol@example.com"] = "carol-password"
IFRAME_RE = re.compile(r'<iframe src="([^"]+)"')


@dataclass(frozen=True)
class Deployment:
    """The live Frontdesk and the settings ``register.sh`` printed for the app."""

    server: Server
    env: dict[str, str]

    @property
    def port(self) -> int:
        return self.server.port

    def space_origin(self, host: str) -> str:
        return f"http://{host}:{self.port}"


def register(server: Server) -> dict[str, str]:
    """Run ``register.sh`` like a developer would; the ``export NAME=VALUE`` lines it prints."""
    env = {**server.env, "FRONTDESK": FRONTDESK, "PYTHON": sys.executable, "SPACE_APP_URL": APP_URL}
    script = REPO / "examples" / "space_app" / "register.sh"
    result = subprocess.run(
        ["sh", str(script)], env=env, cwd=server.log.parent, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    exports = [shlex.split(line) for line in result.stdout.splitlines()]
    assert all(words[0] == "export" and len(words) == 2 for words in exports), result.stdout
    return dict(words[1].split("=", 1) for words in exports)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("space-app")
    port = free_port()
    env = server_env(tmp, port, FRONTDESK_API_RATE_LIMIT="6000/minute")
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        server = Server(port=port, base=f"http://localhost:{port}", log=tmp / "server.log", env=env)
        cli(server, "seed", str(REPO / "examples" / "sandbox.yaml"))
        yield Deployment(server, register(server))
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the app stores installations; shared by a module's tests, like a real deployment."""
    return tmp_path_factory.mktemp("space-app-data")


@pytest.fixture
def app_settings(deployment: Deployment, data_dir: Path) -> Settings:
    return Settings.from_env({**deployment.env, "SPACE_APP_DATA_DIR": str(data_dir)})


@pytest.fixture
async def space_app(deployment: Deployment, app_settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(app_settings, transport=AsyncLoopbackTransport(deployment.port))
    async with lifespan(app):
        yield app


def core(app: Starlette) -> SpaceApp:
    space_app: SpaceApp = app.state.space_app
    return space_app


def app_client(app: Starlette) -> httpx.AsyncClient:
    """A browser tab on the app (a new one has no cookies, like a third-party iframe)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_URL)


@pytest.fixture
async def app_browser(space_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(space_app) as client:
        yield client


def person(deployment: Deployment, email: str) -> Browser:
    return Browser(deployment.server, email, PASSWORDS[email])


@pytest.fixture
def alice(deployment: Deployment) -> Iterator[Browser]:
    with person(deployment, "alice@example.com") as browser:
        yield browser


@pytest.fixture
def bob(deployment: Deployment) -> Iterator[Browser]:
    with person(deployment, "bob@example.com") as browser:
        yield browser


# ---- the steps of the walkthrough ---------------------------------------------------------------


async def log_in(app: httpx.AsyncClient, browser: Browser) -> None:
    """Log in with Frontdesk on the app's landing page."""
    start = await app.get("/login")
    assert start.status_code == 303, start.text
    callback = browser.authorize(start.headers["location"])
    done = await app.get(callback)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/"


async def install(app: httpx.AsyncClient, browser: Browser, subdomain: str = "co-up") -> httpx.Response:
    """Press "Install into <space>" on the landing page and go through in-space OAuth."""
    home = await app.get("/")
    if "/login" in home.text and "Log out" not in home.text:
        await log_in(app, browser)
        home = await app.get("/")
    action = f"/install/{subdomain}"
    started = await app.post(action, data=form_fields(home.text, action))
    assert started.status_code == 303, started.text
    callback = browser.authorize(started.headers["location"])
    return await app.get(callback)


async def ensure_installed(space_app: Starlette, browser: Browser, subdomain: str = "co-up") -> Installation:
    """The space's installation; installs it (as ``browser``, an admin) when there is none."""
    installation = core(space_app).installations.get(subdomain)
    if installation is None:
        async with app_client(space_app) as app:
            response = await install(app, browser, subdomain)
        assert response.status_code == 200, response.text
        installation = core(space_app).installations.get(subdomain)
        assert installation is not None
    return installation


def iframe_src(browser: Browser, page_url: str) -> str:
    """Open a navigation link's page in the space and take its iframe's ``src``."""
    page = browser.open(page_url)
    assert page.status_code == 200, page.text
    match = IFRAME_RE.search(page.text)
    assert match, page.text
    return html.unescape(match.group(1))
