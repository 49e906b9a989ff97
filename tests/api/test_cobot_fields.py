"""The fields Cobot apps read (issue 12 §2; docs/compatibility.md): ``picture`` on ``/api/user``
(a URL that always resolves, a generated avatar unless the platform set one) and Cobot's
membership fields (``user``, ``address.name``, ``picture``, ``confirmed_at``, ``canceled_to``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from sqlalchemy import event, update

from frontdesk.errors import FieldError, NotFound
from frontdesk.services import accounts, spaces
from frontdesk.store.models import User
from tests.api.conftest import World
from tests.oauth_support import bearer, make_user
from tests.support import Browser

RFC3339_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://localhost:8000", url
    return parts.path


async def test_api_user_has_a_picture_that_resolves_to_an_avatar(
    browser: Browser, world: World, issue: Any
) -> None:
    me = await browser.get("/api/user", headers=bearer(await issue(world.member)))
    assert me.status_code == 200
    picture = me.json()["picture"]
    assert picture == f"http://localhost:8000/avatars/{world.member.id}.svg"
    image = await browser.get(_path(picture))
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/svg+xml"
    assert image.headers["cache-control"] == "public, max-age=86400"
    svg = ElementTree.fromstring(image.content)
    texts = [el.text for el in svg.iter() if el.tag.endswith("text")]
    assert texts == ["MM"]  # Mia Member
    again = await browser.get(_path(picture), headers={"if-none-match": image.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ('<script>alert(1)</script> "><svg onload=alert(2)>', "SO"),
        ("&amp; &lt;b&gt;", "AL"),
        ("]]> <!-- x", "X"),
        ("\u202eevil name", "EN"),
        ("Émile Zola", "ÉZ"),
        ("李 小龙", "李小"),
        ("...", "?"),
    ],
)
async def test_the_avatar_shows_initials_only_whatever_the_name(
    state: Any, db: Any, browser: Browser, name: str, shown: str
) -> None:
    person = await make_user(state, db, "named@example.com", "Plain Name")
    # Names are checked when people type them (names.py); a platform's import could bring
    # anything, so the avatar does not rely on that.
    await db.execute(update(User).where(User.id == person.id).values(name=name))
    await db.commit()
    image = await browser.get(f"/avatars/{person.id}.svg")
    assert image.status_code == 200
    svg = ElementTree.fromstring(image.content)  # well-formed: nothing of the name broke out
    assert [el.tag.split("}")[1] for el in svg.iter()] == ["svg", "rect", "text"]
    assert [el.text for el in svg.iter() if el.tag.endswith("text")] == [shown]
    assert not [el.attrib for el in svg.iter() if any(k.startswith("on") for k in el.attrib)]


@pytest.mark.parametrize("user_id", ["0123456789abcdef0123456789abcdef", "x" * 40, "..%2F..%2Fetc", "a.b"])
async def test_an_unknown_avatar_is_404(browser: Browser, world: World, user_id: str) -> None:
    response = await browser.get(f"/avatars/{user_id}.svg")
    assert response.status_code == 404


async def test_a_picture_the_platform_set_replaces_the_avatar(
    state: Any, db: Any, browser: Browser, world: World, issue: Any
) -> None:
    url = "https://cdn.platform.example/people/mia.jpg"
    token = await issue(world.member)
    before = await browser.get("/api/user", headers=bearer(token))  # cached from here on
    assert before.json()["picture"].endswith(".svg")
    person = await accounts.set_picture_url(db, world.member.id, url)
    await db.commit()
    assert person.picture_url == url
    me = await browser.get("/api/user", headers=bearer(token))
    assert me.json()["picture"] == url
    owner_token = await issue(world.owner)
    members = await browser.get("/api/spaces/co-up/memberships", headers=bearer(owner_token))
    pictures = {m["email"]: m["picture"] for m in members.json()}
    assert pictures["member@example.com"] == url
    assert pictures["owner@example.com"] == f"http://localhost:8000/avatars/{world.owner.id}.svg"


async def test_api_user_reads_nothing_more_for_the_picture(
    state: Any, browser: Browser, world: World, issue: Any
) -> None:
    """The hot path: once the caches hold the token, the person and their memberships, a
    request reads no table (the picture comes from the person already loaded)."""
    token = await issue(world.member)
    assert (await browser.get("/api/user", headers=bearer(token))).status_code == 200
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "cache_events" not in statement:
            statements.append(statement)

    engine = state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            me = await browser.get("/api/user", headers=bearer(token))
            assert me.json()["picture"].endswith(f"/avatars/{world.member.id}.svg")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


# ---- memberships ---------------------------------------------------------------------------------


async def test_membership_records_carry_cobots_fields(
    browser: Browser, new_browser: Any, world: World, issue: Any
) -> None:
    token = await issue(world.owner)
    listed = await browser.get("/api/spaces/co-up/memberships", headers=bearer(token))
    assert listed.status_code == 200
    by_email = {m["email"]: m for m in listed.json()}
    mia = by_email["member@example.com"]
    assert set(mia) == {
        "id",
        "user_id",
        "name",
        "email",
        "role",
        "link",
        "user",
        "address",
        "picture",
        "confirmed_at",
        "canceled_to",
    }
    assert mia["user"] == {"id": world.member.id, "email": "member@example.com"}
    assert mia["user_id"] == world.member.id
    assert mia["name"] == mia["address"]["name"] == "Mia Member"
    assert mia["picture"] == f"http://localhost:8000/avatars/{world.member.id}.svg"
    assert mia["role"] == "member"
    # Added by an admin: confirmed when added (Frontdesk has no invitation step).
    assert RFC3339_SECONDS.fullmatch(mia["confirmed_at"]), mia["confirmed_at"]
    assert mia["canceled_to"] is None
    assert RFC3339_SECONDS.fullmatch(by_email["owner@example.com"]["confirmed_at"])
    link = urlsplit(mia["link"])
    assert link.netloc == "co-up.localhost:8000"
    one = await new_browser("co-up.localhost:8000").get(link.path, headers=bearer(token))
    assert one.status_code == 200
    assert one.json() == mia


async def test_confirm_and_cancel_reach_the_api(
    state: Any, db: Any, browser: Browser, world: World, issue: Any
) -> None:
    late = await make_user(state, db, "late@example.com", "Lena Late")
    added = await spaces.add_member(db, world.space, email=late.email, confirmed=False)
    await db.commit()
    token = await issue(world.owner)

    async def lena() -> dict[str, Any]:
        listed = await browser.get("/api/spaces/co-up/memberships", headers=bearer(token))
        found: dict[str, Any] = next(m for m in listed.json() if m["email"] == late.email)
        return found

    assert (await lena())["confirmed_at"] is None
    at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    confirmed = await spaces.confirm_membership(db, added.id, at)
    await db.commit()
    assert confirmed.confirmed_at == at
    assert (await lena())["confirmed_at"] == "2026-12-01T09:30:15Z"
    # Confirming again without a date changes nothing.
    await spaces.confirm_membership(db, added.id)
    await db.commit()
    assert (await lena())["confirmed_at"] == "2026-12-01T09:30:15Z"
    canceled = await spaces.cancel_membership(db, added.id, date(2027, 1, 31))
    await db.commit()
    assert canceled.canceled_to == date(2027, 1, 31)
    assert (await lena())["canceled_to"] == "2027-01-31"
    await spaces.cancel_membership(db, added.id, "2027-02-28")
    await db.commit()
    assert (await lena())["canceled_to"] == "2027-02-28"
    await spaces.cancel_membership(db, added.id, None)  # the cancellation is withdrawn
    await db.commit()
    assert (await lena())["canceled_to"] is None


async def test_confirm_and_cancel_refuse_what_they_cannot_store(db: Any, world: World) -> None:
    mia = await spaces.membership_of(db, world.space.id, world.member.id)
    assert mia is not None
    with pytest.raises(FieldError) as naive:
        await spaces.confirm_membership(db, mia.id, datetime(2026, 1, 1, 12, 0))
    assert naive.value.field == "confirmed_at"
    for bad in ("31/01/2027", "2027-02-30", "", "2027-01-31T00:00:00\x00"):
        with pytest.raises(FieldError) as refused:
            await spaces.cancel_membership(db, mia.id, bad)
        assert refused.value.field == "canceled_to"
    with pytest.raises(NotFound):
        await spaces.confirm_membership(db, "no-such-membership")
    with pytest.raises(NotFound):
        await spaces.cancel_membership(db, "no-such-membership", date(2027, 1, 1))
    # Scoped to a space: a membership of another space is not found there.
    with pytest.raises(NotFound):
        await spaces.confirm_membership(db, mia.id, space_id=world.other_space.id)
    await db.rollback()
    unchanged = await spaces.membership_of(db, world.space.id, world.member.id)
    assert unchanged is not None
    assert unchanged.confirmed_at == mia.confirmed_at
    assert unchanged.canceled_to is None


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "http://cdn.example/p.png", "https://cdn.example/a b.png", "/relative.png"]
)
async def test_a_picture_url_must_be_an_https_url(db: Any, world: World, url: str) -> None:
    with pytest.raises(FieldError) as refused:
        await accounts.set_picture_url(db, world.member.id, url)
    assert refused.value.field == "picture_url"


async def test_clearing_the_picture_brings_the_avatar_back(
    db: Any, browser: Browser, world: World, issue: Any
) -> None:
    await accounts.set_picture_url(db, world.member.id, "https://cdn.platform.example/mia.jpg")
    await db.commit()
    await accounts.set_picture_url(db, world.member.id, None)
    await db.commit()
    me = await browser.get("/api/user", headers=bearer(await issue(world.member)))
    assert me.json()["picture"] == f"http://localhost:8000/avatars/{world.member.id}.svg"
