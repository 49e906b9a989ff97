"""OpenID Connect Core: ID tokens, the JWKS, UserInfo and signing-key rotation."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import event, select, update

from frontdesk.oauth.oidc import at_hash
from frontdesk.services import signing_keys as keys
from frontdesk.services import spaces
from frontdesk.store.key_storage import unseal
from frontdesk.store.models import LoginSession, SigningKey
from frontdesk.store.types import utcnow
from tests.oauth_support import TOKEN_URL, RegisteredApp, exchange, get_code, make_user, register_app
from tests.support import PASSWORD, Browser

OIDC_SCOPES = "openid email profile"
MAIN = "http://localhost:8000"
SPACE = "http://co-up.localhost:8000"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def oidc_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name="OIDC App", scopes=f"read_user {OIDC_SCOPES}")


async def jwks(b: Browser) -> dict[str, Any]:
    response = await b.get("/jwks.json")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


async def verify(b: Browser, id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of an ID token, verified with the keys from this host's /jwks.json."""
    key_set = KeySet.import_key_set(await jwks(b))  # type: ignore[arg-type]
    token = jwt.decode(id_token, key_set, algorithms=["RS256"])
    return dict(token.header), dict(token.claims)


async def code_flow(b: Browser, app: RegisteredApp, token_client: Browser, **params: str) -> dict[str, Any]:
    code = await get_code(b, app, **params)
    response = await exchange(token_client, app, code)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def auth_time_of(db: Any, user_id: str) -> int:
    session = (
        (
            await db.execute(
                select(LoginSession)
                .where(LoginSession.user_id == user_id)
                .order_by(LoginSession.created_at.desc())
            )
        )
        .scalars()
        .first()
    )
    return int(session.created_at.timestamp())


@pytest.mark.rfc("OIDC 3.1.3.7")
async def test_id_token_from_the_code_flow(
    logged_in: Browser, oidc_app: RegisteredApp, person: Any, db: Any
) -> None:
    body = await code_flow(logged_in, oidc_app, logged_in, scope=OIDC_SCOPES, nonce="n-0S6_WzA2Mj")
    assert set(body) == {"access_token", "token_type", "scope", "id_token"}
    assert body["scope"] == OIDC_SCOPES
    header, claims = await verify(logged_in, body["id_token"])
    assert header["alg"] == "RS256" and header["kid"] in {k["kid"] for k in (await jwks(logged_in))["keys"]}
    assert claims["iss"] == MAIN
    assert claims["sub"] == person.id
    assert claims["aud"] == oidc_app.client_id
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["auth_time"] == await auth_time_of(db, person.id)
    assert claims["exp"] > claims["iat"] >= claims["auth_time"]
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["iat"] - utcnow().timestamp()) < 60
    assert claims["at_hash"] == at_hash(body["access_token"])
    assert claims["email"] == "pat@example.com" and claims["email_verified"] is False
    assert claims["name"] == "Pat Person"
    assert "space" not in claims
    # The access token that came with it works at the UserInfo endpoint.
    info = await logged_in.get("/api/userinfo", headers=bearer(body["access_token"]))
    assert info.status_code == 200 and info.json()["sub"] == person.id


@pytest.mark.rfc("OIDC 3.1.3.6")
def test_at_hash_matches_the_specification_example() -> None:
    # OIDC Core Appendix A.3/A.4.
    assert at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y") == "77QmUPtjPfzWtF2AnpK9RQ"


@pytest.mark.rfc("OIDC 5.4")
async def test_claims_follow_the_scopes(logged_in: Browser, oidc_app: RegisteredApp, person: Any) -> None:
    body = await code_flow(logged_in, oidc_app, logged_in, scope="openid")
    _, claims = await verify(logged_in, body["id_token"])
    assert claims["sub"] == person.id
    assert "nonce" not in claims  # the authorization request had none
    assert not {"email", "email_verified", "name", "space"} & set(claims)
    body = await code_flow(logged_in, oidc_app, logged_in, scope="openid email")
    _, claims = await verify(logged_in, body["id_token"])
    assert claims["email"] == "pat@example.com" and "name" not in claims


@pytest.mark.rfc("OIDC 3.1.3.3")
async def test_no_openid_no_id_token(logged_in: Browser, oidc_app: RegisteredApp) -> None:
    body = await code_flow(logged_in, oidc_app, logged_in, scope="read_user email profile")
    assert set(body) == {"access_token", "token_type", "scope"}


@pytest.mark.rfc("OIDC 2")
async def test_id_token_on_a_space_host(
    state: Any, db: Any, person: Any, oidc_app: RegisteredApp, new_browser: Any
) -> None:
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    member = await make_user(state, db, "mo@example.com", name="Mo Member")
    await spaces.add_member(db, space, email="mo@example.com")
    await db.commit()
    outsider = await make_user(state, db, "out@example.com", name="Olli Outsider")
    main = new_browser()
    expected = {person.id: "admin", member.id: "member", outsider.id: None}
    for user in (person, member, outsider):
        b: Browser = new_browser("co-up.localhost:8000")
        assert (await b.login(user.email)).status_code == 303
        # The code is redeemed at the main host's token endpoint, as Cobot clients do.
        body = await code_flow(b, oidc_app, main, scope=OIDC_SCOPES, nonce=f"nonce-{user.id}")
        _, claims = await verify(b, body["id_token"])
        assert claims["iss"] == SPACE
        assert claims["sub"] == user.id and claims["aud"] == oidc_app.client_id
        assert claims["nonce"] == f"nonce-{user.id}"
        assert claims["space"] == {"id": space.id, "subdomain": "co-up", "role": expected[user.id]}
        # The space's UserInfo answer agrees with the ID token.
        info = await b.get("/api/userinfo", headers=bearer(body["access_token"]))
        assert info.status_code == 200, info.text
        assert info.json()["space"] == claims["space"] and info.json()["sub"] == user.id
    # Every host publishes the same keys.
    assert await jwks(main) == await jwks(new_browser("co-up.localhost:8000"))


@pytest.mark.rfc("OIDC 3.1.3.3")
async def test_password_grant_gets_an_id_token(
    browser: Browser, oidc_app: RegisteredApp, person: Any
) -> None:
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "pat@example.com",
            "password": PASSWORD,
            "scope": "openid profile",
            "client_id": oidc_app.client_id,
            "client_secret": oidc_app.client_secret or "",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    _, claims = await verify(browser, body["id_token"])
    assert claims["iss"] == MAIN and claims["sub"] == person.id and claims["name"] == "Pat Person"
    assert claims["aud"] == oidc_app.client_id and "nonce" not in claims and "email" not in claims
    assert abs(claims["auth_time"] - claims["iat"]) <= 1


@pytest.mark.rfc("OIDC 5.3")
async def test_userinfo(logged_in: Browser, oidc_app: RegisteredApp, person: Any) -> None:
    body = await code_flow(logged_in, oidc_app, logged_in, scope=f"read_user {OIDC_SCOPES}")
    token = body["access_token"]
    expected = {"sub": person.id, "email": "pat@example.com", "email_verified": False, "name": "Pat Person"}
    got = await logged_in.get("/api/userinfo", headers=bearer(token))
    # Besides the claims, the token's scopes (docs/integrating.md, "Scopes").
    expected_info = {**expected, "scope": f"read_user {OIDC_SCOPES}"}
    assert got.status_code == 200 and got.json() == expected_info
    assert got.headers["cache-control"] == "no-store"
    # POST (§5.3.1), with the token in the header or in the form body (RFC 6750 §2.2).
    posted = await logged_in.post("/api/userinfo", headers=bearer(token))
    assert posted.status_code == 200 and posted.json() == expected_info
    in_body = await logged_in.post("/api/userinfo", data={"access_token": token})
    assert in_body.status_code == 200 and in_body.json() == expected_info
    # The ID token says the same.
    _, claims = await verify(logged_in, body["id_token"])
    assert {k: claims[k] for k in expected} == expected


@pytest.mark.rfc("OIDC 5.1")
async def test_the_locale_claim_is_the_accounts_language(
    logged_in: Browser, oidc_app: RegisteredApp, person: Any
) -> None:
    """``locale`` (profile scope) once the account has a language, and the one chosen last."""
    body = await code_flow(logged_in, oidc_app, logged_in, scope=OIDC_SCOPES)
    token = body["access_token"]
    assert "locale" not in (await logged_in.get("/api/userinfo", headers=bearer(token))).json()
    chosen = await logged_in.post(
        "/language", data={"locale": "de", "next": "/", "csrf_token": await logged_in.token("/")}
    )
    assert chosen.status_code == 303
    info = await logged_in.get("/api/userinfo", headers=bearer(token))
    assert info.status_code == 200 and info.json()["locale"] == "de"
    _, claims = await verify(
        logged_in, (await code_flow(logged_in, oidc_app, logged_in, scope=OIDC_SCOPES))["id_token"]
    )
    assert claims["locale"] == "de"
    # Without the profile scope, no language either.
    email_only = await code_flow(logged_in, oidc_app, logged_in, scope="openid email")
    assert (
        "locale"
        not in (await logged_in.get("/api/userinfo", headers=bearer(email_only["access_token"]))).json()
    )
    metadata = (await logged_in.get("/.well-known/openid-configuration")).json()
    assert "locale" in metadata["claims_supported"]


@pytest.mark.rfc("OIDC 5.3.3")
async def test_userinfo_needs_the_openid_scope(
    logged_in: Browser, oidc_app: RegisteredApp, registered: RegisteredApp, person: Any
) -> None:
    no_openid = await logged_in.get("/api/userinfo", headers=bearer(registered.test_token))
    assert no_openid.status_code == 403 and no_openid.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in no_openid.headers["www-authenticate"]
    assert 'scope="openid"' in no_openid.headers["www-authenticate"]
    missing = await logged_in.get("/api/userinfo")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    bad = await logged_in.get("/api/userinfo", headers=bearer("fdat_nope"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
    # openid alone: sub only.
    body = await code_flow(logged_in, oidc_app, logged_in, scope="openid")
    only_sub = await logged_in.get("/api/userinfo", headers=bearer(body["access_token"]))
    assert only_sub.status_code == 200 and only_sub.json() == {"sub": person.id, "scope": "openid"}


@pytest.mark.rfc("OIDC 10.1.1")
async def test_rotation_keeps_old_tokens_verifiable(
    logged_in: Browser, oidc_app: RegisteredApp, state: Any, db: Any
) -> None:
    before = await code_flow(logged_in, oidc_app, logged_in, scope="openid")
    old_header, _ = await verify(logged_in, before["id_token"])
    rotation = await keys.rotate(db, state.server_secret)
    await db.commit()
    assert rotation.retired == (old_header["kid"],) and rotation.kid != old_header["kid"]
    published = [k["kid"] for k in (await jwks(logged_in))["keys"]]
    assert published == [rotation.kid, old_header["kid"]]  # the signing key first
    # Signed before the rotation: still verifies with the JWKS served after it.
    _, claims = await verify(logged_in, before["id_token"])
    assert claims["aud"] == oidc_app.client_id
    after = await code_flow(logged_in, oidc_app, logged_in, scope="openid")
    new_header, _ = await verify(logged_in, after["id_token"])
    assert new_header["kid"] == rotation.kid
    retired = await db.get(SigningKey, old_header["kid"])
    await db.refresh(retired)
    assert retired.retired_at is not None


async def test_private_keys_are_sealed_at_rest(
    logged_in: Browser, oidc_app: RegisteredApp, state: Any, db: Any
) -> None:
    await code_flow(logged_in, oidc_app, logged_in, scope="openid")
    await keys.rotate(db, state.server_secret)
    await db.commit()
    rows = (await db.execute(select(SigningKey))).scalars().all()
    assert len(rows) == 2
    for row in rows:
        private = unseal(state.server_secret, row.kid, row.private_sealed)
        d = private.as_dict(private=True)["d"]
        assert isinstance(d, str) and len(d) > 300
        for leak in ('"d"', "PRIVATE KEY", d, d[:40]):
            assert leak not in row.private_sealed
        assert "d" not in row.public_jwk and row.public_jwk["kid"] == row.kid
        assert row.public_jwk["n"] == private.as_dict(private=False)["n"]
        # The sealed value is bound to its kid: it does not open as another key's.
        with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
            unseal(state.server_secret, "another-kid", row.private_sealed)
    assert len({json.dumps(row.public_jwk, sort_keys=True) for row in rows}) == 2


async def test_retired_keys_leave_the_jwks_after_the_retention_period(
    browser: Browser, state: Any, db: Any
) -> None:
    first = (await jwks(browser))["keys"]
    assert len(first) == 1 and first[0]["use"] == "sig" and first[0]["alg"] == "RS256"
    assert first[0]["kty"] == "RSA" and "d" not in first[0]
    rotation = await keys.rotate(db, state.server_secret)
    await db.commit()
    assert [k["kid"] for k in (await jwks(browser))["keys"]] == [rotation.kid, first[0]["kid"]]
    old = utcnow() - keys.DEFAULT_RETENTION - timedelta(minutes=1)
    await db.execute(update(SigningKey).where(SigningKey.kid == first[0]["kid"]).values(retired_at=old))
    await db.commit()
    assert [k["kid"] for k in (await jwks(browser))["keys"]] == [rotation.kid]
    # The row stays.
    assert {row.kid for row in (await db.execute(select(SigningKey))).scalars()} == {
        rotation.kid,
        first[0]["kid"],
    }
    listed = {k.kid: k for k in await keys.list_keys(db, state.server_secret)}
    assert listed[first[0]["kid"]].published is False and listed[rotation.kid].signing is True


async def test_first_key_under_concurrency(
    state: Any, db: Any, dev: Any, oidc_app: RegisteredApp, new_browser: Any
) -> None:
    """Many requests needing the first key at once: all succeed and all tokens verify."""
    people = [await make_user(state, db, f"p{i}@example.com") for i in range(3)]
    codes = []
    for user in people:
        b = new_browser()
        await b.login(user.email)
        codes.append(await get_code(b, oidc_app, scope="openid"))
    assert (await db.execute(select(SigningKey))).first() is None
    jwks_clients = [new_browser("localhost:8000") for _ in range(3)]
    results = await asyncio.gather(
        *(exchange(new_browser(), oidc_app, code) for code in codes),
        *(c.get("/jwks.json") for c in jwks_clients),
    )
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    main = new_browser()
    signed_with = set()
    for r in results[: len(codes)]:
        header, claims = await verify(main, r.json()["id_token"])
        assert claims["aud"] == oidc_app.client_id
        signed_with.add(header["kid"])
    # Racing workers may each have made a key: every key made is published, and every key
    # that signed one of the tokens is among them.
    made = {row.kid for row in (await db.execute(select(SigningKey))).scalars()}
    published = {k["kid"] for k in (await jwks(main))["keys"]}
    assert published == made
    assert signed_with <= made


async def test_signing_does_not_read_the_keys_every_time(
    logged_in: Browser, oidc_app: RegisteredApp, state: Any
) -> None:
    await code_flow(logged_in, oidc_app, logged_in, scope="openid")  # creates the first key
    # On SQLite the key's creation also comes back through the polled invalidation channel
    # (every 250 ms, store/invalidation.PollChannel) and drops the cache once: let it pass.
    await asyncio.sleep(0.6)
    await jwks(logged_in)  # loads it into the cache
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "signing_keys" in statement:
            statements.append(statement)

    engine = state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            body = await code_flow(logged_in, oidc_app, logged_in, scope="openid")
            assert "id_token" in body
        await jwks(logged_in)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


@pytest.mark.rfc("OIDC 12.2")
async def test_refreshing_gives_a_new_id_token(
    state: Any, db: Any, dev: Any, person: Any, new_browser: Any
) -> None:
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    expiring = await register_app(state, db, dev, name="Expiring", scopes=OIDC_SCOPES, access_token_ttl=3600)
    b: Browser = new_browser("co-up.localhost:8000")
    await b.login("pat@example.com")
    main = new_browser()
    first = await code_flow(b, expiring, main, scope=OIDC_SCOPES, nonce="once")
    assert "refresh_token" in first
    _, original = await verify(main, first["id_token"])
    refreshed = await main.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": expiring.client_id,
            "client_secret": expiring.client_secret or "",
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    _, claims = await verify(main, body["id_token"])
    # §12.2: same iss, sub and aud; the original auth_time; a new iat; no nonce.
    for name in ("iss", "sub", "aud", "auth_time", "email", "name"):
        assert claims[name] == original[name], name
    assert claims["iss"] == SPACE and "nonce" not in claims
    assert claims["space"] == {"id": space.id, "subdomain": "co-up", "role": "admin"}
    assert claims["iat"] >= original["iat"] and claims["at_hash"] == at_hash(body["access_token"])
