#!/usr/bin/env bash
# Search latency at 1M posts (issue 17): seeds a database with `pamps seed`
# at the large scale of bench/run.sh, rebuilds the hashtag counts (the seed
# bypasses triggers), serves pamps and times each search route with one
# client and then with CONCURRENCY clients (bench/search_load.py).
#
# Environment (all optional):
#   BENCH_PG_URL   PostgreSQL server (default postgresql://postgres@127.0.0.1:5432)
#   PAMPS          the binary (default target/release/pamps, else target/debug/pamps)
#   REQUESTS=300   requests per route and client
#   CONCURRENCY=8  clients of the concurrent run
#   KEEP_DB=1      keep the database (and skip seeding when it exists)
#   RESULTS        output file (default bench/search-results.md)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
REQUESTS=${REQUESTS:-300}
CONCURRENCY=${CONCURRENCY:-8}
KEEP_DB=${KEEP_DB:-0}
RESULTS=${RESULTS:-$ROOT/bench/search-results.md}
DB=pamps_bench_search
if [[ -z ${PAMPS:-} ]]; then
  PAMPS=$ROOT/target/release/pamps
  [[ -x $PAMPS ]] || PAMPS=$ROOT/target/debug/pamps
fi
WORK=$(mktemp -d)
SERVER_PID=""

say() { printf '==> %s\n' "$*" >&2; }
sql() { psql "$PG_URL/$1" -XqAt -c "$2"; }

cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [[ $KEEP_DB == 1 ]] || sql postgres "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

VARS=(PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$DB" PAMPS_RATE_LIMIT__ENABLED=false
  PAMPS_SERVER__LOG_LEVEL=warn PAMPS_SECURITY__ACCESS_TOKEN_EXPIRE_MINUTES=600)

if [[ $KEEP_DB == 1 ]] && [[ $(sql postgres "SELECT count(*) FROM pg_database WHERE datname = '$DB'") == 1 ]]; then
  say "reusing $DB"
else
  sql postgres "DROP DATABASE IF EXISTS $DB" >/dev/null
  sql postgres "CREATE DATABASE $DB" >/dev/null
  say "seeding $DB (100k users, 1M posts)"
  start=$(date +%s)
  env "${VARS[@]}" "$PAMPS" seed --force --users 100000 --posts 1000000 \
    --follows-per-user 20 --likes 2000000 >"$WORK/seed.log" 2>&1
  say "seeded in $(($(date +%s) - start)) s; recounting hashtags"
  sql $DB "SELECT hashtags_recount()" >/dev/null
  sql $DB "VACUUM ANALYZE hashtags" >/dev/null
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env "${VARS[@]}" setsid "$PAMPS" serve --host 127.0.0.1 --port "$port" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
token=$(curl -fsS -X POST "http://127.0.0.1:$port/token" \
  -d username=user1 -d password=pamps-seed-password | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

say "timing (${REQUESTS} requests per route and client)"
{
  echo "# Search latency at 1M posts"
  echo
  echo "\`bench/search.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores shared, PostgreSQL $(sql postgres 'SHOW server_version'),"
  echo "binary \`${PAMPS#"$ROOT"/}\`. Seed: 100k users, 1M posts ($(sql $DB "SELECT count(*) FROM hashtags WHERE uses > 0") hashtags), 2M follows, 2M likes."
  echo "Each request's time is measured by the client, over HTTP/1.1 keep-alive on loopback;"
  echo "queries rotate through the list below (common and rare words, prefixes)."
  echo
  python3 bench/search_load.py "http://127.0.0.1:$port" "$token" "$REQUESTS" 1
  echo
  python3 bench/search_load.py "http://127.0.0.1:$port" "$token" "$REQUESTS" "$CONCURRENCY"
} >"$RESULTS"
cat "$RESULTS"
