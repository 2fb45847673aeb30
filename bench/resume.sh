#!/usr/bin/env bash
# Resume amplification (issue 20.3): GET /post/ latency alone, then while
# RESUMERS anonymous clients keep resuming the stream from `since=1`.
#   bench/resume.sh [PAMPS_BINARY]        (default target/debug/pamps)
#
# Environment (all optional):
#   BENCH_PG_URL   PostgreSQL server (default postgresql://postgres@127.0.0.1:5432)
#   EVENTS=6000    posts seeded, so the outbox holds about this many events
#   RESUMERS=100   concurrent resuming clients (each: curl ?since=1 for 3 s, again)
#   DURATION=10    seconds of each wrk run (2 threads, 10 connections)
#   BACK           resume from this many events behind the head instead of
#                  since=1 (e.g. 900: within stream.max_replay, so replayed)
# Loopback only; every run is bounded in time. Prints the two wrk p50s.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PAMPS=${1:-$ROOT/target/debug/pamps}
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
EVENTS=${EVENTS:-6000}
RESUMERS=${RESUMERS:-100}
DURATION=${DURATION:-10}
DB=pamps_bench_resume
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
API=http://127.0.0.1:$PORT
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PAMPS_ENV=development PAMPS_DB__URI=$PG_URL/$DB PAMPS_RATE_LIMIT__ENABLED=false \
    PAMPS_SERVER__LOG_LEVEL=warn PAMPS_SERVER__PORT=$PORT
# From an empty directory: only the settings above apply.
(cd "$(mktemp -d)" && exec setsid "$PAMPS" serve) >/tmp/pamps-resume-bench.log 2>&1 &
PIDS+=($!)
until curl -fs "$API/health" >/dev/null; do
    kill -0 "${PIDS[0]}" || { cat /tmp/pamps-resume-bench.log; exit 1; }
    sleep 0.2
done

curl -fs -X POST "$API/user/" -H 'Content-Type: application/json' \
    -d '{"email": "bench@example.com", "username": "bench", "password": "correct-horse-42"}' >/dev/null
psql -q "$PG_URL/$DB" -c "INSERT INTO posts (user_id, text)
    SELECT (SELECT id FROM users), 'resume bench post ' || g || ' ' || repeat('x', 200)
      FROM generate_series(1, $EVENTS) g"
until [ "$(psql -tAq "$PG_URL/$DB" -c 'SELECT count(*) FROM events_pending')" = 0 ]; do
    sleep 0.2
done
echo "outbox: $(psql -tAq "$PG_URL/$DB" -c 'SELECT count(*) FROM events') events"
SINCE=1
if [ -n "${BACK:-}" ]; then
    SINCE=$(( $(psql -tAq "$PG_URL/$DB" -c 'SELECT max(pos) FROM events') - BACK ))
fi
BYTES=$( (curl -s -N --max-time 5 "$API/stream?since=$SINCE" || true) | wc -c)
echo "one resume from since=$SINCE sends $BYTES bytes in 5 s"

p50() { wrk -t2 -c10 -d"${DURATION}s" --latency "$API/post/" | awk '$1 == "50%" {p50=$2} $1 == "99%" {p99=$2} $1 == "Requests/sec:" {rps=$2} END {print "p50 " p50 ", p99 " p99 ", " rps " req/s"}'; }

echo "GET /post/ p50 alone: $(p50)"
for _ in $(seq "$RESUMERS"); do
    (while :; do curl -s -N --max-time 3 "$API/stream?since=$SINCE" >/dev/null || true; done) &
    PIDS+=($!)
done
sleep 2
echo "GET /post/ p50 under $RESUMERS concurrent resumes: $(p50)"
