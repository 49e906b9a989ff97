"""The per-app "DPoP required" switch (RFC 9449 §5.2; project decision 10 ``--dpop-required``):
the app's page, the admin API and the CLI set it, and the token endpoint then refuses the
app's requests without a proof."""

from __future__ import annotations

from typing import Any

from frontdesk.services import apps
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.dpop_support import DpopKey
from tests.oauth_support import TOKEN_URL, basic, make_user
from tests.support import Browser
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture
from tests.test_cli_clients import create, owner  # noqa: F401 - the `owner` fixture
from tests.web.test_apps_pages import dev, register_ok  # noqa: F401 - the `dev` fixture

APPS = "admin:apps:read admin:apps:write"


async def test_the_app_page_switches_dpop_on_and_off(dev: Browser, db: Any) -> None:  # noqa: F811
    client_id, page = await register_ok(dev, dpop_required="1")
    assert 'name="dpop_required"' in page.text
    app = await apps.get_app(db, client_id)
    assert app is not None and app.dpop_required
    token = await dev.token(f"/oauth2_clients/{client_id}")
    form = {
        "name": "My App",
        "redirect_uris": "https://example.com/cb",
        "scope": ["read_user"],
        "csrf_token": token,
    }
    changed = await dev.post(f"/oauth2_clients/{client_id}", data=form)
    assert changed.status_code == 303, changed.text
    db.expire_all()
    app = await apps.get_app(db, client_id)
    assert app is not None and not app.dpop_required


async def test_the_admin_api_sets_dpop_required(operator: Operator, state: Any, db: Any) -> None:
    owner_person = await make_user(state, db, "dev@example.com", "Dev")
    b = operator.browser
    headers = await operator.headers(APPS)
    made = await b.post(
        "/api/admin/apps",
        json={
            "owner_id": owner_person.id,
            "name": "Door",
            "redirect_uris": ["https://door.example/cb"],
            "scopes": "read_user",
            "client_credentials": True,
            "dpop_required": True,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    app = made.json()
    assert app["dpop_required"] is True
    data = {"grant_type": "client_credentials"}
    credentials = basic(app["client_id"], app["client_secret"])
    refused = await b.post(TOKEN_URL, data=data, headers=credentials)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    bound = await b.post(TOKEN_URL, data=data, headers={**credentials, "dpop": DpopKey().proof()})
    assert bound.status_code == 200, bound.text
    assert bound.json()["token_type"] == "DPoP"
    off = await b.http.patch(
        f"/api/admin/apps/{app['client_id']}", json={"dpop_required": False}, headers=headers
    )
    assert off.status_code == 200
    assert off.json()["dpop_required"] is False
    assert (await b.post(TOKEN_URL, data=data, headers=credentials)).status_code == 200


def test_the_cli_sets_dpop_required(cli: Any, owner: str) -> None:  # noqa: F811
    created = ok_json(create(cli, "--dpop-required", "--json"))
    assert created["dpop_required"] is True
    client_id = created["client_id"]
    assert "dpop_required" in cli("clients", "show", client_id).stdout
    off = ok_json(cli("clients", "update", client_id, "--no-dpop-required", "--json"))
    assert off["dpop_required"] is False
