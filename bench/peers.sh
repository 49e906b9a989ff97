#!/usr/bin/env bash
# Frontdesk against django-oauth-toolkit and Authlib, interleaved in one run, same machine.
#   bench/peers.sh                       # the harness defaults: 3 rounds, all workloads
#   bench/peers.sh --scale 0.3 --rounds 1 --warmup 1
# Prints the harness table with ratios against Frontdesk (--ref frontdesk).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/bench-peers}"
PORT="${OURS_PORT:-8103}"
WORKERS="${OURS_WORKERS:-2}"
DATA="$(mktemp -d /tmp/frontdesk-peers-XXXXXX)"
[[ -x "$PEERS_DIR/run.sh" ]] || { echo "peer harness not found at $PEERS_DIR (set PEERS_DIR)" >&2; exit 1; }
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null 2>&1 || { echo "install wrk: apt-get install -y wrk" >&2; exit 1; }

export OURS_URL="http://127.0.0.1:$PORT"
# Runs inside the harness, after it sourced bench_common.env (BENCH_ARGON2_*): same cost as the peers.
export EXTRA_SERVER_CMD="cd '$ROOT' && \
export FRONTDESK_DATABASE_URL='sqlite:///$DATA/fd.db' FRONTDESK_PUBLIC_URL='http://localhost:$PORT' \
  FRONTDESK_SECRET_KEY=benchmark-secret-key-0123456789abcdef0123456789 FRONTDESK_API_RATE_LIMIT=0 \
  FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT=1000000/minute FRONTDESK_LOGIN_FAILURES_PER_ADDRESS=1000000/minute \
  FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS=1000000/minute \
  FRONTDESK_ARGON2_TIME_COST=\${BENCH_ARGON2_TIME_COST:-2} FRONTDESK_ARGON2_MEMORY_KIB=\${BENCH_ARGON2_MEMORY_KIB:-19456} \
  FRONTDESK_ARGON2_PARALLELISM=\${BENCH_ARGON2_PARALLELISM:-1} && \
.venv/bin/frontdesk db upgrade >/dev/null && \
.venv/bin/python bench/seed.py --out '$DATA/tokens.txt' >/dev/null && \
exec .venv/bin/frontdesk serve --host 127.0.0.1 --port $PORT --workers $WORKERS --no-access-log --log-level warning"
trap 'rm -rf "$DATA"' EXIT
"$PEERS_DIR/run.sh" --peers-module "$ROOT/bench/peers_frontdesk.py" --ref frontdesk "$@"
