"""The contract of :mod:`frontdesk.oauth.storage`, held on every implementation: the in-memory
storage of these tests and the SQL storage (SQLite, and PostgreSQL when configured).

Each test speaks only the storage interface (plus the backend's setup helpers), so a storage
that passes here is one the protocol core can run on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from frontdesk import events
from frontdesk.oauth.models import NewCode, NewToken, Person, SpaceRole
from frontdesk.oauth.storage import (
    AppGrants,
    CodeGrant,
    FamilyGrant,
    NewRefreshToken,
    SpaceAppGrant,
    TokenGrant,
    UserAppGrant,
)
from frontdesk.security.randoms import (
    ACCESS_TOKEN_PREFIX,
    CODE_PREFIX,
    REFRESH_TOKEN_PREFIX,
    new_id,
    new_secret,
)
from tests.core.conftest import CALLBACK, ISSUER, Backend, Registered, Unit

SCOPES = ("read_user", "read_memberships")


@dataclass
class Scene:
    """Who and what the contract tests need: an app (owned by ``dev``) and a second one,
    ``pat`` who uses them, and a space owned by ``olga`` where ``pat`` is an admin."""

    dev: Person
    pat: Person
    olga: Person
    app: Registered
    other_app: Registered
    space_id: str


@pytest.fixture
async def scene(backend: Backend) -> Scene:
    dev = await backend.add_person("dev@example.com", "Dana Developer")
    pat = await backend.add_person("pat@example.com", "Pat Person")
    olga = await backend.add_person("olga@example.com", "Olga Owner")
    app = await backend.add_client(dev)
    other_app = await backend.add_client(dev)
    space_id = await backend.add_space(olga, "olgas")
    await backend.set_role(space_id, pat, "admin")
    return Scene(dev, pat, olga, app, other_app, space_id)


def now() -> datetime:
    return datetime.now(UTC)


# ---- staging tokens, codes and refresh tokens ---------------------------------------------------


async def save_code(
    backend: Backend, scene: Scene, *, client: Registered | None = None, user: Person | None = None
) -> str:
    raw = new_secret(CODE_PREFIX)
    await backend.storage.save_code(
        raw,
        NewCode(
            client_id=(client or scene.app).client_id,
            user_id=(user or scene.pat).id,
            space_id=None,
            issuer=ISSUER,
            redirect_uri=CALLBACK,
            redirect_uri_sent=True,
            scopes=SCOPES,
            code_challenge=None,
            code_challenge_method=None,
            nonce="n-1",
            auth_time=now().replace(microsecond=0) - timedelta(minutes=5),
            expires_at=now() + timedelta(seconds=60),
        ),
    )
    return raw


async def redeemed_code_id(backend: Backend, scene: Scene) -> str:
    """The id of a code that was issued and redeemed (tokens point at it)."""
    consumed = await backend.storage.consume_code(await save_code(backend, scene))
    assert consumed.code is not None
    return consumed.code.id


async def save_token(
    backend: Backend,
    scene: Scene,
    *,
    client: Registered | None = None,
    user: Person | None = None,
    space_id: str | None = None,
    code_id: str | None = None,
    parent_id: str | None = None,
    family_id: str | None = None,
    expires_at: datetime | None = None,
    grant_type: str = "authorization_code",
    act: str | None = None,
) -> tuple[str, str]:
    """A stored access token: (raw, id)."""
    raw = new_secret(ACCESS_TOKEN_PREFIX)
    token_id = await backend.storage.save_token(
        raw,
        NewToken(
            client_id=(client or scene.app).client_id,
            user_id=(user or scene.pat).id,
            scopes=SCOPES,
            grant_type=grant_type,
            space_id=space_id,
            code_id=code_id,
            parent_id=parent_id,
            family_id=family_id,
            issuer=ISSUER,
            expires_at=expires_at,
            act=act,
        ),
    )
    return raw, token_id


async def save_refresh(
    backend: Backend,
    scene: Scene,
    *,
    family_id: str,
    access_token_id: str,
    client: Registered | None = None,
    code_id: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    raw = new_secret(REFRESH_TOKEN_PREFIX)
    await backend.storage.save_refresh_token(
        raw,
        NewRefreshToken(
            family_id=family_id,
            client_id=(client or scene.app).client_id,
            user_id=scene.pat.id,
            scopes=SCOPES,
            access_token_id=access_token_id,
            issuer=ISSUER,
            code_id=code_id,
            expires_at=expires_at,
        ),
    )
    return raw


async def family(
    backend: Backend, scene: Scene, *, code_id: str | None = None, client: Registered | None = None
) -> tuple[str, str, str]:
    """A refresh family started as RefreshTokenExtra starts one: (family id, access token raw,
    refresh token raw)."""
    family_id = new_id()
    raw, token_id = await save_token(backend, scene, code_id=code_id, client=client)
    await backend.storage.assign_token_family(token_id, family_id)
    refresh = await save_refresh(
        backend, scene, family_id=family_id, access_token_id=token_id, code_id=code_id, client=client
    )
    return family_id, raw, refresh


async def revoked(backend: Backend, raw: str) -> bool:
    info = await backend.storage.lookup_token(raw)
    assert info is not None
    return info.revoked


async def refresh_revoked(backend: Backend, raw: str) -> bool:
    record = await backend.storage.find_refresh_token(raw)
    assert record is not None
    return record.revoked_at is not None


# ---- clients --------------------------------------------------------------------------------


@pytest.mark.rfc("6749 2.3.1")
async def test_client_secret_is_checked_against_its_digest(backend: Backend, scene: Scene) -> None:
    client = await backend.storage.get_client(scene.app.client_id)
    assert client == scene.app.client
    assert scene.app.secret is not None
    assert await backend.storage.check_client_secret(client, scene.app.secret) is True
    assert await backend.storage.check_client_secret(client, scene.app.secret + "x") is False
    assert await backend.storage.get_client("no-such-client") is None


@pytest.mark.rfc("6749 2.1")
async def test_a_public_client_has_no_secret_that_matches(backend: Backend, scene: Scene) -> None:
    public = await backend.add_client(scene.dev, public=True)
    assert public.secret is None
    assert await backend.storage.check_client_secret(public.client, "") is False
    assert await backend.storage.check_client_secret(public.client, "anything") is False


# ---- codes ----------------------------------------------------------------------------------


@pytest.mark.rfc("6749 4.1.2")
async def test_a_code_is_consumed_once_then_names_itself_as_replayed(backend: Backend, scene: Scene) -> None:
    raw = await save_code(backend, scene)
    await backend.commit()
    first = await backend.storage.consume_code(raw)
    assert first.code is not None and first.replayed_code_id is None
    assert first.code.id != ""
    assert (first.code.client_id, first.code.user_id, first.code.scopes) == (
        scene.app.client_id,
        scene.pat.id,
        SCOPES,
    )
    assert (first.code.redirect_uri, first.code.nonce, first.code.issuer) == (CALLBACK, "n-1", ISSUER)
    await backend.commit()
    second = await backend.storage.consume_code(raw)
    assert second.code is None
    assert second.replayed_code_id == first.code.id


async def test_an_unknown_code_is_neither_consumed_nor_replayed(backend: Backend, scene: Scene) -> None:
    consumed = await backend.storage.consume_code(new_secret(CODE_PREFIX))
    assert consumed.code is None
    assert consumed.replayed_code_id is None


async def test_a_consumption_rolled_back_leaves_the_code_usable(backend: Backend, scene: Scene) -> None:
    raw = await save_code(backend, scene)
    await backend.commit()
    assert (await backend.storage.consume_code(raw)).code is not None
    await backend.rollback()
    assert (await backend.storage.consume_code(raw)).code is not None


@pytest.mark.rfc("6749 10.5")
async def test_of_concurrent_redemptions_exactly_one_gets_the_code(backend: Backend, scene: Scene) -> None:
    raw = await save_code(backend, scene)
    await backend.commit()

    async def redeem(unit: Unit) -> str:
        consumed = await unit.storage.consume_code(raw)
        await unit.commit()
        return "won" if consumed.code is not None else f"replayed {consumed.replayed_code_id is not None}"

    async with backend.unit() as a, backend.unit() as b:
        outcomes = await asyncio.gather(redeem(a), redeem(b))
    assert sorted(outcomes) == ["replayed True", "won"]


# ---- access tokens --------------------------------------------------------------------------


@pytest.mark.rfc("6750 2")
async def test_a_saved_token_is_found_by_its_raw_value(backend: Backend, scene: Scene) -> None:
    expires = now().replace(microsecond=0) + timedelta(hours=1)
    raw, token_id = await save_token(backend, scene, space_id=scene.space_id, expires_at=expires)
    await backend.commit()
    info = await backend.storage.lookup_token(raw)
    assert info is not None
    assert info.id == token_id
    assert (info.client_id, info.user_id, info.space_id) == (
        scene.app.client_id,
        scene.pat.id,
        scene.space_id,
    )
    assert (info.scopes, info.grant_type, info.issuer) == (SCOPES, "authorization_code", ISSUER)
    assert info.expires_at == expires
    assert info.revoked is False
    assert info.family_id is None
    assert await backend.storage.lookup_token(raw + "x") is None


async def test_revoked_and_expired_tokens_are_returned_as_such(backend: Backend, scene: Scene) -> None:
    past = now().replace(microsecond=0) - timedelta(seconds=1)
    expired, _ = await save_token(backend, scene, expires_at=past)
    gone, gone_id = await save_token(backend, scene)
    await backend.storage.revoke_grant(TokenGrant(gone_id))
    await backend.commit()
    expired_info = await backend.storage.lookup_token(expired)
    assert expired_info is not None
    assert expired_info.expires_at == past
    assert expired_info.revoked is False
    assert await revoked(backend, gone) is True


async def test_assigning_a_family_shows_in_the_lookup(backend: Backend, scene: Scene) -> None:
    raw, token_id = await save_token(backend, scene)
    await backend.storage.assign_token_family(token_id, "family-1")
    await backend.commit()
    info = await backend.storage.lookup_token(raw)
    assert info is not None
    assert info.family_id == "family-1"


@pytest.mark.rfc("8693 4.1")
async def test_a_delegated_tokens_act_claim_is_kept(backend: Backend, scene: Scene) -> None:
    act = '{"sub":"olga","client_id":"app","act":{"sub":"pat","client_id":"app"}}'
    raw, _ = await save_token(backend, scene, act=act)
    plain, _ = await save_token(backend, scene)
    await backend.commit()
    info = await backend.storage.lookup_token(raw)
    assert info is not None and info.act == act
    other = await backend.storage.lookup_token(plain)
    assert other is not None and other.act is None


# ---- revoking grants ------------------------------------------------------------------------


@pytest.mark.rfc("7009 2.1")
async def test_token_grant_without_a_family_revokes_that_token_alone(backend: Backend, scene: Scene) -> None:
    raw, token_id = await save_token(backend, scene)
    other, _ = await save_token(backend, scene)
    result = await backend.storage.revoke_grant(TokenGrant(token_id))
    await backend.commit()
    assert result.access_token_ids == (token_id,)
    assert result.refresh_tokens == 0
    assert await revoked(backend, raw) is True
    assert await revoked(backend, other) is False


@pytest.mark.rfc("7009 2.1")
async def test_token_grant_takes_the_refresh_family_of_the_token(backend: Backend, scene: Scene) -> None:
    family_id, first, refresh = await family(backend, scene)
    second, second_id = await save_token(backend, scene, family_id=family_id)
    _, unrelated, unrelated_refresh = await family(backend, scene)
    result = await backend.storage.revoke_grant(TokenGrant(second_id))
    await backend.commit()
    assert len(result.access_token_ids) == 2
    assert result.refresh_tokens == 1
    assert (await revoked(backend, first), await revoked(backend, second)) == (True, True)
    assert await refresh_revoked(backend, refresh) is True
    assert await revoked(backend, unrelated) is False
    assert await refresh_revoked(backend, unrelated_refresh) is False


@pytest.mark.rfc("9700 4.14.2")
async def test_family_grant_revokes_every_token_of_the_family(backend: Backend, scene: Scene) -> None:
    family_id, first, refresh = await family(backend, scene)
    later, _ = await save_token(backend, scene, family_id=family_id)
    later_refresh = await save_refresh(backend, scene, family_id=family_id, access_token_id="x")
    _, unrelated, _ = await family(backend, scene)
    result = await backend.storage.revoke_grant(FamilyGrant(family_id))
    await backend.commit()
    assert result.tokens == 4
    assert [await revoked(backend, t) for t in (first, later, unrelated)] == [True, True, False]
    assert [await refresh_revoked(backend, r) for r in (refresh, later_refresh)] == [True, True]


@pytest.mark.rfc("6749 10.5")
async def test_code_grant_takes_the_code_tokens_and_families_and_descendants_only_when_asked(
    backend: Backend, scene: Scene
) -> None:
    code_id = await redeemed_code_id(backend, scene)
    family_id, issued, refresh = await family(backend, scene, code_id=code_id)
    _, issued_id = await save_token(backend, scene, family_id=family_id)  # refreshed, same family
    # A space token traded for the refreshed token: linked by parent, not by family or code.
    space_token, _ = await save_token(backend, scene, space_id=scene.space_id, parent_id=issued_id)
    unrelated, _ = await save_token(backend, scene)
    await backend.commit()

    result = await backend.storage.revoke_grant(CodeGrant(code_id))
    assert (len(result.access_token_ids), result.refresh_tokens) == (2, 1)
    assert await revoked(backend, issued) is True
    assert await refresh_revoked(backend, refresh) is True
    assert await revoked(backend, space_token) is False
    await backend.rollback()

    result = await backend.storage.revoke_grant(CodeGrant(code_id), descendants=True)
    await backend.commit()
    assert (len(result.access_token_ids), result.refresh_tokens) == (3, 1)
    assert await revoked(backend, space_token) is True
    assert await revoked(backend, unrelated) is False


async def test_descendants_are_followed_by_parent_transitively(backend: Backend, scene: Scene) -> None:
    # root <- child <- grandchild (which starts family F with a refresh token); F also holds
    # a refreshed token, from which a space token was derived.
    root, root_id = await save_token(backend, scene)
    child, child_id = await save_token(backend, scene, parent_id=root_id)
    family_id = new_id()
    grandchild, grandchild_id = await save_token(backend, scene, parent_id=child_id, family_id=family_id)
    refresh = await save_refresh(backend, scene, family_id=family_id, access_token_id=grandchild_id)
    refreshed, refreshed_id = await save_token(backend, scene, family_id=family_id)
    space_token, _ = await save_token(backend, scene, space_id=scene.space_id, parent_id=refreshed_id)
    unrelated, _ = await save_token(backend, scene)
    await backend.commit()

    plain = await backend.storage.revoke_grant(TokenGrant(root_id))
    assert plain.access_token_ids == (root_id,)
    assert await revoked(backend, child) is False
    await backend.rollback()

    deep = await backend.storage.revoke_grant(TokenGrant(root_id), descendants=True)
    await backend.commit()
    assert (len(deep.access_token_ids), deep.refresh_tokens) == (5, 1)
    for raw in (root, child, grandchild, refreshed, space_token):
        assert await revoked(backend, raw) is True
    assert await refresh_revoked(backend, refresh) is True
    assert await revoked(backend, unrelated) is False


async def test_user_app_grant_takes_user_tokens_codes_and_consent_not_space_tokens(
    backend: Backend, scene: Scene
) -> None:
    _, user_token, refresh = await family(backend, scene)
    space_token, _ = await save_token(backend, scene, space_id=scene.space_id)
    other_app_token, _ = await save_token(backend, scene, client=scene.other_app)
    olgas_token, _ = await save_token(backend, scene, user=scene.olga)
    pending = await save_code(backend, scene)
    others_code = await save_code(backend, scene, client=scene.other_app)
    await backend.storage.remember_consent(scene.pat.id, scene.app.client_id, None, SCOPES)
    await backend.storage.remember_consent(scene.pat.id, scene.other_app.client_id, None, SCOPES)
    await backend.commit()

    result = await backend.storage.revoke_grant(UserAppGrant(scene.pat.id, scene.app.client_id))
    await backend.commit()
    assert (len(result.access_token_ids), result.refresh_tokens, result.codes, result.consents) == (
        1,
        1,
        1,
        1,
    )
    assert [await revoked(backend, t) for t in (user_token, space_token, other_app_token, olgas_token)] == [
        True,
        False,
        False,
        False,
    ]
    assert await refresh_revoked(backend, refresh) is True
    assert await backend.storage.granted_scopes(scene.pat.id, scene.app.client_id, None) == frozenset()
    assert await backend.storage.granted_scopes(scene.pat.id, scene.other_app.client_id, None) == set(SCOPES)
    # The pending code now expires at once (it is still there to consume: the grant refuses it).
    expired = await backend.storage.consume_code(pending)
    assert expired.code is not None
    assert expired.code.expires_at <= now()
    untouched = await backend.storage.consume_code(others_code)
    assert untouched.code is not None
    assert untouched.code.expires_at > now()


async def test_space_app_grant_takes_the_apps_tokens_in_that_space(backend: Backend, scene: Scene) -> None:
    in_space, _ = await save_token(backend, scene, space_id=scene.space_id)
    owners, _ = await save_token(backend, scene, user=scene.olga, space_id=scene.space_id)
    user_token, _ = await save_token(backend, scene)
    other_app, _ = await save_token(backend, scene, client=scene.other_app, space_id=scene.space_id)
    elsewhere_id = await backend.add_space(scene.pat, "pats")
    elsewhere, _ = await save_token(backend, scene, space_id=elsewhere_id)
    await backend.commit()
    result = await backend.storage.revoke_grant(SpaceAppGrant(scene.space_id, scene.app.client_id))
    await backend.commit()
    assert (len(result.access_token_ids), result.codes, result.consents) == (2, 0, 0)
    assert [await revoked(backend, t) for t in (in_space, owners, user_token, other_app, elsewhere)] == [
        True,
        True,
        False,
        False,
        False,
    ]


async def test_app_grants_take_everything_of_the_app(backend: Backend, scene: Scene) -> None:
    _, user_token, refresh = await family(backend, scene)
    space_token, _ = await save_token(backend, scene, space_id=scene.space_id)
    other_app, _ = await save_token(backend, scene, client=scene.other_app)
    await save_code(backend, scene)
    await save_code(backend, scene, user=scene.olga)
    await backend.storage.remember_consent(scene.pat.id, scene.app.client_id, None, SCOPES)
    await backend.storage.remember_consent(scene.pat.id, scene.app.client_id, scene.space_id, SCOPES)
    await backend.commit()
    result = await backend.storage.revoke_grant(AppGrants(scene.app.client_id))
    await backend.commit()
    # The user token, the space token and the owner's test token.
    assert (len(result.access_token_ids), result.refresh_tokens, result.codes, result.consents) == (
        3,
        1,
        2,
        2,
    )
    assert [
        await revoked(backend, t) for t in (user_token, space_token, scene.app.test_token, other_app)
    ] == [
        True,
        True,
        True,
        False,
    ]
    assert await refresh_revoked(backend, refresh) is True


async def test_revoking_again_changes_nothing(backend: Backend, scene: Scene) -> None:
    family_id, _, _ = await family(backend, scene)
    assert (await backend.storage.revoke_grant(FamilyGrant(family_id))).anything is True
    await backend.commit()
    again = await backend.storage.revoke_grant(FamilyGrant(family_id), descendants=True)
    assert again.anything is False


async def test_a_revocation_rolled_back_is_undone(backend: Backend, scene: Scene) -> None:
    raw, token_id = await save_token(backend, scene)
    await backend.commit()
    await backend.storage.revoke_grant(TokenGrant(token_id))
    await backend.rollback()
    assert await revoked(backend, raw) is False


# ---- refresh tokens -------------------------------------------------------------------------


@pytest.mark.rfc("9700 4.14.2")
async def test_a_refresh_token_rotates_once(backend: Backend, scene: Scene) -> None:
    family_id, _, refresh = await family(backend, scene)
    await backend.commit()
    moment = now().replace(microsecond=0)
    first = await backend.storage.rotate_refresh_token(refresh, scene.app.client_id, moment)
    assert first.rotated is not None and first.found is None
    assert (first.rotated.family_id, first.rotated.rotated_at) == (family_id, moment)
    await backend.commit()
    second = await backend.storage.rotate_refresh_token(refresh, scene.app.client_id, moment)
    assert second.rotated is None
    assert second.found is not None
    assert second.found.rotated_at == moment


@pytest.mark.rfc("9700 4.14.2")
async def test_of_concurrent_refreshes_exactly_one_rotates(backend: Backend, scene: Scene) -> None:
    _, _, refresh = await family(backend, scene)
    await backend.commit()

    async def rotate(unit: Unit) -> str:
        rotation = await unit.storage.rotate_refresh_token(refresh, scene.app.client_id, now())
        await unit.commit()
        return "rotated" if rotation.rotated is not None else f"found {rotation.found is not None}"

    async with backend.unit() as a, backend.unit() as b:
        outcomes = await asyncio.gather(rotate(a), rotate(b))
    assert sorted(outcomes) == ["found True", "rotated"]


@pytest.mark.rfc("6749 6")
async def test_another_clients_token_is_found_and_left_alone(backend: Backend, scene: Scene) -> None:
    _, _, refresh = await family(backend, scene)
    await backend.commit()
    rotation = await backend.storage.rotate_refresh_token(refresh, scene.other_app.client_id, now())
    assert rotation.rotated is None
    assert rotation.found is not None
    assert rotation.found.client_id == scene.app.client_id
    assert rotation.found.rotated_at is None
    await backend.commit()
    assert (
        await backend.storage.rotate_refresh_token(refresh, scene.app.client_id, now())
    ).rotated is not None


async def test_revoked_expired_and_unknown_refresh_tokens_do_not_rotate(
    backend: Backend, scene: Scene
) -> None:
    family_id = new_id()
    _, token_id = await save_token(backend, scene, family_id=family_id)
    ends = now().replace(microsecond=0) + timedelta(days=1)
    expiring = await save_refresh(
        backend, scene, family_id=new_id(), access_token_id=token_id, expires_at=ends
    )
    revoked_raw = await save_refresh(backend, scene, family_id=family_id, access_token_id=token_id)
    await backend.storage.revoke_grant(FamilyGrant(family_id))
    await backend.commit()

    gone = await backend.storage.rotate_refresh_token(revoked_raw, scene.app.client_id, now())
    assert gone.rotated is None
    assert gone.found is not None and gone.found.revoked_at is not None

    late = await backend.storage.rotate_refresh_token(expiring, scene.app.client_id, ends)
    assert late.rotated is None
    assert late.found is not None and late.found.expires_at == ends

    unknown = await backend.storage.rotate_refresh_token(
        new_secret(REFRESH_TOKEN_PREFIX), scene.app.client_id, now()
    )
    assert (unknown.rotated, unknown.found) == (None, None)
    assert await backend.storage.find_refresh_token(new_secret(REFRESH_TOKEN_PREFIX)) is None


@pytest.mark.rfc("OIDC Core 12.2")
async def test_a_rotated_token_carries_what_its_family_started_from(backend: Backend, scene: Scene) -> None:
    raw_code = await save_code(backend, scene)
    code = (await backend.storage.consume_code(raw_code)).code
    assert code is not None
    _, _, from_code = await family(backend, scene, code_id=code.id)
    _, _, from_password = await family(backend, scene)
    await backend.commit()
    first_of_family = await backend.storage.find_refresh_token(from_password)
    assert first_of_family is not None

    by_code = (await backend.storage.rotate_refresh_token(from_code, scene.app.client_id, now())).rotated
    assert by_code is not None
    assert (by_code.auth_time, by_code.auth_space_id, by_code.code_id) == (code.auth_time, None, code.id)
    by_password = (
        await backend.storage.rotate_refresh_token(from_password, scene.app.client_id, now())
    ).rotated
    assert by_password is not None
    assert by_password.auth_time == first_of_family.created_at


# ---- consent --------------------------------------------------------------------------------


@pytest.mark.rfc("6819 5.2.4.1")
async def test_consent_is_merged_per_app_and_host(backend: Backend, scene: Scene) -> None:
    storage = backend.storage
    assert await storage.granted_scopes(scene.pat.id, scene.app.client_id, None) == frozenset()
    await storage.remember_consent(scene.pat.id, scene.app.client_id, None, ("read_user",))
    await storage.remember_consent(scene.pat.id, scene.app.client_id, None, ("read_memberships",))
    await storage.remember_consent(scene.pat.id, scene.app.client_id, scene.space_id, ("openid",))
    await backend.commit()
    assert await storage.granted_scopes(scene.pat.id, scene.app.client_id, None) == {
        "read_user",
        "read_memberships",
    }
    assert await storage.granted_scopes(scene.pat.id, scene.app.client_id, scene.space_id) == {"openid"}
    assert await storage.granted_scopes(scene.olga.id, scene.app.client_id, None) == frozenset()


# ---- people and spaces ----------------------------------------------------------------------


async def test_a_person_is_who_they_signed_up_as(backend: Backend, scene: Scene) -> None:
    found = await backend.storage.person(scene.pat.id)
    assert found is not None
    assert (found.id, found.email, found.name) == (scene.pat.id, "pat@example.com", "Pat Person")
    assert await backend.storage.person(new_id()) is None


@pytest.mark.rfc("OIDC Core 5.1")
async def test_space_role_is_the_persons_place_or_none_when_the_space_is_gone(
    backend: Backend, scene: Scene
) -> None:
    storage = backend.storage
    assert await storage.space_role(scene.space_id, scene.pat.id) == SpaceRole(
        scene.space_id, "olgas", "admin"
    )
    await backend.set_role(scene.space_id, scene.pat, "member")
    assert await storage.space_role(scene.space_id, scene.pat.id) == SpaceRole(
        scene.space_id, "olgas", "member"
    )
    assert await storage.space_role(scene.space_id, scene.dev.id) == SpaceRole(scene.space_id, "olgas", None)
    await backend.remove_space(scene.space_id)
    assert await storage.space_role(scene.space_id, scene.pat.id) is None


async def test_a_space_token_acts_for_its_creator_while_admin_then_for_the_owner(
    backend: Backend, scene: Scene
) -> None:
    raw, _ = await save_token(backend, scene, space_id=scene.space_id, grant_type="space")
    await backend.commit()
    info = await backend.storage.lookup_token(raw)
    assert info is not None

    actor = await backend.storage.acting_person(info)
    assert actor is not None and actor.id == scene.pat.id
    await backend.set_role(scene.space_id, scene.pat, "member")
    actor = await backend.storage.acting_person(info)
    assert actor is not None and actor.id == scene.olga.id
    await backend.set_role(scene.space_id, scene.pat, None)
    actor = await backend.storage.acting_person(info)
    assert actor is not None and actor.id == scene.olga.id
    await backend.remove_space(scene.space_id)
    assert await backend.storage.acting_person(info) is None


async def test_a_user_token_acts_for_its_user_while_the_account_exists(
    backend: Backend, scene: Scene
) -> None:
    raw, _ = await save_token(backend, scene, user=scene.dev)
    await backend.commit()
    info = await backend.storage.lookup_token(raw)
    assert info is not None
    actor = await backend.storage.acting_person(info)
    assert actor is not None and actor.id == scene.dev.id
    await backend.remove_person(scene.dev)
    assert await backend.storage.acting_person(info) is None


# ---- signing keys and events ----------------------------------------------------------------


async def test_the_first_signing_key_is_committed_with_the_work_or_not_at_all(
    backend: Backend, scene: Scene
) -> None:
    dropped = await backend.storage.signing_key()
    assert (await backend.storage.signing_key()).kid == dropped.kid  # one key per transaction
    await backend.rollback()
    kept = await backend.storage.signing_key()
    assert kept.kid != dropped.kid
    assert kept.alg == "RS256"
    await backend.commit()
    async with backend.unit() as other:
        assert (await other.storage.signing_key()).kid == kept.kid


async def test_events_are_staged_with_the_work_and_checked(backend: Backend, scene: Scene) -> None:
    await backend.storage.record_event(events.TOKEN_REVOKED, user_id=scene.pat.id, detail={"token_id": "t1"})
    await backend.rollback()
    await backend.storage.record_event(
        events.TOKEN_ISSUED,
        user_id=scene.pat.id,
        app_id=scene.app.client_id,
        ip="203.0.113.9",
        detail={"n": 1},
    )
    await backend.commit()
    # (The scene's own user.created, app.created… events aside.)
    logged = [
        (e.event, e.user_id, e.app_id, e.ip, e.detail)
        for e in await backend.events()
        if e.event.startswith("token.")
    ]
    assert logged == [(events.TOKEN_ISSUED, scene.pat.id, scene.app.client_id, "203.0.113.9", {"n": 1})]
    with pytest.raises(ValueError, match="unknown audit event"):
        await backend.storage.record_event("token.leaked")
    with pytest.raises(ValueError, match="secret"):
        await backend.storage.record_event(events.TOKEN_ISSUED, detail={"token": "fdat_x"})


@pytest.mark.rfc("9700 4.14.2")
async def test_descendants_of_a_family_revoked_earlier_are_still_reached(
    backend: Backend, scene: Scene
) -> None:
    # RFC 7009 revocation takes the family without descendants; a space token traded for one
    # of its access tokens lives on. Revoking the family again with descendants (a reused
    # refresh token, say) reaches it all the same: it derives from a token of the family.
    family_id, _, _ = await family(backend, scene)
    _, member_id = await save_token(backend, scene, family_id=family_id)
    space_token, _ = await save_token(backend, scene, space_id=scene.space_id, parent_id=member_id)
    await backend.storage.revoke_grant(FamilyGrant(family_id))
    await backend.commit()
    assert await revoked(backend, space_token) is False
    await backend.storage.revoke_grant(FamilyGrant(family_id), descendants=True)
    await backend.commit()
    assert await revoked(backend, space_token) is True
