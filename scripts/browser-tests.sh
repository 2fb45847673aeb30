#!/usr/bin/env bash
# End-to-end tests of the web client in headless Chromium (tests/browser/).
#
# Installs what is missing (chromium + chromedriver from apt, selenium in a
# cached venv), builds pamps, serves it on a free loopback port against a
# throwaway database, runs the tests, then stops the server and drops the
# database. SKIP_BROWSER=1 skips. Screenshots go to $BROWSER_ARTIFACTS
# (default target/browser). Extra arguments go to unittest (test names).
set -euo pipefail

if [[ "${SKIP_BROWSER:-}" == 1 ]]; then
  echo "browser tests skipped (SKIP_BROWSER=1)"
  exit 0
fi

cd "$(dirname "$0")/.."
ROOT=$PWD
export BROWSER_ARTIFACTS="${BROWSER_ARTIFACTS:-$ROOT/target/browser}"
mkdir -p "$BROWSER_ARTIFACTS"

log() { printf '\033[1m== %s\033[0m\n' "$*"; }

# --- chromium and chromedriver ------------------------------------------------
# --- chromium, chromedriver and selenium (scripts/tools.sh) ---------------------
source scripts/tools.sh
[[ -n ${CHROME_BIN:-} && -n ${CHROMEDRIVER:-} ]] || bash scripts/tools.sh debs
bash scripts/tools.sh browser
VENV=$BROWSER_VENV
CHROME=${CHROME_BIN:-$(command -v chromium || command -v chromium-browser || true)}
DRIVER=${CHROMEDRIVER:-$(command -v chromedriver || true)}
[[ -n "$CHROME" && -n "$DRIVER" ]] || { echo "browser tests: chromium and chromedriver are missing" >&2; exit 1; }
export CHROME_BIN=$CHROME CHROMEDRIVER=$DRIVER

# --- build ------------------------------------------------------------------------
log "building pamps"
cargo build --quiet --bin pamps
BIN="$ROOT/target/debug/pamps"

# --- throwaway database --------------------------------------------------------------
ADMIN_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
DB="pamps_browser_$$_$RANDOM"
SERVER_BASE=${ADMIN_URL%/*}
DB_URL="$SERVER_BASE/$DB"
SERVER_PID=""
export PAMPS_SERVER_PIDFILE="$BROWSER_ARTIFACTS/server.pid"
rm -f "$PAMPS_SERVER_PIDFILE"

cleanup() {
  local rc=$?
  # A test may have restarted the server (test_reconnect.py): its pid is in the file.
  [[ -f "$PAMPS_SERVER_PIDFILE" ]] && SERVER_PID=$(cat "$PAMPS_SERVER_PIDFILE")
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    # pamps drains for at most ~15 s; don't hang the suite if it doesn't stop.
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "warning: pamps did not stop within 20 s of SIGTERM; killing it" >&2
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT INT TERM

psql -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "CREATE DATABASE \"$DB\"" >/dev/null

# --- server ---------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "starting pamps on 127.0.0.1:$PORT (database $DB)"
# Exported: a test that stops the server under an open page starts it again
# the same way (tests/browser/test_reconnect.py) and writes the new pid.
export PAMPS_ENV=testing \
  PAMPS_DB__URI="$DB_URL" \
  PAMPS_DB__AUTO_MIGRATE=true \
  PAMPS_SERVER__HOST=127.0.0.1 \
  PAMPS_SERVER__PORT="$PORT" \
  PAMPS_SECURITY__SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" \
  PAMPS_RATE_LIMIT__ENABLED=false \
  PAMPS_SERVER__LOG_LEVEL=info \
  PAMPS_MEDIA__ROOT="$BROWSER_ARTIFACTS/media" \
  PAMPS_BIN="$BIN" \
  PAMPS_SERVER_LOG="$BROWSER_ARTIFACTS/server.log"
"$BIN" serve >"$PAMPS_SERVER_LOG" 2>&1 &
SERVER_PID=$!
echo "$SERVER_PID" >"$PAMPS_SERVER_PIDFILE"

URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 150); do
  if curl -fsS --max-time 2 "$URL/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "pamps exited; its log:" >&2
    cat "$BROWSER_ARTIFACTS/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS --max-time 5 "$URL/ready" >/dev/null

# --- tests ------------------------------------------------------------------------------
log "running browser tests against $URL"
export PAMPS_URL=$URL
cd "$ROOT/tests/browser"
rc=0
"$VENV/bin/python" -m unittest -v "$@" || rc=$?
# A 500 during a flow is a failure even when the page coped with it.
if grep -E '\bERROR\b|"level":"ERROR"' "$BROWSER_ARTIFACTS/server.log" >&2; then
  echo "the server logged errors during the browser tests (above; $BROWSER_ARTIFACTS/server.log)" >&2
  rc=1
fi
exit $rc
