"""Invitations to a space by email: a space admin invites from the members page, the link
(received by a real SMTP server) shows the space and the role, and an existing account (after
logging in) or a new one made from the invitation accepts it; the membership is confirmed at
acceptance; one use; withdrawn links stop; invitations are limited per space."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from frontdesk.email_worker import EmailWorker
from frontdesk.services import accounts, spaces
from frontdesk.store.types import utcnow
from tests.accounts.mailbox import Mailbox, link_in, text_of
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import make_user
from tests.support import PASSWORD, Browser, csrf_from

HOST = "co-up.localhost:8000"


@pytest.fixture
async def admin(state: Any, db: Any, new_browser: Any) -> Browser:
    """Olivia, owner and admin of Co-Up, logged in on its host."""
    owner = await make_user(state, db, "olivia@example.com", name="Olivia Owner")
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    b: Browser = new_browser(HOST)
    assert (await b.login("olivia@example.com")).status_code == 303
    return b


async def invite(admin: Browser, email: str, role: str = "member") -> Any:
    return await admin.submit(
        "/admin/members", {"invite_email": email, "invite_role": role}, action="/admin/invitations"
    )


async def received_link(worker: EmailWorker, mailbox: Mailbox, to: str) -> str:
    """Send what is due; the path of the newest invitation link sent to ``to`` (on Co-Up's host)."""
    assert await worker.run_once() is True
    links = [urlsplit(link_in(m)) for m in mailbox.to(to) if m["Subject"].startswith("You are invited")]
    assert links, f"no invitation sent to {to}"
    parts = links[-1]
    assert parts.netloc == HOST and parts.path == "/invitation", parts
    return f"{parts.path}?{parts.query}"


def token_of(path: str) -> str:
    return path.split("token=", 1)[1]


async def test_a_new_person_signs_up_from_the_invitation(
    admin: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, db: Any
) -> None:
    sent = await invite(admin, "Newcomer@Example.com", role="admin")
    assert sent.status_code == 303
    members = (await admin.get("/admin/members")).text
    assert "We sent an invitation to Newcomer@example.com." in members
    assert 'id="pending-invitations"' in members and "Newcomer@example.com" in members
    path = await received_link(worker, mailbox, "Newcomer@example.com")
    [message] = mailbox.to("Newcomer@example.com")
    assert message["Subject"] == "You are invited to Co-Up"
    assert "Olivia Owner invites you to join Co-Up as an admin" in text_of(message)
    assert "7 days" in text_of(message)

    guest = new_browser(HOST)
    page = await guest.get(path)
    assert page.status_code == 200
    assert "<h1>Invitation to Co-Up</h1>" in page.text
    assert 'id="invitation-role">an admin<' in page.text
    assert 'action="/invitation/signup"' in page.text
    before = utcnow()
    joined = await guest.post(
        "/invitation/signup",
        data={
            "csrf_token": csrf_from(page.text),
            "token": token_of(path),
            "name": "Nia New",
            "password": PASSWORD,
        },
    )
    assert joined.status_code == 303
    assert "Welcome to Co-Up: you joined as an admin." in (await guest.get("/")).text
    person = await accounts.find_by_email(db, "newcomer@example.com")
    assert person is not None and person.email_verified is True  # the link reached the address
    space = await spaces.get_by_subdomain(db, "co-up")
    assert space is not None
    membership = await spaces.membership_of(db, space.id, person.id)
    assert membership is not None and membership.role == "admin"
    assert membership.confirmed_at is not None and membership.confirmed_at >= before.replace(microsecond=0)
    # Used once; no longer pending.
    assert (await new_browser(HOST).get(path)).status_code == 410
    assert 'id="no-invitations"' in (await admin.get("/admin/members")).text


async def test_an_existing_account_logs_in_and_accepts(
    admin: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await make_user(state, db, "mia@example.com", name="Mia")
    assert (await invite(admin, "mia@example.com")).status_code == 303
    path = await received_link(worker, mailbox, "mia@example.com")
    mia = new_browser(HOST)
    page = await mia.get(path)
    assert page.status_code == 200
    assert 'action="/invitation/signup"' not in page.text  # her account exists: she logs in
    login_url = f"/login?next={quote(path, safe='')}"
    assert f'href="{login_url.replace("&", "&amp;")}" id="login-to-accept"' in page.text
    form = await mia.get(login_url)
    logged_in = await mia.post(
        "/login",
        data={
            "csrf_token": csrf_from(form.text),
            "email": "mia@example.com",
            "password": PASSWORD,
            "next": path,
        },
    )
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == path  # back to the invitation
    page = await mia.get(path)
    assert 'id="accept-invitation"' in page.text
    assert 'id="other-account"' not in page.text
    accepted = await mia.post(
        "/invitation/accept", data={"csrf_token": csrf_from(page.text), "token": token_of(path)}
    )
    assert accepted.status_code == 303
    assert "Welcome to Co-Up: you joined as a member." in (await mia.get("/")).text
    members = (await admin.get("/admin/members")).text
    assert "mia@example.com" in members and 'id="no-invitations"' in members
    main = new_browser()
    assert (await main.login("mia@example.com")).status_code == 303
    activity = (await main.get("/account/activity")).text
    assert "Accepted an invitation to a space" in activity and "Joined a space" in activity


async def test_an_address_that_is_a_member_already_is_told_so(admin: Browser) -> None:
    refused = await invite(admin, "OLIVIA@example.com")
    assert refused.status_code == 422
    assert "olivia@example.com is already a member of Co-Up." in refused.text


async def test_a_member_who_accepts_again_is_told_so(
    admin: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await make_user(state, db, "sam@example.com", name="Sam")
    assert (await invite(admin, "other-address@example.com")).status_code == 303
    path = await received_link(worker, mailbox, "other-address@example.com")
    sam = new_browser(HOST)
    assert (await sam.login("sam@example.com")).status_code == 303
    page = await sam.get(path)
    assert 'id="other-account"' in page.text  # logged in with another address than invited
    first = await sam.post(
        "/invitation/accept", data={"csrf_token": csrf_from(page.text), "token": token_of(path)}
    )
    assert first.status_code == 303
    assert (await invite(admin, "other-address@example.com")).status_code == 303
    again = await received_link(worker, mailbox, "other-address@example.com")
    page = await sam.get(again)
    second = await sam.post(
        "/invitation/accept", data={"csrf_token": csrf_from(page.text), "token": token_of(again)}
    )
    assert second.status_code == 303
    assert "You are already a member of Co-Up; nothing changed." in (await sam.get("/")).text


async def test_a_withdrawn_invitation_stops_working(
    admin: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox
) -> None:
    assert (await invite(admin, "gone@example.com")).status_code == 303
    path = await received_link(worker, mailbox, "gone@example.com")
    members = (await admin.get("/admin/members")).text
    action = members.split('action="/admin/invitations/', 1)[1].split('"', 1)[0]
    withdrawn = await admin.post(f"/admin/invitations/{action}", data={"csrf_token": csrf_from(members)})
    assert withdrawn.status_code == 303
    assert "The invitation to gone@example.com was withdrawn." in (await admin.get("/admin/members")).text
    page = await new_browser(HOST).get(path)
    assert page.status_code == 410
    assert "withdrawn" in page.text


async def test_the_withdraw_button_is_named_for_screen_readers_in_the_page_language(admin: Browser) -> None:
    assert (await invite(admin, "pending@example.com")).status_code == 303
    english = (await admin.get("/admin/members")).text
    assert 'aria-label="Withdraw the invitation to pending@example.com"' in english
    german = await admin.get("/admin/members", headers={"accept-language": "de-DE,de;q=0.9"})
    assert german.status_code == 200
    assert 'aria-label="Die Einladung an pending@example.com zurückziehen"' in german.text


async def test_a_link_works_on_its_own_space_only_and_members_cannot_invite(
    admin: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    assert (await invite(admin, "elsewhere@example.com")).status_code == 303
    path = await received_link(worker, mailbox, "elsewhere@example.com")
    other_owner = await make_user(state, db, "oscar@example.com")
    await spaces.create_space(db, state.settings, subdomain="other", name="Other", owner=other_owner)
    await db.commit()
    assert (await new_browser("other.localhost:8000").get(path)).status_code == 404
    assert (await new_browser(HOST).get("/invitation?token=fdel_made-up")).status_code == 404
    # A plain member sees no invitation form and may not send one.
    await make_user(state, db, "mo@example.com")
    space = await spaces.get_by_subdomain(db, "co-up")
    assert space is not None
    await spaces.add_member(db, space, email="mo@example.com")
    await db.commit()
    mo = new_browser(HOST)
    assert (await mo.login("mo@example.com")).status_code == 303
    token = csrf_from((await mo.get("/")).text)
    refused = await mo.post("/admin/invitations", data={"csrf_token": token, "invite_email": "x@example.com"})
    assert refused.status_code == 403


class TestTheLimit:
    @pytest.fixture
    def settings_overrides(self, mailbox: Mailbox) -> dict[str, Any]:
        return {
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "smtp_security": "none",
            "invitation_rate_per_space": "2/day",
        }

    async def test_invitations_are_limited_per_space(self, admin: Browser) -> None:
        assert (await invite(admin, "a@example.com")).status_code == 303
        assert (await invite(admin, "b@example.com")).status_code == 303
        limited = await invite(admin, "c@example.com")
        assert limited.status_code == 429
        assert "This space sent many invitations already." in limited.text


async def test_the_admin_api_invites_lists_and_withdraws(
    operator: Operator, admin: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox
) -> None:
    b = operator.browser
    write = await operator.headers("admin:memberships:write")
    read = await operator.headers("admin:memberships:read")
    made = await b.post(
        "/api/admin/spaces/co-up/invitations",
        json={"email": "api@example.com", "role": "admin"},
        headers=write,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["email"], body["role"], body["invited_by"]) == ("api@example.com", "admin", None)
    listed = await b.get("/api/admin/spaces/co-up/invitations", headers=read)
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["invitations"]] == [body["id"]]
    path = await received_link(worker, mailbox, "api@example.com")
    assert "Frontdesk invites you to join Co-Up as an admin" in text_of(mailbox.to("api@example.com")[0])
    member = await b.post(
        "/api/admin/spaces/co-up/invitations", json={"email": "olivia@example.com"}, headers=write
    )
    assert member.status_code == 400
    assert "already a member of Co-Up" in member.json()["error_description"]
    gone = await b.delete(f"/api/admin/spaces/co-up/invitations/{body['id']}", headers=write)
    assert gone.status_code == 204
    assert (await b.get("/api/admin/spaces/co-up/invitations", headers=read)).json() == {"invitations": []}
    assert (await new_browser(HOST).get(path)).status_code == 410
    again = await b.delete(f"/api/admin/spaces/co-up/invitations/{body['id']}", headers=write)
    assert again.status_code == 404
    assert (await b.get("/api/admin/spaces/co-up/invitations", headers=write)).status_code == 403
