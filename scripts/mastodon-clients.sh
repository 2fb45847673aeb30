#!/usr/bin/env bash
# Real Mastodon clients against a live pamps (issue 18): Mastodon.py (PyPI,
# with jsonschema, in a venv under target/) runs
# tests/mastodon/scenario_mastodon_py.py, and masto.js (npm, into
# tests/mastodon/node_modules from its package-lock) runs
# tests/mastodon/scenario_masto.mjs when present. Every response of both
# scenarios is validated against tests/mastodon/schemas. The server is the
# debug build on a throwaway database.
# Called by test.sh (SKIP_MASTODON=1 skips it); needs DATABASE_URL (a server
# where it may create databases), python3, node and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server}"

source scripts/tools.sh
bash scripts/tools.sh mastodon
VENV=$MASTODON_VENV

cargo build --quiet --bin pamps

db="pamps_mastodon_$$"
base="${DATABASE_URL%/*}"
server_pid=""
log="${TMPDIR:-/tmp}/pamps-mastodon-$$.log"
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql "$DATABASE_URL" -XqAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "${TMPDIR:-/tmp}/pamps-mastodon-media-$$"
}
trap cleanup EXIT
psql "$DATABASE_URL" -XqAt -c "CREATE DATABASE $db" >/dev/null
PAMPS_ENV=testing PAMPS_DB__URI="$base/$db" ./target/debug/pamps migrate >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
PAMPS_ENV=testing \
PAMPS_DB__URI="$base/$db" \
PAMPS_SERVER__PORT="$port" \
PAMPS_SERVER__LOG_LEVEL=warn \
PAMPS_RATE_LIMIT__ENABLED=false \
PAMPS_STREAM__PING_INTERVAL_SECS=2 \
PAMPS_MEDIA__ROOT="${TMPDIR:-/tmp}/pamps-mastodon-media-$$" \
PAMPS_SECURITY__SECRET_KEY="mastodon-clients-secret-0123456789abc" \
  ./target/debug/pamps serve >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "$url/health" >/dev/null 2>&1 && break
  sleep 0.1
done

rc=0
echo "mastodon-clients: Mastodon.py against $url"
PAMPS_URL="$url" "$VENV/bin/python" tests/mastodon/scenario_mastodon_py.py || rc=1
if [ -f tests/mastodon/scenario_masto.mjs ]; then
  echo "mastodon-clients: masto.js against $url"
  flags=()
  node -e 'process.exit(typeof WebSocket === "undefined" ? 0 : 1)' && flags=(--experimental-websocket)
  # Node 20 lacks Promise.withResolvers (masto.js uses it); "?" is %3F in a data: URL.
  polyfill="data:text/javascript,Promise.withResolvers%3F%3F=()=>{let resolve,reject;const promise=new Promise((a,b)=>{resolve=a;reject=b});return{promise,resolve,reject}}"
  PAMPS_URL="$url" node --import "$polyfill" "${flags[@]}" tests/mastodon/scenario_masto.mjs || rc=1
fi
if [ "$rc" != 0 ]; then
  echo "mastodon-clients: FAILED; the server's log:"
  tail -n 50 "$log"
fi
rm -f "$log"
exit "$rc"
