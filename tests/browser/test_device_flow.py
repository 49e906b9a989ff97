"""The device authorization grant's pages in the real browser (RFC 8628 §3.3): a door reader
(plain HTTP) asks for codes; the person opens ``verification_uri_complete``, logs in, continues
with the prefilled code and approves; the device then gets its token. The code page, the
consent page and the device's own page fit from 320 px and pass axe."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import STEP_MS, Person, expect_after_submit, log_in_here
from tests.browser.test_screens import AXE, AXE_MISSING, AXE_TAGS, FITS, RUN_AXE, WIDTHS, Screen, check_screen
from tests.e2e.conftest import Server, cli

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def axe() -> Path:
    """axe-core, as tests/browser/test_screens.py finds it."""
    if not AXE.exists():
        if os.environ.get("FRONTDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(AXE_MISSING, pytrace=False)
        pytest.skip(AXE_MISSING)
    return AXE


def check_here(page: Page, name: str, axe: Path) -> list[str]:
    """The page already open (a form's answer cannot be opened by URL): fits every width, axe."""
    problems: list[str] = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        scroll_width, inner_width = page.evaluate(FITS)
        if scroll_width > inner_width:
            problems.append(f"{name} at {width} px: {scroll_width} px wide in a {inner_width} px window")
        page.add_script_tag(path=str(axe))
        for v in page.evaluate(RUN_AXE, AXE_TAGS):
            problems.append(f"{name} at {width} px: axe {v['id']} ({v['impact']}): {v['help']}: {v['nodes']}")
    return problems


def test_a_person_connects_a_door_reader(chromium: Browser, axe: Path, server: Server) -> None:
    person = Person.new("Dora")
    cli(server, "users", "create", person.email, "--password", person.password, "--name", person.name)
    app = cli(
        server,
        "clients",
        "create",
        "Door Reader",
        "--owner",
        person.email,
        "--redirect-uri",
        "http://127.0.0.1:9/unused",
        "--scope",
        "read_user",
        "--public",
    )
    with server.client() as device:
        asked = device.post(
            "/oauth/device_authorization",
            data={"client_id": app["client_id"], "scope": "read_user"},
            headers={"user-agent": "DoorReader/2.1"},
        )
        assert asked.status_code == 200, asked.text
        codes = asked.json()

    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", bypass_csp=True)
    context.set_default_timeout(STEP_MS)
    try:
        page = context.new_page()
        problems = check_screen(
            page,
            Screen(
                "device-show", f"{server.base}/device/show?user_code={codes['user_code']}", 200, "Connect"
            ),
            "light",
            axe,
        )
        page.goto(codes["verification_uri_complete"])
        log_in_here(page, person)
        field = page.get_by_label("Code from your device")
        expect(field).to_have_value(codes["user_code"])
        problems += check_here(page, "device-enter", axe)
        page.get_by_role("button", name="Continue").click()
        expect_after_submit(page, page.get_by_role("heading", name="Door Reader wants access on a device"))
        expect(page.locator("#device-code")).to_have_text(codes["user_code"])
        expect(page.locator("#device-warning")).to_contain_text("in front of you")
        problems += check_here(page, "device-consent", axe)
        page.get_by_role("button", name="Approve").click()
        expect_after_submit(page, page.get_by_role("heading", name="Device connected"))
        assert problems == []
    finally:
        context.close()

    with httpx.Client(
        base_url=f"http://127.0.0.1:{server.port}", headers={"host": f"localhost:{server.port}"}
    ) as d:
        token = d.post(
            "/oauth/access_token",
            data={"grant_type": GRANT, "device_code": codes["device_code"], "client_id": app["client_id"]},
        )
    assert token.status_code == 200, token.text
