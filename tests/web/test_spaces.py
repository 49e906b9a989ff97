"""Creating spaces, reaching them on their hosts, and administering members and domains."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Browser


@pytest.fixture
async def owner(browser: Browser) -> Browser:
    await browser.signup("owner@example.com", name="Olivia Owner")
    return browser


async def create(b: Browser, **values: str) -> Any:
    return await b.submit(
        "/spaces/new", {"name": "Co-Up", "subdomain": "co-up", "custom_domain": "", **values}
    )


async def space_admin(
    new_browser: Any, host: str = "co-up.localhost:8000", email: str = "owner@example.com"
) -> Browser:
    b: Browser = new_browser(host)
    assert (await b.login(email)).status_code == 303
    return b


async def test_create_space_and_reach_it_on_its_subdomain(owner: Browser, new_browser: Any) -> None:
    response = await create(owner)
    assert response.status_code == 303
    home = (await owner.get("/")).text
    assert "Created Co-Up. It lives at http://co-up.localhost:8000" in home  # the flash message
    assert '<a href="http://co-up.localhost:8000/">' in home
    assert "Created Co-Up" not in (await owner.get("/")).text  # shown once
    space = new_browser("co-up.localhost:8000")
    page = await space.get("/")
    assert page.status_code == 200 and "<h1>Co-Up</h1>" in page.text
    admin = await space_admin(new_browser)
    assert "You are an admin of Co-Up" in (await admin.get("/")).text


@pytest.mark.parametrize(
    ("subdomain", "message"),
    [
        ("www", "reserved"),
        ("API", "reserved"),
        ("-bad", "start and end"),
        ("a_b", "letters, digits"),
        ("x" * 64, "at most 63"),
        ("", "Choose a subdomain"),
        ("ab--cd", "xn--"),
    ],
)
async def test_subdomains_follow_dns_label_rules(owner: Browser, subdomain: str, message: str) -> None:
    response = await create(owner, subdomain=subdomain)
    assert response.status_code == 422
    assert 'id="e-subdomain"' in response.text and message in response.text


async def test_subdomain_taken(owner: Browser) -> None:
    await create(owner)
    response = await create(owner, name="Other")
    assert response.status_code == 422 and "is taken" in response.text


async def test_creating_a_space_needs_login(new_browser: Any) -> None:
    response = await new_browser().get("/spaces/new")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_admin_adds_members_and_admins_by_email(owner: Browser, new_browser: Any) -> None:
    await create(owner)
    await new_browser().signup("bob@example.com", name="Bob")
    await new_browser().signup("carol@example.com", name="Carol")
    admin = await space_admin(new_browser)
    response = await admin.submit("/admin/members", {"email": "BOB@example.com", "role": "member"})
    assert response.status_code == 303
    response = await admin.submit(
        "/admin/members", {"email": "carol@example.com", "role": "admin", "admin_name": "Carol at the desk"}
    )
    assert response.status_code == 303
    page = (await admin.get("/admin/members")).text
    assert "bob@example.com" in page and "carol@example.com" in page and "(as Carol at the desk)" in page
    assert "carol@example.com is now admin of Co-Up" in page
    # Carol, now an admin, can manage; Bob, a member, cannot.
    carol = await space_admin(new_browser, email="carol@example.com")
    assert (await carol.get("/admin/members")).status_code == 200
    bob = await space_admin(new_browser, email="bob@example.com")
    assert "You are a member of Co-Up" in (await bob.get("/")).text
    assert (await bob.get("/admin/members")).status_code == 403
    assert (await bob.post("/admin/members", data={"email": "x@example.com"})).status_code == 403


async def test_adding_unknown_email_explains(owner: Browser, new_browser: Any) -> None:
    await create(owner)
    admin = await space_admin(new_browser)
    response = await admin.submit("/admin/members", {"email": "ghost@example.com", "role": "member"})
    assert response.status_code == 422 and "ask them to sign up first" in response.text


async def test_owner_stays_admin(owner: Browser, new_browser: Any, db: Any) -> None:
    from frontdesk.store.models import Membership

    await create(owner)
    admin = await space_admin(new_browser)
    from sqlalchemy import select

    mid = (await db.execute(select(Membership.id))).scalar_one()
    response = await admin.submit("/admin/members", {"action": "member"}, action=f"/admin/members/{mid}")
    assert response.status_code == 303
    assert "The owner of the space is always an admin." in (await admin.get("/admin/members")).text
    response = await admin.submit("/admin/members", {"action": "remove"}, action=f"/admin/members/{mid}")
    db.expire_all()
    assert (await db.execute(select(Membership.role))).scalar_one() == "admin"


async def test_change_role_and_remove(owner: Browser, new_browser: Any, db: Any) -> None:
    from sqlalchemy import select

    from frontdesk.store.models import Membership, User

    await create(owner)
    await new_browser().signup("dan@example.com", name="Dan")
    admin = await space_admin(new_browser)
    await admin.submit("/admin/members", {"email": "dan@example.com", "role": "member"})
    mid = (
        await db.execute(select(Membership.id).join(User).where(User.email == "dan@example.com"))
    ).scalar_one()
    await admin.submit("/admin/members", {"action": "admin"}, action=f"/admin/members/{mid}")
    db.expire_all()
    assert (await db.get(Membership, mid)).role == "admin"  # type: ignore[union-attr]
    await admin.submit("/admin/members", {"action": "remove"}, action=f"/admin/members/{mid}")
    db.expire_all()
    assert await db.get(Membership, mid) is None


async def test_members_of_one_space_cannot_be_changed_from_another(
    owner: Browser, new_browser: Any, db: Any
) -> None:
    from sqlalchemy import select

    from frontdesk.store.models import Membership, Space

    await create(owner)
    await create(owner, name="Other", subdomain="other")
    other_id = (await db.execute(select(Space.id).where(Space.subdomain == "other"))).scalar_one()
    mid = (await db.execute(select(Membership.id).where(Membership.space_id == other_id))).scalar_one()
    admin = await space_admin(new_browser)  # admin of co-up, acting on other's membership id
    response = await admin.submit("/admin/members", {"action": "member"}, action=f"/admin/members/{mid}")
    assert response.status_code == 404


async def test_custom_domain_set_and_cleared(owner: Browser, new_browser: Any) -> None:
    await create(owner)
    admin = await space_admin(new_browser)
    response = await admin.submit(
        "/admin/settings", {"name": "Co-Up", "custom_domain": "Members.Co-Up.TEST."}
    )
    assert response.status_code == 303
    custom = new_browser("members.co-up.test:8000")
    assert "<h1>Co-Up</h1>" in (await custom.get("/")).text
    # People log in separately on the custom domain.
    assert "Log in to see this space" in (await custom.get("/")).text
    response = await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": ""})
    assert response.status_code == 303
    assert (await new_browser("members.co-up.test:8000").get("/")).status_code == 404


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("co-up.localhost", "outside localhost"),
        ("http://x.test/", "host name only"),
        ("10.0.0.1", "not an IP"),
        ("nodot", "not a valid domain"),
        ("bad_label.test", "not a valid domain"),
    ],
)
async def test_custom_domain_validation(owner: Browser, new_browser: Any, domain: str, message: str) -> None:
    await create(owner)
    admin = await space_admin(new_browser)
    response = await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": domain})
    assert response.status_code == 422
    assert 'id="e-custom_domain"' in response.text and message in response.text


async def test_custom_domain_unique(owner: Browser, new_browser: Any) -> None:
    # A verified domain (development skips the DNS proof for .test names) is taken; a pending
    # one blocks nobody (tests/web/test_custom_domains.py).
    await create(owner, custom_domain="members.co-up.test")
    response = await create(owner, name="Two", subdomain="two", custom_domain="members.co-up.test")
    assert response.status_code == 422 and "already used" in response.text
