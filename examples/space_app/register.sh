#!/bin/sh
# Register Space App in the Frontdesk of this checkout and print the settings to export:
#
#   eval "$(sh examples/space_app/register.sh)"
#
# It uses the same database as `make run` (FRONTDESK_DATABASE_URL, default ./frontdesk.db in
# the repository root); alice@example.com must exist (`.venv/bin/frontdesk seed examples/sandbox.yaml`).
# Each run registers a new app: run it once and keep the output.
set -eu
cd "$(dirname "$0")/../.."

FRONTDESK="${FRONTDESK:-.venv/bin/frontdesk}"
PYTHON="${PYTHON:-.venv/bin/python}"
APP_URL="${SPACE_APP_URL:-http://localhost:9000}"
# The URL of the Frontdesk on this database (FRONTDESK_PUBLIC_URL, else the one `make run` serves at).
FRONTDESK_URL="${FRONTDESK_URL:-$("$FRONTDESK" url)}"

app_json=$("$FRONTDESK" clients create "Space App" \
  --owner "${SPACE_APP_OWNER:-alice@example.com}" \
  --redirect-uri "$APP_URL/auth/callback" \
  --scope "openid profile email read_user navigation read_memberships" \
  --json)

printf '%s' "$app_json" | FRONTDESK_URL="$FRONTDESK_URL" APP_URL="$APP_URL" "$PYTHON" -c '
import json, os, secrets, shlex, sys
app = json.load(sys.stdin)
values = {
    "FRONTDESK_URL": os.environ["FRONTDESK_URL"],
    "SPACE_APP_CLIENT_ID": app["client_id"],
    "SPACE_APP_CLIENT_SECRET": app["client_secret"],
    "SPACE_APP_URL": os.environ["APP_URL"],
    "SPACE_APP_SECRET": secrets.token_urlsafe(32),
}
for name, value in values.items():
    print(f"export {name}={shlex.quote(value)}")
'
echo "Registered Space App. Next: .venv/bin/python -m examples.space_app" >&2
