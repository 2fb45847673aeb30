#!/usr/bin/env bash
# One-command HTTP benchmark of pamps on this machine (see bench/README.md):
#   bench/run.sh            full run (10 s per measurement, about 9 minutes)
#   QUICK=1 bench/run.sh    3 s per measurement
#
# Environment (all optional):
#   DURATION=10          seconds per measurement (QUICK=1 makes the default 3)
#   CONNECTIONS="32 256" wrk connection counts
#   SCALES="small large" which seeded databases to measure
#   KEEP_DB=1            keep pamps_bench_* databases afterwards
#   SKIP_BUILD=1         use the existing target/release/pamps
#   ONLY=REGEX           measure only the endpoints whose row name matches (grep -E),
#                        e.g. ONLY='timeline' for the large scale's timelines
#   METRICS=1            serve with Prometheus metrics on (its own loopback port),
#                        scraped after each scale: to measure what metrics cost
#   BENCH_PG_URL         PostgreSQL server (default postgresql://postgres@127.0.0.1:5432)
#   RESULTS              output file (default bench/results.md)
# Everything targets loopback only; every load run is bounded by DURATION.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then DURATION=${DURATION:-3}; else DURATION=${DURATION:-10}; fi
CONNECTIONS=${CONNECTIONS:-"32 256"}
SCALES=${SCALES:-"small large"}
ONLY=${ONLY:-}
KEEP_DB=${KEEP_DB:-0}
METRICS=${METRICS:-0}
METRICS_ADDR=""
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
RESULTS=${RESULTS:-$ROOT/bench/results.md}
WRK_THREADS=2
WRITERS=64          # accounts whose tokens the write benchmarks rotate through
DEEP_PAGES=50       # Link headers followed (100 posts each) to reach the deep page
STORM_CONNECTIONS=16
PASSWORD=pamps-seed-password
PAMPS=$ROOT/target/release/pamps
LUA=$ROOT/bench/wrk/pamps.lua

WORK=$(mktemp -d)
SERVER_PID=""
BASE=""
PAMPS_VARS=()
DATABASES=()
ROWS=()
NOTES=()

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

cleanup() {
  stop_server
  if [[ $KEEP_DB != 1 ]]; then
    for db in "${DATABASES[@]}"; do
      psql "$PG_URL/postgres" -XqAt -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

# Arguments of `pamps seed` for a scale.
scale_args() {
  case $1 in
    small) echo "--users 1000 --posts 10000 --follows-per-user 20 --likes 20000" ;;
    large) echo "--users 100000 --posts 1000000 --follows-per-user 20 --likes 2000000" ;;
    *) die "unknown scale $1 (small or large)" ;;
  esac
}

need_tools() {
  if ! command -v wrk >/dev/null 2>&1; then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
      die "wrk is missing: apt-get install wrk"
    fi
    say "installing wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
  local bin
  bin=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
  PGBENCH=$bin/pgbench
  [[ -x $PGBENCH ]] || PGBENCH=$(command -v pgbench) || die "pgbench is missing"
  for tool in psql curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
  done
  psql "$PG_URL/postgres" -XqAt -c 'select 1' >/dev/null || die "PostgreSQL at $PG_URL does not answer"
}

sql() { psql "$PG_URL/$1" -XqAt -c "$2"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fresh_db() {
  DATABASES+=("$1")
  sql postgres "DROP DATABASE IF EXISTS $1" >/dev/null
  sql postgres "CREATE DATABASE $1" >/dev/null
}

# pamps_env DB: the environment pamps runs with against database DB.
pamps_env() {
  PAMPS_VARS=(PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$1" PAMPS_RATE_LIMIT__ENABLED=false
    PAMPS_SERVER__LOG_LEVEL=warn PAMPS_SECURITY__ACCESS_TOKEN_EXPIRE_MINUTES=600
    "PAMPS_METRICS__ENABLED=$([[ $METRICS == 1 ]] && echo true || echo false)")
  if [[ $METRICS == 1 ]]; then
    [[ -n $METRICS_ADDR ]] || METRICS_ADDR=127.0.0.1:$(free_port)
    PAMPS_VARS+=("PAMPS_METRICS__LISTEN=$METRICS_ADDR")
  fi
}

start_server() {
  local port
  port=$(free_port)
  pamps_env "$1"
  # env execs pamps, so $! is the server itself.
  env "${PAMPS_VARS[@]}" setsid "$PAMPS" serve --host 127.0.0.1 --port "$port" >"$WORK/server-$1.log" 2>&1 &
  SERVER_PID=$!
  BASE=http://127.0.0.1:$port
  for _ in $(seq 100); do
    curl -fsS "$BASE/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$WORK/server-$1.log" >&2
  die "pamps serve did not become ready"
}

# Kibibytes of a /proc status field of the server, in MiB.
server_mib() {
  awk -v key="$1:" '$1 == key { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status"
}

# An access token of seeded user $1, on a line of its own.
token_for() {
  local body
  body=$(curl -fsS --data-urlencode "username=$1" --data-urlencode "password=$PASSWORD" "$BASE/token")
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$body"
}

# The URL of a response's Link rel="next", if any.
next_link() {
  curl -fsS -D - -o /dev/null "$1" | tr -d '\r' | sed -n 's/^[Ll]ink: <\([^>]*\)>.*/\1/p'
}

# wrk_result CONNS URL [VAR=VALUE...]: one wrk run of DURATION (+ EXTRA_SECONDS)
# seconds with the given environment for the Lua script; prints its RESULT line.
wrk_result() {
  local conns=$1 url=$2 out
  shift 2
  out=$(env BENCH_THREADS="$WRK_THREADS" "$@" wrk -t"$WRK_THREADS" -c"$conns" -d"$((DURATION + ${EXTRA_SECONDS:-0}))s" \
    --timeout 5s -s "$LUA" "$url" 2>&1) || die "wrk failed: $out"
  grep '^RESULT ' <<<"$out" || die "no RESULT from wrk: $out"
}

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

# row SCALE ENDPOINT CONNS RESULT NOTE: appends a table row.
row() {
  local r=$4 rps p50 p99 errors
  [[ $r == RESULT* ]] || die "no wrk result for $1 $2 ($3 connections)"
  rps=$(awk -v n="$(field requests "$r")" -v us="$(field duration_us "$r")" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
  p50=$(awk -v us="$(field p50_us "$r")" 'BEGIN { printf "%.2f", us / 1000 }')
  p99=$(awk -v us="$(field p99_us "$r")" 'BEGIN { printf "%.2f", us / 1000 }')
  errors=$(($(field socket_errors "$r") + $(field status_errors "$r")))
  local pct=""
  if [[ $2 == GET* && -n ${PGBENCH_TPS[$3]:-} ]]; then
    pct=$(awk -v a="$rps" -v b="${PGBENCH_TPS[$3]}" 'BEGIN { printf "%.0f %%", 100 * a / b }')
  fi
  ROWS+=("| $1 | $2 | $3 | $rps | $pct | $p50 | $p99 | $errors | $5 |")
  say "$1 $2 c=$3: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errors"
}

# Whether endpoint row $1 is measured (ONLY).
wanted() { [[ -z $ONLY ]] || grep -Eq -- "$ONLY" <<<"$1"; }

# measure SCALE ENDPOINT NOTE URL [VAR=VALUE...]: a row per connection count.
measure() {
  local scale=$1 endpoint=$2 note=$3 url=$4 c
  shift 4
  wanted "$endpoint" || return 0
  for c in $CONNECTIONS; do
    row "$scale" "$endpoint" "$c" "$(wrk_result "$c" "$url" "$@")" "$note"
  done
}

# login_storm SCALE THREAD: GET /post/{id}/ alone, then during a POST /token flood.
login_storm() {
  local scale=$1 thread=$2 r
  say "[$scale] login storm"
  row "$scale" "GET /post/{id}/ alone (storm baseline)" 32 "$(wrk_result 32 "$BASE/post/$thread/")" ""
  local storm_out=$WORK/storm-$scale
  EXTRA_SECONDS=2 wrk_result "$STORM_CONNECTIONS" "$BASE/" BENCH_MODE=login BENCH_USER=user1 \
    BENCH_PASSWORD="$PASSWORD" >"$storm_out" &
  local storm_pid=$!
  sleep 1
  r=$(wrk_result 32 "$BASE/post/$thread/")
  wait "$storm_pid"
  row "$scale" "GET /post/{id}/ during a /token flood" 32 "$r" "flood: $STORM_CONNECTIONS connections"
  row "$scale" "POST /token (the flood)" "$STORM_CONNECTIONS" "$(cat "$storm_out")" "during the reads above"
}

bench_scale() {
  local scale=$1 db=pamps_bench_$1 seconds shape
  read -ra shape <<<"$(scale_args "$scale")"
  say "[$scale] seeding $db"
  fresh_db "$db"
  pamps_env "$db"
  env "${PAMPS_VARS[@]}" "$PAMPS" migrate >/dev/null
  seconds=$(date +%s)
  env "${PAMPS_VARS[@]}" "$PAMPS" seed --force "${shape[@]}" >&2 2>>"$WORK/seed.log"
  NOTES+=("$scale: \`pamps seed $(scale_args "$scale")\` took $(($(date +%s) - seconds)) s")
  start_server "$db"
  local idle_rss
  idle_rss=$(server_mib VmRSS)

  local popular author liker thread reader following replies posts tokens cursor link
  popular=$(sql "$db" "SELECT username || ' ' || followers_count FROM users ORDER BY followers_count DESC, id LIMIT 1")
  author=$(sql "$db" "SELECT username || ' ' || posts_count FROM users ORDER BY posts_count DESC, id LIMIT 1")
  liker=$(sql "$db" "SELECT u.username || ' ' || l.n FROM (SELECT user_id, count(*) AS n FROM likes
                       GROUP BY user_id ORDER BY n DESC, user_id LIMIT 1) l JOIN users u ON u.id = l.user_id")
  thread=$(sql "$db" "SELECT id || ' ' || reply_count FROM posts WHERE reply_count <= 100
                        ORDER BY reply_count DESC, id LIMIT 1")
  reader=$(sql "$db" "SELECT username || ' ' || following_count FROM users
                        ORDER BY abs(following_count - 500), id LIMIT 1")
  posts=$(sql "$db" "SELECT max(id) FROM posts")
  read -r thread replies <<<"$thread"
  read -r reader following <<<"$reader"

  say "[$scale] logging in $WRITERS writers"
  tokens=$WORK/tokens-$scale
  : >"$tokens"
  for i in $(seq "$WRITERS"); do token_for "user$i" >>"$tokens"; done
  local reader_token
  reader_token=$(token_for "$reader")
  [[ -n $reader_token && $(grep -c . "$tokens") == "$WRITERS" ]] || die "logins failed"
  local login_rss
  login_rss=$(server_mib VmRSS)

  link=$(next_link "$BASE/post/?limit=100")
  for _ in $(seq 2 "$DEEP_PAGES"); do
    local next
    next=$(next_link "$link")
    [[ -n $next ]] || break
    link=$next
  done
  cursor=$(sed -n 's/.*[?&]cursor=\([^&]*\).*/\1/p' <<<"$link")
  [[ -n $cursor ]] || die "no cursor in Link: $link"

  local popular_id
  popular_id=$(sql "$db" "SELECT id FROM users WHERE username = '${popular% *}'")
  measure "$scale" "GET /user/{username}/" "${popular#* } followers" "$BASE/user/${popular% *}/"
  measure "$scale" "GET /post/{id}/" "$replies replies embedded" "$BASE/post/$thread/"
  measure "$scale" "GET /post/user/{username}/" "author of ${author#* } posts" "$BASE/post/user/${author% *}/"
  measure "$scale" "GET /post/ (first page)" "20 posts" "$BASE/post/"
  measure "$scale" "GET /post/ (deep page)" "cursor from the Link after $((DEEP_PAGES * 100)) posts" \
    "$BASE/post/?cursor=$cursor"
  measure "$scale" "GET /user/timeline" "viewer follows $following" "$BASE/user/timeline" \
    BENCH_TOKEN="$reader_token"
  measure "$scale" "GET /post/likes/{username}/" "user with ${liker#* } likes" "$BASE/post/likes/${liker% *}/"
  measure "$scale" "GET /api/v1/timelines/home (Mastodon)" "viewer follows $following; own posts included" \
    "$BASE/api/v1/timelines/home" BENCH_TOKEN="$reader_token"
  measure "$scale" "GET /api/v1/statuses/{id} (Mastodon)" "the post of the GET /post/{id}/ row" \
    "$BASE/api/v1/statuses/$thread"
  measure "$scale" "GET /api/v1/accounts/{id} (Mastodon)" "the user of the GET /user/{username}/ row" \
    "$BASE/api/v1/accounts/$popular_id"
  local c run=0 api endpoint
  for api in pamps mastodon; do
    endpoint="POST /post/"
    [[ $api == mastodon ]] && endpoint="POST /api/v1/statuses (Mastodon)"
    wanted "$endpoint" || continue
    for c in $CONNECTIONS; do
      row "$scale" "$endpoint" "$c" \
        "$(wrk_result "$c" "$BASE/" BENCH_MODE=post BENCH_API=$api BENCH_TOKENS="$tokens" BENCH_OFFSET=$((run * 10000000)))" \
        "as $WRITERS users in turn"
      run=$((run + 1))
    done
  done
  local r
  run=0
  for api in pamps mastodon; do
    endpoint="POST /post/{id}/like/"
    [[ $api == mastodon ]] && endpoint="POST /api/v1/statuses/{id}/favourite (Mastodon)"
    wanted "$endpoint" || continue
    for c in $CONNECTIONS; do
      r=$(wrk_result "$c" "$BASE/" BENCH_MODE=like BENCH_API=$api BENCH_TOKENS="$tokens" BENCH_POSTS="$posts" \
        BENCH_OFFSET=$((run * WRITERS * (posts / 4))))
      if [[ $api == mastodon ]]; then
        row "$scale" "$endpoint" "$c" "$r" "$(field created "$r") answered 200 (new or already favourited)"
      else
        row "$scale" "$endpoint" "$c" "$r" \
          "$(field created "$r") new (201), $(field already "$r") already liked (200)"
      fi
      run=$((run + 1))
    done
  done
  local read_write_peak
  read_write_peak=$(server_mib VmHWM)
  measure "$scale" "POST /token" "argon2id verify per request" "$BASE/" BENCH_MODE=login BENCH_USER=user1 \
    BENCH_PASSWORD="$PASSWORD"
  if wanted "login storm"; then login_storm "$scale" "$thread"; fi

  if [[ $METRICS == 1 ]]; then
    local scrape counted
    scrape=$(curl -fsS "http://$METRICS_ADDR/metrics") || die "the metrics listener does not answer"
    counted=$(awk '/^pamps_http_requests_total/ { n += $2 } END { printf "%.0f", n }' <<<"$scrape")
    NOTES+=("$scale: metrics on; the scrape after the runs counted $counted requests in pamps_http_requests_total ($(wc -c <<<"$scrape") bytes, $(grep -c '^pamps_' <<<"$scrape") series)")
  fi
  local peak
  peak=$(server_mib VmHWM)
  NOTES+=("$scale: server RSS $idle_rss MiB idle, $login_rss MiB after the $((WRITERS + 1)) setup logins; peak (VmHWM) $read_write_peak MiB after the read and write runs, $peak MiB after the POST /token runs")
  stop_server
}

bench_pgbench() {
  local db=pamps_bench_pgbench max out tps
  say "pgbench ceiling"
  fresh_db "$db"
  "$PGBENCH" -i -q -s 10 "$PG_URL/$db" >/dev/null 2>&1
  max=$(sql postgres "SHOW max_connections")
  for c in $CONNECTIONS; do
    if ((c + 3 > max)); then
      NOTES+=("pgbench with $c clients not run: max_connections = $max")
      continue
    fi
    out=$("$PGBENCH" -S -M prepared -c "$c" -j "$WRK_THREADS" -T "$DURATION" "$PG_URL/$db" 2>&1)
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
    [[ -n $tps ]] || die "pgbench failed: $out"
    PGBENCH_TPS[$c]=${tps%.*}
    ROWS+=("| pgbench | \`pgbench -S -M prepared\` (scale 10) | $c | ${tps%.*} | 100 % | | | | PostgreSQL's own single-row read ceiling |")
    say "pgbench c=$c: $tps tps"
  done
}

main() {
  need_tools
  if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    say "cargo build --release"
    cargo build --release --quiet
  fi
  local started scale
  started=$(date +%s)
  declare -gA PGBENCH_TPS=()
  bench_pgbench
  for scale in $SCALES; do
    bench_scale "$scale"
  done
  write_results "$(($(date +%s) - started))"
  cat "$RESULTS"
}

write_results() {
  local pg cpu
  pg=$(sql postgres "SHOW server_version")
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  {
    echo "# pamps benchmark results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); pamps $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); PostgreSQL $pg"
    echo "- mode: $([[ $QUICK == 1 ]] && echo QUICK || echo full), ${DURATION} s per run; wrk $WRK_THREADS threads;" \
      "client, server and PostgreSQL share the same cores; total $1 s"
    echo "- server: \`pamps serve\` (release), PAMPS_ENV=development, rate limits off, log level warn," \
      "default pool (16 connections) and workers (one per core); metrics $([[ $METRICS == 1 ]] && echo on || echo off)"
    echo "- errors = socket errors (connect/read/write/timeout after 5 s) + non-2xx responses"
    echo
    echo "| scale | endpoint | conns | req/s | % of pgbench -S | p50 ms | p99 ms | errors | notes |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    printf -- '- %s\n' "${NOTES[@]}"
  } >"$RESULTS"
}

main "$@"
