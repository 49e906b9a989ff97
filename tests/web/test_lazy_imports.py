"""Features whose libraries are heavy load them when first used, not when a worker starts
(docs/performance.md, "Memory"): neither an imported application nor what the supervisor of
several workers loads before it forks them (frontdesk/preload.py) has loaded them yet. Their
own tests show each feature works with its library loaded on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from frontdesk.web import app as web_app
from frontdesk.web.routes import scim

# The libraries, and the feature that loads each.
DEFERRED = {
    "scim2_server": "SCIM (web/routes/scim.py)",
    "scim2_models": "SCIM (services/scim.py)",
    "segno": "QR codes (services/second_factor.py)",
    "webauthn": "passkeys (services/passkeys.py)",
    "dns": "custom domain checks (services/domains.py)",
    "markdown_it": "the API reference page (web/routes/pages/api_docs.py)",
    "ua_parser": "session device names (services/sessions.py)",
    "httpx": "outgoing requests: webhooks, back-channel logout, jwks_uri (services/webhooks.py)",
    "redis": "Redis, with FRONTDESK_REDIS_URL only (services/throttle.py, store/invalidation.py)",
    "alembic": "migrations: `frontdesk db upgrade` (store/migrate.py), never a server",
    "mako": "Alembic's templates",
    "pygments": "Mako's error pages",
}


def test_the_scim_mount_is_where_scim_says_it_is() -> None:
    assert web_app.SCIM_PREFIX == scim.PREFIX


@pytest.mark.parametrize(
    "code",
    [
        "import frontdesk.web.app",
        # As the supervisor does, told the head revision by `frontdesk serve` (cli.py).
        "import os; from frontdesk.store.migrate import HEAD_FROM_SERVE; "
        "os.environ[HEAD_FROM_SERVE] = '0000'; "
        "from frontdesk.preload import import_application; import_application()",
    ],
)
def test_no_feature_library_is_loaded_before_its_feature_is_used(code: str) -> None:
    probe = f"import json, sys; {code}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert "frontdesk" in loaded
    assert {name: DEFERRED[name] for name in sorted(loaded & set(DEFERRED))} == {}
