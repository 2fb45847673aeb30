#!/usr/bin/env bash
# What an idle instance costs (issue 19): `pamps serve` (release) with no
# client, against a fresh migrated database; after WARMUP seconds, counts
# for SECONDS_IDLE seconds the database's transactions (pg_stat_database:
# xact_commit + xact_rollback; each idle poll is one statement or one short
# transaction) and the server's CPU time (utime + stime
# from /proc/<pid>/stat). PostgreSQL flushes an idle backend's counts within
# 10 s, so the window's two ends lag alike.
#   bench/idle.sh                   60 s after 10 s of warm-up
#   SECONDS_IDLE=30 bench/idle.sh
# Needs target/release/pamps (cargo build --release), psql, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
DB=pamps_bench_idle
WARMUP=${WARMUP:-10}
SECONDS_IDLE=${SECONDS_IDLE:-60}
PAMPS=$ROOT/target/release/pamps
SERVER_PID=""
LOG=$(mktemp)

cleanup() {
  [[ -n $SERVER_PID ]] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
  psql "$PG_URL/postgres" -XqAt -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -f "$LOG"
}
trap cleanup EXIT

sql() { psql "$PG_URL/postgres" -XqAt -c "$1"; }
xacts() { sql "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }

sql "DROP DATABASE IF EXISTS $DB" >/dev/null
sql "CREATE DATABASE $DB" >/dev/null
export PAMPS_ENV=development PAMPS_DB__URI=$PG_URL/$DB PAMPS_SERVER__LOG_LEVEL=warn
"$PAMPS" migrate >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid "$PAMPS" serve --host 127.0.0.1 --port "$port" >"$LOG" 2>&1 &
SERVER_PID=$!
sleep "$WARMUP"
sql "SELECT pg_stat_clear_snapshot()" >/dev/null
x0=$(xacts); t0=$(ticks)
sleep "$SECONDS_IDLE"
x1=$(xacts); t1=$(ticks)
hz=$(getconf CLK_TCK)
awk -v x="$((x1 - x0))" -v t="$((t1 - t0))" -v s="$SECONDS_IDLE" -v hz="$hz" 'BEGIN {
  printf "idle %d s: %d transactions = %.2f/s to PostgreSQL; server CPU %.2f s = %.2f %% of a core\n",
    s, x, x / s, t / hz, 100 * t / hz / s }'
