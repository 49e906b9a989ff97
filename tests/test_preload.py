"""What a worker loads before it serves (frontdesk/preload.py, docs/performance.md "Memory"):
the application's modules, but not the libraries of features a worker may never use (their own
tests show the features work with their libraries loaded on first use). Checked in a fresh
interpreter, since this test process has loaded everything already."""

from __future__ import annotations

import json
import subprocess
import sys

# Feature libraries loaded on first use, and the feature that loads them.
DEFERRED = {
    "webauthn": "passkeys (services/passkeys.py)",
    "dns": "custom domain checks (services/domains.py)",
    "markdown_it": "the API reference page (web/routes/pages/api_docs.py)",
    "ua_parser": "session device names (services/sessions.py)",
    "scim2_server": "SCIM (web/routes/scim.py)",
    "segno": "QR codes (services/second_factor.py)",
}


def loaded_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after running ``code``."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_preload_loads_the_application_but_no_feature_library() -> None:
    loaded = loaded_after("from frontdesk.preload import import_application; import_application()")
    assert {"frontdesk", "fastapi", "sqlalchemy", "alembic"} <= loaded
    assert sorted(loaded & set(DEFERRED)) == []
