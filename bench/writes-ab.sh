#!/usr/bin/env bash
# A/B of the write rows of bench/run.sh (POST /post/, POST /api/v1/statuses,
# like, favourite) between release binaries, on copies of one seeded database.
#
#   BINS="before=/path/a after=/path/b" bench/writes-ab.sh
#
# The small scale of bench/run.sh is seeded ONCE (by the first binary, so it
# must hold the oldest migrations) into pamps_wab_tpl_$FEEDS; every run serves a
# fresh copy of it (CREATE DATABASE ... TEMPLATE), so each binary meets the
# same data and the same requests (the like offsets repeat). Binaries
# alternate, ROUNDS times; each run holds the quiet lock exclusively.
#
#   BENCH_PG_URL  PostgreSQL server (default postgresql://postgres@127.0.0.1:5432)
#   ROUNDS (2), DURATION (5 s), CONNECTIONS (32)
#   FEEDS=all     every account has a home feed (its follows' posts), as if
#                 all had read their timeline: the fan-out's worst case;
#                 FEEDS=none (default): nobody read it, as in bench/run.sh
#   KEEP_TPL=1    reuse pamps_wab_tpl_$FEEDS (seeded by an earlier run)
#   PGSS=1        print the run's top statements (pg_stat_statements, in postgres)
#   QUIET_LOCK    the lock file held exclusively per run (target/bench.lock)
#   QUIET_WAIT    seconds to wait for it (600), then measure without it
# Prints one line per run and row, and the `events` dead rows after each run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
FEEDS=${FEEDS:-none}
LUA=$ROOT/bench/wrk/pamps.lua
PASSWORD=pamps-seed-password
WRITERS=64
TPL=pamps_wab_tpl_$FEEDS
RUN=pamps_wab_run
read -ra PAIRS <<<"${BINS:?BINS=\"name=/path/to/pamps ...\"}"
WORK=$(mktemp -d)
SERVER_PID=""

say() { echo "[writes-ab] $*" >&2; }
die() { say "$*"; exit 1; }
sql() { psql "$PG_URL/$1" -XqAt -v ON_ERROR_STOP=1 -c "$2"; }
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  sql postgres "DROP DATABASE IF EXISTS $RUN" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

vars() {
  VARS=(PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$1" PAMPS_RATE_LIMIT__ENABLED=false
    PAMPS_SERVER__LOG_LEVEL=warn PAMPS_SECURITY__ACCESS_TOKEN_EXPIRE_MINUTES=600
    PAMPS_METRICS__ENABLED=false)
}

start() { # BIN DB
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  vars "$2"
  env "${VARS[@]}" setsid "$1" serve --host 127.0.0.1 --port "$port" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  BASE=http://127.0.0.1:$port
  for _ in $(seq 200); do
    curl -fsS "$BASE/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$WORK/server.log" >&2
  die "$1 did not become ready"
}

stop() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

first_bin=${PAIRS[0]#*=}
if [[ ${KEEP_TPL:-0} != 1 ]] || [[ $(sql postgres "SELECT count(*) FROM pg_database WHERE datname = '$TPL'") == 0 ]]; then
  say "seeding $TPL with $first_bin"
  sql postgres "DROP DATABASE IF EXISTS $TPL" >/dev/null
  sql postgres "CREATE DATABASE $TPL" >/dev/null
  vars "$TPL"
  env "${VARS[@]}" "$first_bin" migrate >/dev/null
  env "${VARS[@]}" "$first_bin" seed --force --users 1000 --posts 10000 --follows-per-user 20 \
    --likes 20000 >/dev/null 2>&1
  if [[ $FEEDS == all ]]; then
    sql "$TPL" "INSERT INTO home_feed (account_id, entry_id, post_id, source_id, repost)
                SELECT f.follower_id, p.id, p.id, p.user_id, false
                  FROM follows f JOIN posts p ON p.user_id = f.followee_id AND p.deleted_at IS NULL
                UNION ALL SELECT p.user_id, p.id, p.id, p.user_id, false FROM posts p
                 WHERE p.deleted_at IS NULL
                ON CONFLICT DO NOTHING;
                INSERT INTO home_feed_state (account_id, floor) SELECT id, 0 FROM users;"
  fi
  sql "$TPL" "VACUUM ANALYZE" >/dev/null
  say "$TPL: $(sql "$TPL" "SELECT count(*) FROM home_feed_state") feeds, $(sql "$TPL" "SELECT count(*) FROM home_feed") entries"
fi
POSTS=$(sql "$TPL" "SELECT max(id) FROM posts")

TOKENS=$WORK/tokens
one_run() { # NAME BIN
  sql postgres "DROP DATABASE IF EXISTS $RUN" >/dev/null
  sql postgres "CREATE DATABASE $RUN TEMPLATE $TPL" >/dev/null
  start "$2" "$RUN"
  if [[ ! -s $TOKENS ]]; then
    local i t
    for i in $(seq "$WRITERS"); do
      for _ in 1 2 3 4 5; do
        t=$(curl -sS --data-urlencode "username=user$i" --data-urlencode "password=$PASSWORD" "$BASE/token" |
          sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
        [[ -n $t ]] && break
        sleep 0.5
      done
      [[ -n $t ]] || die "no token for user$i"
      echo "$t" >>"$TOKENS"
    done
  fi
  sleep 1
  [[ ${PGSS:-0} == 1 ]] && sql postgres "SELECT pg_stat_statements_reset()" >/dev/null
  local mode api r rps
  for mode in post like; do
    for api in pamps mastodon; do
      r=$(env BENCH_THREADS=2 BENCH_MODE=$mode BENCH_API=$api BENCH_TOKENS="$TOKENS" BENCH_POSTS="$POSTS" \
        BENCH_OFFSET=0 wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s -s "$LUA" "$BASE/" 2>&1 |
        grep '^RESULT ') || die "wrk failed ($1 $mode $api)"
      rps=$(awk -v n="$(field requests "$r")" -v us="$(field duration_us "$r")" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
      printf '%s\t%s\t%s\t%s\t%.2f\t%.2f\t%s\n' "$1" "$mode" "$api" "$rps" \
        "$(awk -v u="$(field p50_us "$r")" 'BEGIN { print u / 1000 }')" \
        "$(awk -v u="$(field p99_us "$r")" 'BEGIN { print u / 1000 }')" \
        "$(($(field socket_errors "$r") + $(field status_errors "$r")))"
    done
  done
  # The worker catches up before the counts are read.
  for _ in $(seq 300); do
    [[ $(sql "$RUN" "SELECT (SELECT pos FROM home_feed_cursor) >= (SELECT coalesce(max(pos), 0) FROM events)
                     AND NOT EXISTS (SELECT 1 FROM events_pending)") == t ]] && break
    sleep 0.1
  done
  printf '%s\tevents\tlive %s dead %s; home_feed %s rows\n' "$1" \
    "$(sql "$RUN" "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'events'")" \
    "$(sql "$RUN" "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'events'")" \
    "$(sql "$RUN" "SELECT count(*) FROM home_feed")"
  if [[ ${PGSS:-0} == 1 ]]; then
    psql "$PG_URL/postgres" -XAF $'\t' -c "SELECT round(s.total_exec_time::numeric) AS exec_ms,
             round(s.total_plan_time::numeric) AS plan_ms, s.calls,
             round((s.total_exec_time / greatest(s.calls, 1))::numeric, 3) AS ms_per_call,
             left(regexp_replace(s.query, '\s+', ' ', 'g'), 110) AS query
        FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid AND d.datname = '$RUN'
       ORDER BY s.total_exec_time + s.total_plan_time DESC LIMIT 15" >"$WORK/pgss-$1"
    sed "s/^/$1\tpgss\t/" "$WORK/pgss-$1" >&2
  fi
  stop
}

QUIET_LOCK=${QUIET_LOCK:-$ROOT/target/bench.lock}
mkdir -p "$(dirname "$QUIET_LOCK")" && touch "$QUIET_LOCK"
printf 'run\tmode\tapi\treq/s\tp50 ms\tp99 ms\terrors\n'
for round in $(seq "$ROUNDS"); do
  order=("${PAIRS[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#PAIRS[@]} - 1; i >= 0; i--)); do order+=("${PAIRS[i]}"); done
  fi
  for pair in "${order[@]}"; do
    (
      if ! flock -x -w "${QUIET_WAIT:-600}" 9; then
        say "the quiet lock was not granted within ${QUIET_WAIT:-600} s: measuring without it"
        echo "${pair%%=*}	note	measured without the quiet lock (not granted)"
      fi
      one_run "${pair%%=*}" "${pair#*=}"
    ) 9<"$QUIET_LOCK"
  done
done
