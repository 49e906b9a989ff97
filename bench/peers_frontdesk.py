"""Frontdesk as a peer in ../shared/bench-peers (measured interleaved with the two peers).

Used by bench/peers.sh; the server is started by the harness through EXTRA_SERVER_CMD and
seeded by bench/seed.py (same user password cost as the peers, a confidential client with
an existing consent, redirect URI http://127.0.0.1:9/cb).
"""

import os
import re

from peerlib import Peer
from peers_builtin import PASSWORD, RUN
from peers_builtin import PEERS as BUILTIN

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-client-secret-0123456789abcdef0123456789"
EMAIL = "alice@bench.test"


def frontdesk_login(client, peer):
    """Frontdesk's login form carries an anti-forgery token and takes an email address."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login", data={"email": peer.username, "password": peer.password, "csrf_token": token}
    )
    if response.status_code != 303:
        raise RuntimeError(f"login failed: {response.status_code}")
    return None


FRONTDESK = Peer(
    name="frontdesk",
    base_url=os.environ.get("OURS_URL", "http://127.0.0.1:8103"),
    authorize_path="/oauth/authorize",
    token_path="/oauth/token",
    api_user_path="/api/user",
    baseline_path="/healthz",
    client_id=CLIENT_ID,
    client_secret=CLIENT_SECRET,
    username=EMAIL,
    password=PASSWORD,
    login=frontdesk_login,
    pidfile=f"{RUN}/extra.pid",
    note="uvicorn, 2 workers (ASGI, keep-alive), SQLite, per-worker caches",
)
PEERS = [*BUILTIN[:2], FRONTDESK]
