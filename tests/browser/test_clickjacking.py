"""Clickjacking (RFC 9700 §4.16): another site cannot frame Frontdesk's consent or login page.

An attacker's page on another origin (127.0.0.1:OTHERPORT) frames the consent page of a real
authorization request and the login page. Chromium receives Frontdesk's answers (they carry
X-Frame-Options: SAMEORIGIN and CSP frame-ancestors 'self') and refuses to render them: the
frames hold Chromium's error page, with no Approve button and no password field. Framing by the
page's own origin is allowed: see test_space_app.py (the in-frame OAuth inside a space page).
"""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import Frame, Page, Response, expect

from tests.browser.support import Person, screenshot, sign_up, static_site
from tests.e2e.conftest import Server, cli

CALLBACK = "http://127.0.0.1:9/callback"  # never reached: nobody approves


def _frame(page: Page, name: str) -> Frame:
    frame = page.frame(name=name)
    assert frame is not None, [f.name for f in page.frames]
    return frame


def test_another_origin_cannot_frame_the_consent_or_the_login_page(page: Page, server: Server) -> None:
    victim = Person.new("Vic")
    sign_up(page, server.base, victim)
    app = cli(
        server,
        *("clients", "create", "Innocent Looking App", "--owner", victim.email),
        *("--redirect-uri", CALLBACK, "--scope", "read_user read_memberships"),
    )
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": CALLBACK,
        "scope": "read_user read_memberships",
        "state": "s-clickjack",
    }
    authorize = f"{server.base}/oauth/authorize?{urlencode(query)}"

    # Opened by the person themselves, the URL is a real consent page.
    page.goto(authorize)
    expect(page.get_by_role("heading", name="Innocent Looking App wants access")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_be_visible()

    attacker_html = f"""<!doctype html><title>Win a prize</title>
<h1>Click the button to win!</h1>
<iframe name="consent" src="{authorize}" width="600" height="400"></iframe>
<iframe name="login" src="{server.base}/login" width="600" height="400"></iframe>
<iframe name="own" src="/own" width="300" height="100"></iframe>
"""
    pages = {"/": attacker_html, "/own": "<!doctype html><p id=own>the attacker's own frame</p>"}
    with static_site(pages) as attacker:
        frontdesk_answers: list[Response] = []
        page.on("response", lambda r: r.url.startswith(server.base) and frontdesk_answers.append(r))
        page.goto(attacker.origin + "/", wait_until="load")  # "load" waits for every frame

        # The control: a frame of the attacker's own origin renders.
        expect(page.frame_locator('iframe[name="own"]').locator("#own")).to_have_text(
            "the attacker's own frame"
        )
        # Frontdesk answered both frames, with the headers that forbid framing...
        answered = {r.url.split("?")[0].removeprefix(server.base) for r in frontdesk_answers}
        assert {"/oauth/authorize", "/login"} <= answered, answered
        for response in frontdesk_answers:
            if response.headers.get("content-type", "").startswith("text/html"):
                assert response.headers.get("x-frame-options") == "SAMEORIGIN", response.url
                assert "frame-ancestors 'self'" in response.headers.get("content-security-policy", "")

        # ...and Chromium rendered neither: the frames hold its error page, not Frontdesk's.
        for name in ("consent", "login"):
            frame = _frame(page, name)
            assert frame.url in ("about:blank", "chrome-error://chromewebdata/"), (name, frame.url)
            framed = page.frame_locator(f'iframe[name="{name}"]')
            expect(framed.get_by_role("button", name="Approve")).to_have_count(0)
            expect(framed.get_by_role("button", name="Log in")).to_have_count(0)
            expect(framed.locator('input[type="password"]')).to_have_count(0)
            expect(framed.locator("form")).to_have_count(0)
        screenshot(page, "blocked-frames-on-another-origin")
