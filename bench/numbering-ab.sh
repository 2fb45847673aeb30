#!/usr/bin/env bash
# What event numbering costs: two release builds (OLD, e.g. main before the
# numbering change, and NEW) each on its own freshly seeded database, one
# server at a time, wrk on POST /post/ and POST /post/{id}/like/ in
# alternating order (old first in odd rounds, new first in even ones); then
# each database's `events` (and `events_pending`) rows, dead rows and size,
# and each server's queries while idle (pg_stat_statements when the server
# preloads it, else committed transactions from pg_stat_database).
#   OLD=/tmp/pamps-old NEW=target/release/pamps bench/numbering-ab.sh
#   ROUNDS=4 DURATION=10 by default; BENCH_PG_URL as bench/run.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PG=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
OLD=${OLD:?the old release binary}
NEW=${NEW:-$PWD/target/release/pamps}
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-10}
IDLE_SECS=${IDLE_SECS:-10}
LUA=$PWD/bench/wrk/pamps.lua
WORK=$(mktemp -d)
PASSWORD=pamps-seed-password
POSTS=10000
# One key for every start: tokens outlive the restarts between runs.
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '/+=')
SERVER=""
cleanup() {
  [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null
  wait 2>/dev/null || true
  for v in old new; do psql "$PG/postgres" -XqAt -c "DROP DATABASE IF EXISTS pamps_bench_num_$v" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
bin() { [[ $1 == old ]] && echo "$OLD" || echo "$NEW"; }
envs() { echo "PAMPS_ENV=development PAMPS_DB__URI=$PG/pamps_bench_num_$1 PAMPS_SERVER__LOG_LEVEL=warn PAMPS_RATE_LIMIT__ENABLED=false PAMPS_SECURITY__ACCESS_TOKEN_EXPIRE_MINUTES=600 PAMPS_SECURITY__SECRET_KEY=$SECRET"; }
q() { psql "$PG/pamps_bench_num_$1" -XqAt -c "$2"; }

# start VERSION: serves it on PORT and waits until it is ready.
start() {
  PORT=$(free_port)
  env $(envs "$1") setsid "$(bin "$1")" serve --host 127.0.0.1 --port "$PORT" >>"$WORK/server-$1.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the $1 server did not start" >&2; exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

for v in old new; do
  psql "$PG/postgres" -XqAt -c "DROP DATABASE IF EXISTS pamps_bench_num_$v" -c "CREATE DATABASE pamps_bench_num_$v" >/dev/null
  env $(envs $v) "$(bin $v)" migrate >/dev/null
  env $(envs $v) "$(bin $v)" seed --force --users 1000 --posts $POSTS --follows-per-user 20 --likes 20000 >/dev/null 2>&1
  q $v "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 || true
  start $v
  : >"$WORK/tokens-$v"
  for i in $(seq 64); do
    body=$(curl -fsS --data-urlencode "username=user$i" --data-urlencode "password=$PASSWORD" "http://127.0.0.1:$PORT/token")
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$body" >>"$WORK/tokens-$v"
  done
  stop
done

# run VERSION MODE ROUND: one wrk run; "req/s p50_ms p99_ms errors".
run() {
  start "$1"
  local out
  out=$(env BENCH_THREADS=2 BENCH_MODE="$2" BENCH_TOKENS="$WORK/tokens-$1" BENCH_POSTS=$POSTS \
    BENCH_OFFSET=$(($3 * 64 * (POSTS / 2) + $3 * 10000000)) \
    wrk -t2 -c32 -d"${DURATION}s" --timeout 5s -s "$LUA" "http://127.0.0.1:$PORT/$([[ $2 == post ]] && echo post/)" 2>&1 |
    grep '^RESULT ')
  stop
  awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
       END { printf "%.0f %.2f %.2f %d\n", f["requests"] / (f["duration_us"] / 1e6), f["p50_us"] / 1000,
             f["p99_us"] / 1000, f["socket_errors"] + f["status_errors"] }' <<<"$out"
}

echo "| endpoint | round | old req/s | old p50 / p99 ms | old errors | new req/s | new p50 / p99 ms | new errors |"
echo "|---|---|---|---|---|---|---|---|"
for mode in post like; do
  for round in $(seq "$ROUNDS"); do
    if ((round % 2)); then o=$(run old $mode "$round"); n=$(run new $mode "$round")
    else n=$(run new $mode "$round"); o=$(run old $mode "$round"); fi
    read -r or op5 op9 oe <<<"$o"; read -r nr np5 np9 ne <<<"$n"
    echo "| POST $([[ $mode == post ]] && echo /post/ || echo '/post/{id}/like/') | $round | $or | $op5 / $op9 | $oe | $nr | $np5 / $np9 | $ne |"
  done
done

echo
echo "| build | table | rows | dead rows | inserted | updated | deleted | autovacuums | size |"
echo "|---|---|---|---|---|---|---|---|---|"
sleep 2
for v in old new; do
  q $v "SELECT '| $v | ' || relname || ' | ' || n_live_tup || ' | ' || n_dead_tup || ' | ' || n_tup_ins || ' | ' || n_tup_upd
          || ' | ' || n_tup_del || ' | ' || autovacuum_count || ' | ' || pg_size_pretty(pg_total_relation_size(relid)) || ' |'
          FROM pg_stat_user_tables WHERE relname IN ('events', 'events_pending') ORDER BY relname"
done

echo
echo "| build | queries in ${IDLE_SECS} s idle | per second | what |"
echo "|---|---|---|---|"
for v in old new; do
  start $v
  sleep 3
  if q $v "SELECT pg_stat_statements_reset()" >/dev/null 2>&1; then
    sleep "$IDLE_SECS"
    calls=$(q $v "SELECT sum(calls) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'")
    what=$(q $v "SELECT string_agg(calls || ' × ' || left(regexp_replace(query, '\s+', ' ', 'g'), 48), '; ' ORDER BY calls DESC)
                 FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND query NOT LIKE '%pg_stat_statements%'")
  else
    before=$(q $v "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    sleep "$IDLE_SECS"
    calls=$(($(q $v "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()") - before))
    what="committed transactions (pg_stat_statements is not preloaded)"
  fi
  stop
  echo "| $v | $calls | $(awk -v c="$calls" -v s="$IDLE_SECS" 'BEGIN { printf "%.1f", c / s }') | ${what//|/\\|} |"
done
