"""Token exchange (RFC 8693) at the token endpoint: a user token for a space token (the same
rules and token as Cobot's ``POST /api/access_tokens/<t>/space``), a token for a narrower one,
delegation (the ``act`` claim), the errors of §2.2.2 and revocation with the subject's grant.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from frontdesk import events
from frontdesk.oauth.models import NewToken
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_secret
from frontdesk.services import apps, spaces
from frontdesk.store.models import AccessToken, AuditEvent
from frontdesk.store.sql_storage import SqlStorage
from frontdesk.store.types import utcnow
from tests.dpop_support import DpopKey
from tests.oauth.conftest import Tenants
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    assert_no_store,
    basic,
    bearer,
    make_user,
    password_grant,
    register_app,
)
from tests.support import PASSWORD, Browser

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
MAIN = "http://localhost:8000"
CO_UP = "http://co-up.localhost:8000"
HARBOUR = "http://members.harbour.test:8000"
BOOKINGS = "https://bookings.example"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"extra_resources": [BOOKINGS + "/"]}


async def token_exchange(
    b: Browser,
    app: RegisteredApp,
    subject: str | None,
    *,
    auth: bool = True,
    dpop: str | None = None,
    **extra: str,
) -> httpx.Response:
    """A token exchange request from ``app`` (client_secret_basic) with plain httpx; ``dpop``:
    a DPoP proof to send along."""
    data = {"grant_type": GRANT, **extra}
    if subject is not None:
        data.setdefault("subject_token", subject)
        data.setdefault("subject_token_type", ACCESS)
    headers = basic(app.client_id, app.client_secret or "") if auth else {}
    if dpop is not None:
        headers["dpop"] = dpop
    return await b.post(TOKEN_URL, data=data, headers=headers)


async def user_token(b: Browser, app: RegisteredApp, email: str = "pat@example.com", **extra: str) -> str:
    response = await password_grant(b, app, email, **extra)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def introspect(b: Browser, app: RegisteredApp, token: str) -> dict[str, Any]:
    response = await b.post(
        "/oauth/introspect", data={"token": token}, headers=basic(app.client_id, app.client_secret or "")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_of(response: httpx.Response) -> str:
    assert_no_store(response)
    error: str = response.json()["error"]
    return error


async def saved_token(state: Any, db: Any, app: RegisteredApp, user_id: str | None, **fields: Any) -> str:
    """A token of ``app`` put into the store directly (for lifetimes and bindings)."""
    raw = new_secret(ACCESS_TOKEN_PREFIX)
    await SqlStorage(db, state.server_secret).save_token(
        raw,
        NewToken(
            client_id=app.client_id,
            user_id=user_id,
            scopes=fields.pop("scopes", ("read_user", "read_memberships")),
            grant_type="password",
            issuer=MAIN,
            **fields,
        ),
    )
    await db.commit()
    return raw


# ---- space tokens ------------------------------------------------------------------------------


@pytest.mark.rfc("8693 2.1")
async def test_a_space_token_named_by_resource_is_the_cobot_routes_token(
    browser: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    subject = await user_token(browser, registered)
    response = await token_exchange(browser, registered, subject, resource=CO_UP)
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert set(body) == {"access_token", "issued_token_type", "token_type", "scope"}
    assert body["issued_token_type"] == ACCESS and body["token_type"] == "bearer"
    assert body["scope"] == "read_user read_memberships"
    exchanged = body["access_token"]
    # The route's token for the same subject: the same introspection fields and values.
    routed = await browser.post(f"/api/access_tokens/{subject}/space", json={"space_id": "co-up"})
    assert routed.status_code == 201
    by_exchange = await introspect(browser, registered, exchanged)
    by_route = await introspect(browser, registered, routed.json()["token"])
    assert by_exchange["space"] == "co-up"
    assert {k: v for k, v in by_exchange.items() if k != "iat"} == {
        k: v for k, v in by_route.items() if k != "iat"
    }
    # It reaches the space's members, like the route's.
    members = await browser.get(
        "/api/memberships", headers={**bearer(exchanged), "host": "co-up.localhost:8000"}
    )
    assert members.status_code == 200


@pytest.mark.rfc("8693 2.1")
async def test_a_space_token_named_by_audience_or_by_its_custom_domain(
    browser: Browser, new_browser: Any, registered: RegisteredApp, tenants: Tenants
) -> None:
    subject = await user_token(browser, registered)
    by_audience = await token_exchange(browser, registered, subject, audience="co-up")
    assert by_audience.status_code == 200, by_audience.text
    assert (await introspect(browser, registered, by_audience.json()["access_token"]))["space"] == "co-up"
    by_domain = await token_exchange(browser, registered, subject, resource=HARBOUR)
    assert by_domain.status_code == 200, by_domain.text
    assert (await introspect(browser, registered, by_domain.json()["access_token"]))["space"] == "harbour"
    # At the space's own token endpoint too.
    at_space = await token_exchange(new_browser("co-up.localhost:8000"), registered, subject, resource=CO_UP)
    assert at_space.status_code == 200, at_space.text


async def test_a_space_token_may_hold_less_but_never_more(
    browser: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    subject = await user_token(browser, registered, scope="read_user")
    wider = await token_exchange(
        browser, registered, subject, audience="co-up", scope="read_user read_memberships"
    )
    assert wider.status_code == 400
    assert error_of(wider) == "invalid_scope"
    full = await user_token(browser, registered)
    less = await token_exchange(browser, registered, full, audience="co-up", scope="read_user")
    assert less.status_code == 200, less.text
    assert less.json()["scope"] == "read_user"
    assert (await introspect(browser, registered, less.json()["access_token"]))["scope"] == "read_user"


async def test_only_an_admin_of_the_space_gets_a_space_token(
    browser: Browser, registered: RegisteredApp, tenants: Tenants, state: Any, db: Any
) -> None:
    await make_user(state, db, "mia@example.com", "Mia Member")
    await spaces.add_member(db, tenants.co_up, email="mia@example.com", role="member")
    await db.commit()
    member = await user_token(browser, registered, "mia@example.com")
    refused = await token_exchange(browser, registered, member, audience="co-up")
    assert refused.status_code == 400
    assert error_of(refused) == "invalid_target"
    # Pat is no member of Olga's space at all.
    pat = await user_token(browser, registered)
    elsewhere = await token_exchange(browser, registered, pat, resource="http://quay.localhost:8000")
    assert elsewhere.status_code == 400
    assert error_of(elsewhere) == "invalid_target"


@pytest.mark.rfc("8693 2.2.2")
@pytest.mark.parametrize(
    "target",
    [
        {"audience": "no-such-space"},
        {"resource": "http://no-such-space.localhost:8000"},
        {"resource": "https://elsewhere.example"},
        {"resource": CO_UP, "audience": "co-up"},
        {"resource": "relative/path"},
    ],
)
async def test_an_unknown_or_doubled_target_is_invalid_target(
    browser: Browser, registered: RegisteredApp, tenants: Tenants, target: dict[str, str]
) -> None:
    subject = await user_token(browser, registered)
    response = await token_exchange(browser, registered, subject, **target)
    assert response.status_code == 400
    assert error_of(response) == "invalid_target"


async def test_a_space_token_yields_no_token_for_another_space(
    browser: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    subject = await user_token(browser, registered)
    space_token = (await token_exchange(browser, registered, subject, audience="co-up")).json()[
        "access_token"
    ]
    other = await token_exchange(browser, registered, space_token, audience="harbour")
    assert other.status_code == 400
    assert error_of(other) == "invalid_target"
    # Within its own space it narrows like any token.
    same = await token_exchange(browser, registered, space_token, audience="co-up", scope="read_user")
    assert same.status_code == 200, same.text
    assert (await introspect(browser, registered, same.json()["access_token"]))["space"] == "co-up"


async def test_a_client_credentials_token_makes_no_space_token(
    browser: Browser, state: Any, db: Any, dev: Any, tenants: Tenants
) -> None:
    machine = await register_app(state, db, dev, name="Machine", client_credentials=True, scopes="read_user")
    assert machine.client_secret is not None
    granted = await browser.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers=basic(machine.client_id, machine.client_secret),
    )
    assert granted.status_code == 200, granted.text
    response = await token_exchange(browser, machine, granted.json()["access_token"], audience="co-up")
    assert response.status_code == 400
    assert error_of(response) == "invalid_target"


# ---- narrower tokens ---------------------------------------------------------------------------


@pytest.mark.rfc("8693 2.3")
async def test_the_rfc_example_a_narrower_token_for_one_resource(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    """§2.3's shape: an access token exchanged for one audience (here an operator's resource,
    RFC 8707) and a part of its scope; the answer names the issued token's type."""
    subject = await user_token(browser, registered)
    response = await token_exchange(
        browser, registered, subject, resource=BOOKINGS, scope="read_user", requested_token_type=ACCESS
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "issued_token_type", "token_type", "scope"}
    assert body["issued_token_type"] == ACCESS
    assert body["token_type"] == "bearer"
    assert body["scope"] == "read_user"
    about = await introspect(browser, registered, body["access_token"])
    assert about["active"] is True and about["aud"] == BOOKINGS and about["scope"] == "read_user"
    assert about["sub"] == person.id and "space" not in about
    # Meant for another resource: Frontdesk's own API refuses it (RFC 8707), the subject still works.
    assert (await browser.get("/api/user", headers=bearer(body["access_token"]))).status_code == 401
    assert (await browser.get("/api/user", headers=bearer(subject))).status_code == 200


@pytest.mark.rfc("8693 2.2.2")
async def test_a_narrower_token_never_holds_more_scope(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    subject = await user_token(browser, registered, scope="read_user")
    response = await token_exchange(browser, registered, subject, scope="read_user read_memberships")
    assert response.status_code == 400
    assert error_of(response) == "invalid_scope"


async def test_a_narrower_token_keeps_its_subjects_audience(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    subject = (
        await token_exchange(browser, registered, await user_token(browser, registered), resource=BOOKINGS)
    ).json()["access_token"]
    moved = await token_exchange(browser, registered, subject, resource=MAIN)
    assert moved.status_code == 400
    assert error_of(moved) == "invalid_target"
    kept = await token_exchange(browser, registered, subject, scope="read_user")
    assert kept.status_code == 200, kept.text
    assert (await introspect(browser, registered, kept.json()["access_token"]))["aud"] == BOOKINGS


async def test_a_narrower_token_lives_no_longer_than_its_subject(
    browser: Browser, registered: RegisteredApp, person: Any, state: Any, db: Any
) -> None:
    await apps.update_app(db, registered.client_id, access_token_ttl=3600)
    await db.commit()
    subject = await saved_token(state, db, registered, person.id, expires_at=utcnow() + timedelta(seconds=90))
    response = await token_exchange(browser, registered, subject, scope="read_user")
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 < body["expires_in"] <= 90
    assert "refresh_token" not in body
    subject_exp = (await introspect(browser, registered, subject))["exp"]
    assert (await introspect(browser, registered, body["access_token"]))["exp"] <= subject_exp


async def test_a_token_that_never_expires_gives_one_that_never_expires(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    response = await token_exchange(
        browser, registered, await user_token(browser, registered), scope="read_user"
    )
    assert response.status_code == 200, response.text
    assert "expires_in" not in response.json()
    assert "exp" not in await introspect(browser, registered, response.json()["access_token"])


# ---- errors (RFC 8693 §2.2.2) ------------------------------------------------------------------


@pytest.mark.rfc("8693 2.2.2")
@pytest.mark.parametrize(
    "params",
    [
        {"subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"},
        {"subject_token_type": ""},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"actor_token_type": ACCESS},
        {"actor_token": "fdat_whatever"},
        {"actor_token": "fdat_whatever", "actor_token_type": "urn:ietf:params:oauth:token-type:id_token"},
    ],
)
async def test_unsupported_types_and_half_sent_actors_are_invalid_request(
    browser: Browser, registered: RegisteredApp, person: Any, params: dict[str, str]
) -> None:
    subject = await user_token(browser, registered)
    response = await token_exchange(browser, registered, subject, **params)
    assert response.status_code == 400
    assert error_of(response) == "invalid_request"


@pytest.mark.rfc("8693 2.2.2")
async def test_a_missing_subject_token_is_invalid_request(
    browser: Browser, registered: RegisteredApp
) -> None:
    response = await token_exchange(browser, registered, None, subject_token_type=ACCESS)
    assert response.status_code == 400
    assert error_of(response) == "invalid_request"


@pytest.mark.rfc("8693 2.2.2")
async def test_unknown_foreign_revoked_and_expired_subject_tokens_are_invalid_request(
    browser: Browser, registered: RegisteredApp, person: Any, state: Any, db: Any, dev: Any
) -> None:
    other_app = await register_app(state, db, dev, name="Other app")
    foreign = await user_token(browser, other_app)
    revoked = await user_token(browser, registered)
    assert (await browser.delete(f"/api/access_tokens/{revoked}")).status_code == 204
    expired = await saved_token(state, db, registered, person.id, expires_at=utcnow() - timedelta(seconds=1))
    for subject in ("fdat_no-such-token", foreign, revoked, expired):
        response = await token_exchange(browser, registered, subject)
        assert response.status_code == 400, subject
        assert error_of(response) == "invalid_request"
    # The other app's token was left alone.
    assert (await introspect(browser, other_app, foreign))["active"] is True


async def test_a_resource_server_may_not_exchange_tokens_presented_to_it(
    browser: Browser, registered: RegisteredApp, person: Any, state: Any, db: Any, dev: Any
) -> None:
    """docs/decisions.md, "Token exchange": ``can_introspect`` lets an app read any token,
    not act with it."""
    resource_server = await register_app(state, db, dev, name="Resource server", can_introspect=True)
    presented = await user_token(browser, registered)
    assert (await introspect(browser, resource_server, presented))["active"] is True
    response = await token_exchange(browser, resource_server, presented, resource=BOOKINGS)
    assert response.status_code == 400
    assert error_of(response) == "invalid_request"


@pytest.mark.rfc("9449 5")
async def test_a_dpop_bound_token_is_exchanged_only_with_a_proof_of_its_key(
    browser: Browser, registered: RegisteredApp, person: Any, db: Any
) -> None:
    key = DpopKey()
    granted = await browser.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": "pat@example.com", "password": PASSWORD},
        headers={**basic(registered.client_id, registered.client_secret or ""), "dpop": key.proof()},
    )
    assert granted.status_code == 200, granted.text
    bound = granted.json()["access_token"]
    without = await token_exchange(browser, registered, bound, scope="read_user")
    assert without.status_code == 400
    assert error_of(without) == "invalid_request"
    other_key = await token_exchange(browser, registered, bound, scope="read_user", dpop=DpopKey().proof())
    assert other_key.status_code == 400
    assert error_of(other_key) == "invalid_request"
    same_key = await token_exchange(browser, registered, bound, scope="read_user", dpop=key.proof())
    assert same_key.status_code == 200, same_key.text
    assert same_key.json()["token_type"] == "DPoP"
    exchanged = same_key.json()["access_token"]
    row = (await db.execute(select(AccessToken).where(AccessToken.scope == "read_user"))).scalar_one()
    assert row.dpop_jkt == key.jkt
    assert (await browser.get("/api/user", headers=bearer(exchanged))).status_code == 401


@pytest.mark.rfc("6749 5.2")
async def test_the_client_authenticates(browser: Browser, registered: RegisteredApp, person: Any) -> None:
    subject = await user_token(browser, registered)
    response = await token_exchange(browser, registered, subject, auth=False)
    assert response.status_code == 401
    assert error_of(response) == "invalid_client"


# ---- delegation (RFC 8693 §4.1) ----------------------------------------------------------------


@pytest.mark.rfc("8693 4.1")
async def test_an_actor_is_named_in_introspection_and_nested_for_prior_actors(
    browser: Browser, registered: RegisteredApp, person: Any, tenants: Tenants
) -> None:
    subject = await user_token(browser, registered)
    olga_token = await user_token(browser, registered, "olga@example.com")
    delegated = await token_exchange(
        browser, registered, subject, scope="read_user", actor_token=olga_token, actor_token_type=ACCESS
    )
    assert delegated.status_code == 200, delegated.text
    first = delegated.json()["access_token"]
    about = await introspect(browser, registered, first)
    assert about["sub"] == person.id
    assert about["act"] == {"sub": tenants.olga.id, "client_id": registered.client_id}
    # Delegated again, by Pat this time: the current actor outside, the prior one nested.
    again = await token_exchange(browser, registered, first, actor_token=subject, actor_token_type=ACCESS)
    assert again.status_code == 200, again.text
    nested = await introspect(browser, registered, again.json()["access_token"])
    assert nested["act"] == {
        "sub": person.id,
        "client_id": registered.client_id,
        "act": {"sub": tenants.olga.id, "client_id": registered.client_id},
    }
    # Narrowed without an actor, a delegated token stays delegated; an undelegated one has no act.
    narrowed = await token_exchange(browser, registered, first, scope="read_user")
    assert (await introspect(browser, registered, narrowed.json()["access_token"]))["act"] == about["act"]
    assert "act" not in await introspect(browser, registered, subject)


async def test_a_space_token_records_its_actor(
    browser: Browser, registered: RegisteredApp, person: Any, tenants: Tenants
) -> None:
    subject = await user_token(browser, registered)
    olga_token = await user_token(browser, registered, "olga@example.com")
    response = await token_exchange(
        browser, registered, subject, audience="co-up", actor_token=olga_token, actor_token_type=ACCESS
    )
    assert response.status_code == 200, response.text
    about = await introspect(browser, registered, response.json()["access_token"])
    assert about["space"] == "co-up" and about["act"]["sub"] == tenants.olga.id


async def test_another_apps_actor_token_is_invalid_request(
    browser: Browser, registered: RegisteredApp, person: Any, state: Any, db: Any, dev: Any
) -> None:
    other_app = await register_app(state, db, dev, name="Other app")
    response = await token_exchange(
        browser,
        registered,
        await user_token(browser, registered),
        actor_token=await user_token(browser, other_app),
        actor_token_type=ACCESS,
    )
    assert response.status_code == 400
    assert error_of(response) == "invalid_request"


@pytest.mark.rfc("8693 4.1")
async def test_a_jwt_access_token_carries_the_act_claim(
    browser: Browser, person: Any, tenants: Tenants, state: Any, db: Any, dev: Any
) -> None:
    jwt_app = await register_app(state, db, dev, name="JWT app", jwt_access_tokens=True, scopes="read_user")
    subject = await user_token(browser, jwt_app)
    actor = await user_token(browser, jwt_app, "olga@example.com")
    response = await token_exchange(browser, jwt_app, subject, actor_token=actor, actor_token_type=ACCESS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 < body["expires_in"] <= 3600
    keys = KeySet.import_key_set((await browser.get("/jwks.json")).json())
    decoded = jwt.decode(body["access_token"], keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.claims["sub"] == person.id
    assert decoded.claims["act"] == {"sub": tenants.olga.id, "client_id": jwt_app.client_id}
    assert decoded.claims["exp"] <= jwt.decode(subject, keys, algorithms=["RS256"]).claims["exp"]


# ---- revocation and audit ----------------------------------------------------------------------


@pytest.mark.rfc("7009 2.1")
async def test_revoking_the_subject_takes_back_the_exchanged_token(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    subject = await user_token(browser, registered)
    exchanged = (await token_exchange(browser, registered, subject, scope="read_user")).json()["access_token"]
    # A second exchange (the subject has a grant family by now) and one from the exchanged token.
    second = (await token_exchange(browser, registered, subject, resource=BOOKINGS)).json()["access_token"]
    third = (await token_exchange(browser, registered, exchanged, resource=BOOKINGS)).json()["access_token"]
    for token in (exchanged, second, third):
        assert (await introspect(browser, registered, token))["active"] is True
    revoked = await browser.post(
        "/oauth/revoke",
        data={"token": subject},
        headers=basic(registered.client_id, registered.client_secret or ""),
    )
    assert revoked.status_code == 200
    for token in (exchanged, second, third):
        assert (await introspect(browser, registered, token))["active"] is False


@pytest.mark.rfc("7009 2.1")
async def test_revoking_the_refresh_family_takes_back_the_exchanged_token(
    browser: Browser, registered: RegisteredApp, person: Any, db: Any
) -> None:
    await apps.update_app(db, registered.client_id, access_token_ttl=600)
    await db.commit()
    granted = (await password_grant(browser, registered)).json()
    exchanged = (
        await token_exchange(browser, registered, granted["access_token"], scope="read_user")
    ).json()["access_token"]
    revoked = await browser.post(
        "/oauth/revoke",
        data={"token": granted["refresh_token"], "token_type_hint": "refresh_token"},
        headers=basic(registered.client_id, registered.client_secret or ""),
    )
    assert revoked.status_code == 200
    assert (await introspect(browser, registered, exchanged))["active"] is False
    assert (await introspect(browser, registered, granted["access_token"]))["active"] is False


async def test_a_space_token_outlives_its_subject_as_the_routes_does(
    browser: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    """Space tokens are the space's installation credentials (oauth/space_tokens.py), however
    they were obtained."""
    subject = await user_token(browser, registered)
    by_exchange = (await token_exchange(browser, registered, subject, audience="co-up")).json()[
        "access_token"
    ]
    by_route = (await browser.post(f"/api/access_tokens/{subject}/space", json={"space_id": "co-up"})).json()[
        "token"
    ]
    assert (await browser.delete(f"/api/access_tokens/{subject}")).status_code == 204
    assert (await introspect(browser, registered, by_exchange))["active"] is True
    assert (await introspect(browser, registered, by_route))["active"] is True


async def test_an_exchange_is_in_the_audit_log_without_secrets(
    browser: Browser, registered: RegisteredApp, person: Any, tenants: Tenants, db: Any
) -> None:
    subject = await user_token(browser, registered)
    actor = await user_token(browser, registered, "olga@example.com")
    made = await token_exchange(
        browser, registered, subject, audience="co-up", actor_token=actor, actor_token_type=ACCESS
    )
    assert made.status_code == 200, made.text
    rows = (
        (
            await db.execute(
                select(AuditEvent)
                .where(AuditEvent.event == events.TOKEN_EXCHANGED)
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    [event] = rows
    about = await introspect(browser, registered, made.json()["access_token"])
    assert event.user_id == person.id and event.app_id == registered.client_id
    assert event.space_id == tenants.co_up.id
    assert event.detail["kind"] == "space" and event.detail["actor"] == tenants.olga.id
    assert set(event.detail) == {"token_id", "subject_token_id", "actor_token_id", "kind", "scope", "actor"}
    assert about["act"]["sub"] == event.detail["actor"]
    assert subject not in str(event.detail) and made.json()["access_token"] not in str(event.detail)


# ---- discovery ---------------------------------------------------------------------------------


@pytest.mark.rfc("8414 2")
async def test_the_metadata_lists_the_grant(browser: Browser, new_browser: Any, tenants: Tenants) -> None:
    for b in (browser, new_browser("co-up.localhost:8000")):
        doc = (await b.get("/.well-known/oauth-authorization-server")).json()
        assert GRANT in doc["grant_types_supported"]
