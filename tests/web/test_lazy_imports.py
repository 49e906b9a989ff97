"""Features whose libraries are heavy load them when first used, not when a worker starts
(docs/performance.md, "Memory"): an imported application has not loaded them yet."""

from __future__ import annotations

import json
import subprocess
import sys

from frontdesk.web import app as web_app
from frontdesk.web.routes import scim


def test_the_scim_mount_is_where_scim_says_it_is() -> None:
    assert web_app.SCIM_PREFIX == scim.PREFIX


def test_importing_the_application_leaves_scim_and_qr_codes_unloaded() -> None:
    probe = (
        "import json, sys; import frontdesk.web.app; "
        "print(json.dumps(sorted(m for m in ('scim2_server', 'scim2_models', 'segno') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
