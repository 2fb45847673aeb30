#!/usr/bin/env bash
# Home feeds (issue 19.2), two measurements with the release binary:
#
#   1. Fan-out: an author with FOLLOWERS (27,000) followers posts ROUNDS
#      times through the API; for each post, the time from its transaction
#      (the post's `date`) until every follower's feed holds it, and the
#      POST's own latency (the write does not wait for the fan-out).
#   2. The home timeline at the large scale (`pamps seed` of 1M posts), as
#      the user whose following count is closest to 500: wrk at c=32 for
#      DURATION seconds (after one read that builds the feed), beside
#      `pgbench -S -M prepared -c 32` on the same server.
#
#   BENCH_PG_URL   PostgreSQL server (default postgresql://postgres@127.0.0.1:5432)
#   SKIP_LARGE=1   only the fan-out;  SKIP_FANOUT=1  only the timeline
#   KEEP_DB=1      keep pamps_bench_feed_* (and reuse a seeded large one)
# Prints a markdown table. Loopback only; every load run is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
PAMPS=${PAMPS:-$ROOT/target/release/pamps}
LUA=$ROOT/bench/wrk/pamps.lua
FOLLOWERS=${FOLLOWERS:-27000}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
KEEP_DB=${KEEP_DB:-0}
PASSWORD=pamps-seed-password
WORK=$(mktemp -d)
SERVER_PID=""
BASE=""

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/home-feed.sh: %s\n' "$*" >&2; exit 1; }
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$PG_URL/$1" -c "$2"; }
stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  if [[ $KEEP_DB != 1 ]]; then
    sql postgres "DROP DATABASE IF EXISTS pamps_bench_feed_fanout" >/dev/null 2>&1 || true
    sql postgres "DROP DATABASE IF EXISTS pamps_bench_feed_large" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pamps_env() {
  VARS=(PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$1" PAMPS_RATE_LIMIT__ENABLED=false
    PAMPS_SERVER__LOG_LEVEL=warn PAMPS_SECURITY__ACCESS_TOKEN_EXPIRE_MINUTES=600)
}
start_server() {
  local port
  port=$(free_port)
  pamps_env "$1"
  env "${VARS[@]}" setsid "$PAMPS" serve --host 127.0.0.1 --port "$port" >"$WORK/server-$1.log" 2>&1 &
  SERVER_PID=$!
  BASE=http://127.0.0.1:$port
  for _ in $(seq 100); do
    curl -fsS "$BASE/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$WORK/server-$1.log" >&2
  die "pamps serve did not become ready"
}
token_for() {
  curl -fsS --data-urlencode "username=$1" --data-urlencode "password=$2" "$BASE/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
command -v wrk >/dev/null || die "wrk is missing: apt-get install wrk"
[[ -x $PAMPS ]] || die "no release binary at $PAMPS: cargo build --release"

ROWS=()
if [[ ${SKIP_FANOUT:-0} != 1 ]]; then
  db=pamps_bench_feed_fanout
  sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null
  sql postgres "CREATE DATABASE $db" >/dev/null
  pamps_env "$db"
  env "${VARS[@]}" "$PAMPS" migrate >/dev/null
  env "${VARS[@]}" "$PAMPS" adduser author@example.com author --password "$PASSWORD" >/dev/null
  say "fan-out: $FOLLOWERS followers"
  # Set-based, as `pamps seed` does: per-row triggers would update the
  # author's counter 27,000 times in one transaction.
  sql "$db" "SET session_replication_role = replica;
             INSERT INTO users (username, email, password_hash)
             SELECT 'fol' || n, 'fol' || n || '@example.com', '!' FROM generate_series(1, $FOLLOWERS) n;
             INSERT INTO follows (follower_id, followee_id)
             SELECT id, (SELECT id FROM users WHERE username = 'author') FROM users WHERE username <> 'author';
             UPDATE users SET followers_count = $FOLLOWERS WHERE username = 'author';
             UPDATE users SET following_count = 1 WHERE username <> 'author';
             -- Every account has read its timeline (the fan-out fills only
             -- feeds that exist): the worst case.
             INSERT INTO home_feed_state (account_id, floor) SELECT id, 0 FROM users;" >/dev/null
  sql "$db" "VACUUM ANALYZE users, follows, home_feed_state" >/dev/null
  start_server "$db"
  token=$(token_for author "$PASSWORD")
  # The follows' notification events are fanned out first (nothing to add).
  for _ in $(seq 600); do
    [[ $(sql "$db" "SELECT (SELECT pos FROM home_feed_cursor) >= (SELECT coalesce(max(pos), 0) FROM events)
                    AND NOT EXISTS (SELECT 1 FROM events_pending)") == t ]] && break
    sleep 0.1
  done
  for round in $(seq "$ROUNDS"); do
    start=$(date +%s%N)
    post=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d "{\"text\": \"round $round to $FOLLOWERS followers\"}" "$BASE/post/" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
    write_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [[ -n $post ]] || die "the post failed"
    ms=$(psql -X -q -t -A -v ON_ERROR_STOP=1 "$PG_URL/$db" 2>&1 <<SQL | sed -n 's/.*ms=\([0-9.]*\) rows=\([0-9]*\).*/\1 \2/p'
DO \$\$
DECLARE n bigint; t0 timestamptz; done timestamptz;
BEGIN
  SELECT date INTO t0 FROM posts WHERE id = $post;
  -- The worker's cursor passing the post's event (cheap to poll); then the
  -- feeds are counted once.
  LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM events e, home_feed_cursor c
                       WHERE e.type = 'post' AND e.post_id = $post AND c.pos >= e.pos)
           OR clock_timestamp() - t0 > interval '30 s';
    PERFORM pg_sleep(0.005);
  END LOOP;
  done := clock_timestamp();
  SELECT count(*) INTO n FROM home_feed WHERE entry_id = $post;
  RAISE NOTICE 'ms=% rows=%', round((extract(epoch FROM done - t0) * 1000)::numeric, 1), n;
END \$\$;
SQL
)
    read -r ms rows <<<"$ms"
    [[ $rows == $((FOLLOWERS + 1)) ]] || die "post $post is in $rows feeds, not $((FOLLOWERS + 1))"
    say "round $round: post $post written in $write_ms ms, in all $rows feeds after $ms ms"
    ROWS+=("| fan-out to $FOLLOWERS followers, round $round | POST answered in $write_ms ms | all $rows feeds hold it $ms ms after the post's transaction began |")
  done
  stop_server
fi

if [[ ${SKIP_LARGE:-0} != 1 ]]; then
  db=pamps_bench_feed_large
  if [[ $KEEP_DB == 1 && $(sql postgres "SELECT count(*) FROM pg_database WHERE datname = '$db'") == 1 ]]; then
    say "reusing $db"
    pamps_env "$db"
    env "${VARS[@]}" "$PAMPS" migrate >/dev/null
  else
    sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null
    sql postgres "CREATE DATABASE $db" >/dev/null
    pamps_env "$db"
    env "${VARS[@]}" "$PAMPS" migrate >/dev/null
    say "seeding 1M posts"
    s=$(date +%s)
    env "${VARS[@]}" "$PAMPS" seed --force --users 100000 --posts 1000000 --follows-per-user 20 --likes 2000000 >/dev/null
    say "seeded in $(($(date +%s) - s)) s"
  fi
  start_server "$db"
  read -r reader following <<<"$(sql "$db" "SELECT username || ' ' || following_count FROM users
                                          ORDER BY abs(following_count - 500), id LIMIT 1")"
  token=$(token_for "$reader" "$PASSWORD")
  s=$(date +%s%N)
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$BASE/user/timeline"
  build_ms=$(( ($(date +%s%N) - s) / 1000000 ))
  say "$reader follows $following; first read (builds the feed) $build_ms ms"
  reader_id=$(sql "$db" "SELECT id FROM users WHERE username = '$reader'")
  # The same read through the query over follows alone (the path before
  # home feeds, plus two small queries): the feed's floor above every entry.
  for mode in feed follows; do
  if [[ $mode == follows ]]; then
    sql "$db" "UPDATE home_feed_state SET floor = 9223372036854775807 WHERE account_id = $reader_id" >/dev/null
  fi
  for include_own in false true; do
    out=$(env BENCH_THREADS=2 BENCH_TOKEN="$token" wrk -t2 -c32 -d"${DURATION}s" --timeout 5s -s "$LUA" \
      "$BASE/user/timeline?include_own=$include_own" 2>&1)
    r=$(grep '^RESULT ' <<<"$out") || die "no wrk result: $out"
    f() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$r"; }
    rps=$(awk -v n="$(f requests)" -v us="$(f duration_us)" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
    p50=$(awk -v us="$(f p50_us)" 'BEGIN { printf "%.2f", us / 1000 }')
    p99=$(awk -v us="$(f p99_us)" 'BEGIN { printf "%.2f", us / 1000 }')
    errors=$(($(f socket_errors) + $(f status_errors)))
    say "[$mode] timeline include_own=$include_own: $rps req/s p50 $p50 ms p99 $p99 ms errors $errors"
    ROWS+=("| GET /user/timeline?include_own=$include_own, 1M posts, viewer following $following, c=32, from the $mode | $rps req/s | p50 $p50 ms, p99 $p99 ms, $errors errors |")
  done
  done
  # Back to the feed: a later run on the kept database reads it again.
  sql "$db" "DELETE FROM home_feed_state WHERE account_id = $reader_id" >/dev/null
  ROWS+=("| first read of that viewer (builds the feed) | $build_ms ms | once per account |")
  stop_server
  bin=$(pg_config --bindir 2>/dev/null || true)
  PGBENCH=$bin/pgbench
  [[ -x $PGBENCH ]] || PGBENCH=$(command -v pgbench)
  sql postgres "DROP DATABASE IF EXISTS pamps_bench_feed_pgbench" >/dev/null
  sql postgres "CREATE DATABASE pamps_bench_feed_pgbench" >/dev/null
  "$PGBENCH" -i -q -s 10 "$PG_URL/pamps_bench_feed_pgbench" >/dev/null 2>&1
  out=$("$PGBENCH" -S -M prepared -c 32 -j 2 -T "$DURATION" "$PG_URL/pamps_bench_feed_pgbench" 2>&1)
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
  sql postgres "DROP DATABASE IF EXISTS pamps_bench_feed_pgbench" >/dev/null
  ROWS+=("| pgbench -S -M prepared -c 32 (scale 10), same server | ${tps%.*} tps | PostgreSQL's single-row read ceiling |")
fi

printf '| measurement | figure | detail |\n|---|---|---|\n'
printf '%s\n' "${ROWS[@]}"
