#!/usr/bin/env bash
# Spec fuzz: validates /openapi.json as OpenAPI 3.1, then schemathesis runs
# every check against a live pamps (debug build) on
# a throwaway database, authenticated with a real token. Called by test.sh;
# needs DATABASE_URL (a server where it may create databases).
#   FUZZ_EXAMPLES=40   examples per operation and phase
#   FUZZ_SEED=1        fixed by default so CI is reproducible; vary it locally
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server}"

TOOLS=(schemathesis==4.32.5 openapi-spec-validator==0.9.0)
VENV="${PAMPS_FUZZ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pamps/fuzz-tools-1}"
if [ ! -x "$VENV/bin/schemathesis" ] || [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
  echo "api-fuzz: installing ${TOOLS[*]} into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "${TOOLS[@]}"
fi

cargo build --quiet --bin pamps

db="pamps_fuzz_$$"
base="${DATABASE_URL%/*}"
port=""
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql "$DATABASE_URL" -XqAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql "$DATABASE_URL" -XqAt -c "CREATE DATABASE $db" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
PAMPS_ENV=testing \
PAMPS_DB__URI="$base/$db" \
PAMPS_SERVER__PORT="$port" \
PAMPS_SERVER__LOG_LEVEL=error \
PAMPS_RATE_LIMIT__ENABLED=false \
PAMPS_SECURITY__SECRET_KEY="api-fuzz-secret-api-fuzz-secret-0123" \
  ./target/debug/pamps serve >"${TMPDIR:-/tmp}/pamps-fuzz-$$.log" 2>&1 &
server_pid=$!

token=$(python3 - "$url" <<'PY'
import json, sys, time, urllib.parse, urllib.request
url = sys.argv[1]
for _ in range(100):
    try:
        urllib.request.urlopen(url + "/health", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
user = {"email": "fuzzer@example.com", "username": "fuzzer", "password": "fuzzer-password-1"}
req = urllib.request.Request(url + "/user/", json.dumps(user).encode(), {"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10)
form = urllib.parse.urlencode({"username": "fuzzer", "password": "fuzzer-password-1"}).encode()
pair = json.load(urllib.request.urlopen(url + "/token", form, timeout=10))
print(pair["access_token"])
PY
)

# The document must be valid OpenAPI 3.1 before it is used to fuzz.
spec="${TMPDIR:-/tmp}/pamps-openapi-$$.json"
python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "$url/openapi.json" >"$spec"
"$VENV/bin/openapi-spec-validator" "$spec"
rm -f "$spec"

"$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$url/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $token" \
  --max-examples "${FUZZ_EXAMPLES:-40}" \
  --seed "${FUZZ_SEED:-1}" \
  --no-color
