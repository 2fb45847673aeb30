#!/usr/bin/env bash
# A/B of the reads (issue 19) on an already seeded database:
#   bench/reads-ab.sh BIN_A:DB_A BIN_B:DB_B ...
# Each pair runs `pamps serve` (release binary BIN) on database DB (a copy of
# one seed: `CREATE DATABASE b TEMPLATE a`, as the binaries' migrations may
# differ), logs in as the user following closest to 500 accounts, warms up,
# then measures each of PATHS (default: the two home timelines) with wrk
# (bench/wrk/pamps.lua, 2 threads, that user's token) for DURATION seconds at
# CONNECTIONS. PGBENCH=1 measures `pgbench -S -M prepared` (scale 10, its own
# database) at CONNECTIONS too, once per round: the ceiling the issue's
# percentages are of. ROUNDS repeats the whole list (A B A B ...), so drift
# shows. Prints one line per measurement. Environment: BENCH_PG_URL (default
# postgresql://postgres@127.0.0.1:5432), PATHS="/user/timeline
# /api/v1/timelines/home", DURATION=5, CONNECTIONS=32, ROUNDS=2, PGBENCH=0.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-2}
PATHS=${PATHS:-/user/timeline /api/v1/timelines/home}
PGBENCH=${PGBENCH:-0}
PASSWORD=pamps-seed-password
LUA=$ROOT/bench/wrk/pamps.lua
SERVER_PID=""
trap '[[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null; true' EXIT

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

measure() {
  local label=$1 url=$2 token=$3 out
  out=$(env BENCH_THREADS=2 BENCH_TOKEN="$token" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" \
    --timeout 5s -s "$LUA" "$url" 2>&1 | grep '^RESULT ')
  awk -v l="$label" -v n="$(field requests "$out")" -v us="$(field duration_us "$out")" \
    -v p50="$(field p50_us "$out")" -v p99="$(field p99_us "$out")" \
    -v e="$(($(field socket_errors "$out") + $(field status_errors "$out")))" \
    'BEGIN { printf "%-50s %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", l, n / (us / 1e6), p50 / 1000, p99 / 1000, e }'
}

run() {
  local bin=${1%%:*} db=${1#*:} port base reader token
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$db" PAMPS_RATE_LIMIT__ENABLED=false \
    PAMPS_SERVER__LOG_LEVEL=warn PAMPS_SECURITY__ACCESS_TOKEN_EXPIRE_MINUTES=600 PAMPS_METRICS__ENABLED=false \
    setsid "$bin" serve --host 127.0.0.1 --port "$port" >/tmp/reads-ab-server.log 2>&1 &
  SERVER_PID=$!
  base=http://127.0.0.1:$port
  for _ in $(seq 300); do curl -fsS "$base/ready" >/dev/null 2>&1 && break; sleep 0.1; done
  reader=$(psql "$PG_URL/$db" -XqAt -c "SELECT username FROM users ORDER BY abs(following_count - 500), id LIMIT 1")
  token=$(curl -fsS --data-urlencode "username=$reader" --data-urlencode "password=$PASSWORD" "$base/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  [[ -n $token ]] || { echo "login failed" >&2; exit 1; }
  local path
  for path in $PATHS; do
    env BENCH_TOKEN="$token" wrk -t2 -c"$CONNECTIONS" -d2s -s "$LUA" "$base$path" >/dev/null 2>&1
  done
  for path in $PATHS; do
    measure "$(basename "$bin") GET $path" "$base$path" "$token"
  done
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

ceiling() {
  local tps
  tps=$(pgbench -S -M prepared -n -c "$CONNECTIONS" -j 2 -T "$DURATION" "$PG_URL/pamps_reads_ab_pgbench" 2>&1 |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  printf "%-50s %7.0f tps\n" "pgbench -S -M prepared (scale 10)" "$tps"
}

if [[ $PGBENCH == 1 ]]; then
  psql "$PG_URL/postgres" -Xq -c "DROP DATABASE IF EXISTS pamps_reads_ab_pgbench" -c "CREATE DATABASE pamps_reads_ab_pgbench"
  pgbench -i -q -s 10 "$PG_URL/pamps_reads_ab_pgbench" >/dev/null 2>&1
fi
for _ in $(seq "$ROUNDS"); do
  [[ $PGBENCH == 1 ]] && ceiling
  for pair in "$@"; do run "$pair"; done
done
