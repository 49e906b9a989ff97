"""Names shown to people refuse control and invisible formatting characters (issue 11, item
16): one check (``frontdesk.names``) for app names, dynamic registration's ``client_name``,
space names, people's and admins' names and navigation link labels, from the pages, the API,
dynamic registration and the CLI alike."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk import names
from frontdesk.errors import FieldError
from frontdesk.services import accounts, apps, navigation, spaces
from tests.support import PASSWORD, Browser
from tests.test_cli import cli, ok_json  # noqa: F401 - the `cli` fixture

RLO = "\u202e"
# A right-to-left override makes "Evil<RLO>ppA knaB" read as "Evil Bank App" backwards.
SPOOF = f"Evil{RLO}ppA knaB"

REFUSED = [
    "\x00",
    "\x07",
    "\x7f",
    "\x9b",
    *[chr(c) for c in range(0x202A, 0x202F)],  # embeddings and overrides
    *[chr(c) for c in range(0x2066, 0x206A)],  # isolates
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u061c",  # Arabic letter mark
    "\u200b",  # zero-width space
    "\u2060",  # word joiner
    "\ufeff",  # byte-order mark
    "\u00ad",  # soft hyphen
    "\U000e0041",  # tag character
    "\ue000",  # private use
    "\ud800",  # a lone surrogate (JSON can carry one)
]

KEPT = [
    "Café Zürich",
    "東京オフィス",
    "مساحة العمل",
    "נמל תל אביב",
    "नमस्ते टीम",
    "Ελληνικά & Co.",
    "می\u200cخواهم",  # Persian spelling needs the zero-width non-joiner
    "\U0001f469\u200d\U0001f4bb Devs",  # an emoji sequence with the zero-width joiner
]


@pytest.mark.parametrize("char", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_refused_characters(char: str) -> None:
    with pytest.raises(names.UnsafeName, match=f"U\\+{ord(char):04X}"):
        names.clean_name(f"My{char}App")


@pytest.mark.parametrize("name", KEPT)
def test_letters_of_every_script_are_kept(name: str) -> None:
    assert names.clean_name(f"  {name} \n") == name


def test_white_space_is_collapsed_not_refused() -> None:
    assert names.clean_name("My\tApp\r\n  Name\u2028") == "My App Name"


async def test_every_service_that_accepts_a_name_refuses_a_spoof(state: Any, db: Any) -> None:
    with pytest.raises(FieldError) as user_name:
        await accounts.create_user(db, state.passwords, email="a@example.com", password=PASSWORD, name=SPOOF)
    assert user_name.value.field == "name"
    owner = await accounts.create_user(
        db, state.passwords, email="o@example.com", password=PASSWORD, name="O"
    )
    with pytest.raises(FieldError) as app_name:
        await apps.register_app(
            db,
            state.server_secret,
            owner=owner,
            name=SPOOF,
            redirect_uris=["https://a.example/cb"],
            scopes="read_user",
        )
    assert app_name.value.field == "name"
    with pytest.raises(FieldError) as in_space:
        await apps.register_app(
            db,
            state.server_secret,
            owner=owner,
            name="Fine",
            name_in_space=SPOOF,
            redirect_uris=["https://a.example/cb"],
            scopes="read_user",
        )
    assert in_space.value.field == "name_in_space"
    created = await apps.register_app(
        db,
        state.server_secret,
        owner=owner,
        name="Fine",
        redirect_uris=["https://a.example/cb"],
        scopes="read_user",
    )
    with pytest.raises(FieldError) as renamed:
        await apps.update_app(db, created.app.client_id, name=SPOOF)
    assert renamed.value.field == "name"
    with pytest.raises(FieldError) as space_name:
        await spaces.create_space(db, state.settings, subdomain="spoof", name=SPOOF, owner=owner)
    assert space_name.value.field == "name"
    space = await spaces.create_space(db, state.settings, subdomain="fine", name="Fine", owner=owner)
    with pytest.raises(FieldError) as space_rename:
        await spaces.update_space(db, state.settings, space.id, name=SPOOF, custom_domain=None)
    assert space_rename.value.field == "name"
    await accounts.create_user(db, state.passwords, email="m@example.com", password=PASSWORD, name="M")
    with pytest.raises(FieldError) as admin_name:
        await spaces.add_member(db, space, email="m@example.com", role="admin", admin_name=SPOOF)
    assert admin_name.value.field == "admin_name"
    with pytest.raises(FieldError) as label:
        await navigation.create_link(
            db,
            space_id=space.id,
            app_id=created.app.client_id,
            user_id=owner.id,
            section=navigation.SECTIONS[0],
            label=SPOOF,
            iframe_url="https://a.example/embed",
        )
    assert label.value.field == "label"


@pytest.mark.rfc("7591 3.2.2")
@pytest.mark.parametrize("client_name", [SPOOF, "My\u2066App", "My\u200fApp", "My\u200bApp"])
async def test_dynamic_registration_refuses_a_spoofing_client_name(
    browser: Browser, client_name: str
) -> None:
    body = {
        "client_name": client_name,
        "redirect_uris": ["https://spa.example/cb"],
        "token_endpoint_auth_method": "none",
    }
    response = await browser.post("/oauth/register", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert "client_name" in response.json()["error_description"]


async def test_the_signup_page_refuses_a_spoofing_name(browser: Browser) -> None:
    response = await browser.submit(
        "/signup", {"email": "s@example.com", "password": PASSWORD, "name": SPOOF}, action="/signup"
    )
    assert response.status_code == 422
    assert "formatting characters" in response.text


def test_the_cli_refuses_a_spoofing_app_name(cli: Any) -> None:  # noqa: F811
    ok_json(cli("users", "create", "dev@example.com", "--password", "dev-password", "--json"))
    result = cli(
        "clients",
        "create",
        SPOOF,
        "--owner",
        "dev@example.com",
        "--redirect-uri",
        "https://example.com/cb",
        "--scope",
        "read_user",
    )
    assert result.exit_code == 1
    assert "formatting characters" in result.output
