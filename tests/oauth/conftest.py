from __future__ import annotations

from typing import Any

import pytest

from tests.oauth_support import RegisteredApp, make_user, register_app
from tests.support import Browser


@pytest.fixture
async def dev(state: Any, db: Any) -> Any:
    """The developer who owns the test app."""
    return await make_user(state, db, "dev@example.com", name="Dana Developer")


@pytest.fixture
async def registered(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name_in_space="Space Helper", main_url="https://app.example")


@pytest.fixture
async def person(state: Any, db: Any) -> Any:
    return await make_user(state, db, "pat@example.com", name="Pat Person")


@pytest.fixture
async def logged_in(browser: Browser, person: Any) -> Browser:
    assert (await browser.login("pat@example.com")).status_code == 303
    return browser
