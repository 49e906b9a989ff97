"""Issue 11 item 5: the password confirmation before an app's credentials are shown again
cannot be skipped by making a new credential (docs/decisions.md §1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import PASSWORD, Browser
from tests.web.test_apps_pages import CONFIRM, register_ok, shown


@pytest.fixture
async def dev(browser: Browser) -> Browser:
    await browser.signup("dev@example.com", name="Dev Eloper")
    return browser


async def _fresh_app(dev: Browser) -> tuple[str, str, str]:
    """Register an app, read its credentials once, leave the page in the 'ask for the
    password' state."""
    client_id, page = await register_ok(dev)
    secret, token = shown(page, "client-secret"), shown(page, "test-access-token")
    assert secret and token
    later = await dev.get(f"/oauth2_clients/{client_id}")
    assert shown(later, "client-secret") is None and CONFIRM in later.text
    return client_id, secret, token


async def test_new_test_token_does_not_reveal_the_secret(dev: Browser) -> None:
    client_id, secret, old_token = await _fresh_app(dev)
    url = f"/oauth2_clients/{client_id}"
    response = await dev.submit(url, {"action": "create"}, action=f"{url}/test_token")
    assert response.status_code == 303
    page = await dev.get(url)
    new_token = shown(page, "test-access-token")
    assert new_token and new_token != old_token
    assert secret not in page.text and shown(page, "client-secret") is None
    assert CONFIRM in page.text  # the rest still needs the password
    again = await dev.get(url)
    assert new_token not in again.text and shown(again, "test-access-token") is None


async def test_new_secret_does_not_reveal_the_test_token(dev: Browser) -> None:
    client_id, old_secret, token = await _fresh_app(dev)
    url = f"/oauth2_clients/{client_id}"
    response = await dev.submit(url, {"confirm": "1"}, action=f"{url}/secret")
    assert response.status_code == 303
    page = await dev.get(url)
    new_secret = shown(page, "client-secret")
    assert new_secret and new_secret != old_secret
    assert token not in page.text and shown(page, "test-access-token") is None
    assert CONFIRM in page.text


async def test_regenerating_the_secret_asks_for_confirmation(dev: Browser) -> None:
    client_id, old_secret, _ = await _fresh_app(dev)
    url = f"/oauth2_clients/{client_id}"
    assert 'name="confirm"' in (await dev.get(url)).text.split('/secret"', 1)[1].split("</form>", 1)[0]
    response = await dev.submit(url, {}, action=f"{url}/secret")
    assert response.status_code == 303
    page = await dev.get(url)
    assert "Tick the box to confirm" in page.text and shown(page, "client-secret") is None
    # The old secret still works: nothing was regenerated.
    grant = {"grant_type": "password", "username": "dev@example.com", "password": PASSWORD}
    ok = await dev.post(
        "/oauth/access_token", data={**grant, "client_id": client_id, "client_secret": old_secret}
    )
    assert ok.status_code == 200


async def test_old_style_reveal_grant_in_the_session_grants_nothing(dev: Browser, db: Any) -> None:
    """A session written before this change (a bare timestamp per app) shows nothing."""
    import time

    from sqlalchemy import update

    from frontdesk.store.models import LoginSession

    client_id, secret, _ = await _fresh_app(dev)
    await db.execute(update(LoginSession).values(data={"reveal": {client_id: time.time() + 600}}))
    await db.commit()
    page = await dev.get(f"/oauth2_clients/{client_id}")
    assert page.status_code == 200
    assert secret not in page.text and CONFIRM in page.text


async def test_password_confirmation_still_shows_both(dev: Browser) -> None:
    client_id, secret, token = await _fresh_app(dev)
    url = f"/oauth2_clients/{client_id}"
    await dev.submit(url, {"action": "create"}, action=f"{url}/test_token")
    right = await dev.submit(url, {"password": PASSWORD}, action=f"{url}/reveal")
    assert right.status_code == 303
    page = await dev.get(url)
    assert shown(page, "client-secret") == secret
    new_token = shown(page, "test-access-token")
    assert new_token and new_token != token and CONFIRM not in page.text
