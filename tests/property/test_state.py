"""``state`` comes back byte for byte through the real authorization endpoint (RFC 6749
§4.1.2, §4.1.2.1), on the consent page's approve and deny and on a redirected error.

Printable text only: a real browser would normalise line breaks (and NUL) in the consent
form's hidden fields, which these tests do not model."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oauth_support import RegisteredApp, authorize_params, consent
from tests.support import Browser

STATE = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"]),
        st.sampled_from(" &=%+#?/;,'\"<>\\"),
    ),
    min_size=1,
    max_size=80,
)
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def state_of(location: str) -> str | None:
    values = [v for k, v in parse_qsl(urlsplit(location).query, keep_blank_values=True) if k == "state"]
    assert len(values) <= 1, location
    return values[0] if values else None


@EXAMPLES
@given(state=STATE)
async def test_state_round_trips_through_consent(
    logged_in: Browser, registered: RegisteredApp, state: str
) -> None:
    approved = await consent(logged_in, registered, state=state, prompt="consent")
    assert approved.status_code == 303, approved.text
    assert "code" in dict(parse_qsl(urlsplit(approved.headers["location"]).query))
    assert state_of(approved.headers["location"]) == state
    denied = await consent(logged_in, registered, decision="deny", state=state, prompt="consent")
    assert denied.status_code == 303
    assert state_of(denied.headers["location"]) == state


@EXAMPLES
@given(state=STATE)
async def test_state_round_trips_on_remembered_consent_and_errors(
    logged_in: Browser, registered: RegisteredApp, state: str
) -> None:
    await consent(logged_in, registered, state="first")  # consent remembered from here on
    again = await logged_in.get("/oauth/authorize", params=authorize_params(registered, state=state))
    assert again.status_code == 302 and state_of(again.headers["location"]) == state
    error = await logged_in.get(
        "/oauth/authorize", params=authorize_params(registered, state=state, scope="bogus")
    )
    assert error.status_code == 302 and state_of(error.headers["location"]) == state
