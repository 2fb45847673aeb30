#!/usr/bin/env bash
# Live-stream benchmark of pamps on this machine, one command (see bench/README.md):
#   bench/stream.sh
#
# Environment (all optional):
#   IDLE_SOCKETS=10000     idle WebSocket connections held at once
#   IDLE_HOLD=45           seconds they are held after the last one connected
#                          (more than the 30 s ping interval: every socket is pinged once)
#   FOLLOWERS="1000 10000" follower counts of the latency runs
#   POSTS=30               posts per latency run with up to 1,000 followers, one every INTERVAL_MS
#   INTERVAL_MS=100
#   BIG_POSTS=10           posts per latency run with more followers, one every BIG_INTERVAL_MS
#   BIG_INTERVAL_MS=1000   (each post's fan-out on its own: 10,000 followers x 10 posts a second
#                          would measure a sustained 100,000 messages/s instead)
#   DURATION=10            seconds per wrk run (c=32, 2 threads)
#   SKIP_READS=1           skip the wrk reads around the idle sockets (memory only)
#   SKIP_BUILD=1           use the existing target/release binaries
#   PAMPS, LOAD            the server and load-generator binaries (default target/release/…;
#                          with SKIP_BUILD=1, e.g. copies kept for an A/B)
#   BENCH_PG_URL           PostgreSQL server (default postgresql://postgres@127.0.0.1:5432)
#   BENCH_DB=pamps_bench_stream  scratch database (dropped at the end)
#   RESULTS                output file (default bench/stream-results.md)
#   KEEP_SERVER_LOG        copy the server's log there at the end (with RUST_LOG=warn,pamps::bus=debug:
#                          each batch's stage timings)
#   QUIET_WAIT=1500        seconds to wait for other compilers (cargo/rustc) to finish
#                          before each measurement; the load average is recorded either way
# Everything targets loopback only; every run is bounded in time and count.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

IDLE_SOCKETS=${IDLE_SOCKETS:-10000}
IDLE_HOLD=${IDLE_HOLD:-45}
FOLLOWERS=${FOLLOWERS:-"1000 10000"}
POSTS=${POSTS:-30}
INTERVAL_MS=${INTERVAL_MS:-100}
BIG_POSTS=${BIG_POSTS:-10}
BIG_INTERVAL_MS=${BIG_INTERVAL_MS:-1000}
DURATION=${DURATION:-10}
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
RESULTS=${RESULTS:-$ROOT/bench/stream-results.md}
QUIET_WAIT=${QUIET_WAIT:-1500}
DB=${BENCH_DB:-pamps_bench_stream}
PAMPS=${PAMPS:-$ROOT/target/release/pamps}
LOAD=${LOAD:-$ROOT/target/release/examples/stream_load}
LUA=$ROOT/bench/wrk/pamps.lua
WRK_CONNECTIONS=32
RSS_LIMIT_MIB=150

WORK=$(mktemp -d)
SERVER_PID=""
LOAD_PID=""
ROWS=()
NOTES=()

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/stream.sh: %s\n' "$*" >&2; exit 1; }

cleanup() {
  if [[ -n $LOAD_PID ]]; then kill "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; fi
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  psql "$PG_URL/postgres" -XqAt -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  if [[ -n ${KEEP_SERVER_LOG:-} ]]; then cp "$WORK/server.log" "$KEEP_SERVER_LOG" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sql() { psql "$PG_URL/$1" -XqAt -c "$2"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most QUIET_WAIT seconds in all) while someone else compiles.
QUIET_LEFT=$QUIET_WAIT
wait_quiet() {
  while pgrep -x cargo >/dev/null || pgrep -x rustc >/dev/null; do
    ((QUIET_LEFT > 0)) || { say "still compiling elsewhere; measuring anyway (load $(loadavg))"; return; }
    say "other compiles running (load $(loadavg)); waiting"
    sleep 30
    QUIET_LEFT=$((QUIET_LEFT - 30))
  done
}

need_tools() {
  command -v wrk >/dev/null 2>&1 || {
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1 || die "wrk is missing: apt-get install wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  }
  for tool in psql curl python3; do command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"; done
  sql postgres 'select 1' >/dev/null || die "PostgreSQL at $PG_URL does not answer"
}

# The server's /proc status field ($1) in MiB, one decimal.
server_mib() { awk -v key="$1:" '$1 == key { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
server_fds() { find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }

# wrk_rps PATH: requests per second of one wrk run (c=32, DURATION s); also
# leaves "rps p50 p99 errors" in WRK_LAST.
wrk_rps() {
  local out r
  out=$(env BENCH_THREADS=2 BENCH_MODE=get wrk -t2 -c"$WRK_CONNECTIONS" -d"${DURATION}s" --timeout 5s -s "$LUA" "$BASE$1" 2>&1) ||
    die "wrk failed: $out"
  r=$(grep '^RESULT ' <<<"$out") || die "no RESULT from wrk: $out"
  WRK_LAST=$(awk -v n="$(field requests "$r")" -v us="$(field duration_us "$r")" -v p50="$(field p50_us "$r")" \
    -v p99="$(field p99_us "$r")" -v e=$(($(field socket_errors "$r") + $(field status_errors "$r"))) \
    'BEGIN { printf "%.0f %.2f %.2f %d", n / (us / 1e6), p50 / 1000, p99 / 1000, e }')
  say "GET $1: $WRK_LAST (req/s p50 p99 errors)"
}

row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 |"); }
verdict() { if awk "BEGIN { exit !($1) }"; then echo "**met**"; else echo "**not met**"; fi; }

start_server() {
  local port
  port=$(free_port)
  SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  env PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$DB" PAMPS_RATE_LIMIT__ENABLED=false \
    PAMPS_SERVER__LOG_LEVEL=warn PAMPS_STREAM__MAX_SOCKETS=20000 "PAMPS_SECURITY__SECRET_KEY=$SECRET" \
    ${SERVER_PRELOAD:+LD_PRELOAD=$SERVER_PRELOAD} setsid "$PAMPS" serve --host 127.0.0.1 --port "$port" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  BASE=http://127.0.0.1:$port
  for _ in $(seq 100); do
    curl -fsS "$BASE/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$WORK/server.log" >&2
  die "pamps serve did not become ready"
}

seed() {
  local users=1002 seconds n
  for n in $FOLLOWERS; do ((n + 2 <= users)) || users=$((n + 2)); done
  say "seeding $DB"
  sql postgres "DROP DATABASE IF EXISTS $DB" >/dev/null
  sql postgres "CREATE DATABASE $DB" >/dev/null
  seconds=$(date +%s)
  env PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$DB" "$PAMPS" migrate >/dev/null
  env PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$DB" "$PAMPS" seed --force --users $users --posts 10000 \
    --follows-per-user 20 --likes 20000 >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log" >&2; die "seed failed"; }
  # Authors of the latency runs: user1 is followed by users 3..1002, user2 by
  # users 3..10002 (on top of the seeded follows). Before the server starts,
  # so the follow notifications are history, not live events.
  sql "$DB" "INSERT INTO follows (follower_id, followee_id)
               SELECT id, 1 FROM users WHERE id BETWEEN 3 AND 1002
             UNION ALL SELECT id, 2 FROM users WHERE id BETWEEN 3 AND $users
             ON CONFLICT DO NOTHING" >/dev/null
  sql "$DB" "ANALYZE" >/dev/null
  NOTES+=("data: \`pamps seed --users $users --posts 10000 --follows-per-user 20 --likes 20000\`, then user1 followed by users 3..1002 and user2 by users 3..$users; $(($(date +%s) - seconds)) s")
}

reads() {
  if [[ ${SKIP_READS:-0} == 1 ]]; then
    WRK_LAST="0 0 0 0"
    READ_POSTS=$WRK_LAST READ_USER=$WRK_LAST
    return
  fi
  wrk_rps "/post/?limit=20"
  READ_POSTS=$WRK_LAST
  wrk_rps "/user/$POPULAR/"
  READ_USER=$WRK_LAST
}

bench_idle() {
  wait_quiet
  local load0 rss0 hwm0 fds0 base_posts base_user
  load0=$(loadavg)
  rss0=$(server_mib VmRSS)
  fds0=$(server_fds)
  say "REST reads without sockets (load $load0)"
  reads
  base_posts=$READ_POSTS base_user=$READ_USER
  local load_reads0=$load0
  hwm0=$(server_mib VmHWM)

  wait_quiet
  say "opening $IDLE_SOCKETS idle sockets (load $(loadavg))"
  local idle_out=$WORK/idle.out
  "$LOAD" idle --url "ws://${BASE#http://}/stream" --sockets "$IDLE_SOCKETS" --secs "$IDLE_HOLD" >"$idle_out" 2>&1 &
  LOAD_PID=$!
  local waited=0
  until grep -q '^HOLDING' "$idle_out"; do
    kill -0 "$LOAD_PID" 2>/dev/null || { cat "$idle_out" >&2; die "stream_load idle ended early"; }
    ((waited < 1200)) || die "sockets not connected within 120 s"
    sleep 0.1
    waited=$((waited + 1))
  done
  local held load1 rss1 fds1
  held=$(sed -n 's/^HOLDING //p' "$idle_out")
  sleep 2
  rss1=$(server_mib VmRSS)
  fds1=$(server_fds)
  load1=$(loadavg)
  say "$held sockets held; server RSS $rss1 MiB, $fds1 fds (load $load1); REST reads with them"
  reads
  local with_posts=$READ_POSTS with_user=$READ_USER load_reads1
  load_reads1=$(loadavg)
  local rss2
  rss2=$(server_mib VmRSS)
  say "waiting for the hold (${IDLE_HOLD} s, one ping round) to end"
  wait "$LOAD_PID" || die "stream_load idle failed: $(cat "$idle_out")"
  LOAD_PID=""
  cat "$idle_out" >&2
  local result hwm1 rss3
  result=$(grep '^RESULT ' "$idle_out")
  hwm1=$(server_mib VmHWM)
  sleep 2
  rss3=$(server_mib VmRSS)

  wait_quiet
  local load2
  load2=$(loadavg)
  say "REST reads after the sockets closed (load $load2)"
  reads
  local after_posts=$READ_POSTS after_user=$READ_USER

  local per_socket
  per_socket=$(awk -v a="$rss1" -v b="$rss0" -v n="$held" 'BEGIN { printf "%.1f", n ? (a - b) * 1024 / n : 0 }')
  row "$IDLE_SOCKETS idle WebSocket connections (anonymous, \`public\`), one instance" \
    "$(field connected "$result") connected, $(field failed "$result") failed, $(field open_at_end "$result") still open after ${IDLE_HOLD} s (one ping round); connect time $(field connect_secs "$result") s; server fds $fds0 → $fds1" \
    "10,000 held" "$(verdict "$(field open_at_end "$result") >= 10000")" "$load1"
  row "server RSS with the sockets" \
    "VmRSS $rss0 MiB before → $rss1 MiB with $held sockets ($per_socket KiB per socket) → $rss2 MiB after the reads under them → $rss3 MiB after they closed; VmHWM $hwm1 MiB (it was $hwm0 MiB after the first reads)" \
    "≤ $RSS_LIMIT_MIB MiB" "$(verdict "$hwm1 <= $RSS_LIMIT_MIB")" "$load1"
  local what base with after ratio
  for what in posts user; do
    if [[ $what == posts ]]; then
      base=$base_posts with=$with_posts after=$after_posts
      label="GET /post/?limit=20"
    else
      base=$base_user with=$with_user after=$after_user
      label="GET /user/$POPULAR/"
    fi
    read -r b_rps b50 b99 be <<<"$base"
    read -r w_rps w50 w99 we <<<"$with"
    read -r a_rps a50 a99 ae <<<"$after"
    ratio=$(awk -v w="$w_rps" -v b="$b_rps" -v a="$a_rps" 'BEGIN { d = (b + a) / 2; printf "%.0f", d ? 100 * w / d : 0 }')
    row "$label, wrk c=$WRK_CONNECTIONS ${DURATION} s, under the sockets" \
      "$w_rps req/s (p50 $w50 ms, p99 $w99 ms, $we errors) vs $b_rps req/s before (p50 $b50, p99 $b99, $be errors) and $a_rps req/s after (p50 $a50, p99 $a99, $ae errors): $ratio% of the mean without sockets" \
      "≥ 80%" "$(verdict "$ratio >= 80")" "before $load_reads0; with $load1 → $load_reads1; after $load2"
  done
}

bench_latency() {
  local n=$1 author=$2 posts=$3 interval=$4 load0 out result rss0
  wait_quiet
  load0=$(loadavg)
  rss0=$(server_mib VmRSS)
  say "latency: $n followers of user$author, $posts posts every $interval ms (load $load0)"
  out=$WORK/latency-$n.out
  PAMPS_SECURITY__SECRET_KEY=$SECRET timeout 300 "$LOAD" latency --base "$BASE" --author "$author" --first-follower 3 \
    --followers "$n" --posts "$posts" --interval-ms "$interval" >"$out" 2>&1 || { cat "$out" >&2; die "stream_load latency failed"; }
  cat "$out" >&2
  result=$(grep '^RESULT ' "$out")
  local load1 p50 p99 max last
  load1=$(loadavg)
  p50=$(field p50_ms "$result") p99=$(field p99_ms "$result") max=$(field max_ms "$result") last=$(field last_max_ms "$result")
  local detail="$(field connected "$result") of $n connected; $(field deliveries "$result") deliveries, $(field missing "$result") missing; 201 → event p50 $p50 ms, p99 $p99 ms, max $max ms; 201 → first follower: median post $(field first_p50_ms "$result") ms; 201 → last follower: median post $(field last_p50_ms "$result") ms, worst post $last ms; POST /post/ itself p50 $(field post_p50_ms "$result") ms; $(field before_201 "$result") events read before the 201 (counted as 0); server VmRSS $rss0 → $(server_mib VmRSS) MiB, VmHWM $(server_mib VmHWM) MiB"
  local complete="$(field missing "$result") == 0 && $(field connected "$result") == $n"
  if ((n == 1000)); then
    row "latency, $n followers: $posts posts, one every $interval ms" "$detail" "p50 ≤ 5 ms, p99 ≤ 50 ms" \
      "$(verdict "$p50 <= 5 && $p99 <= 50 && $complete")" "$load0 → $load1"
  else
    row "latency, $n followers: $posts posts, one every $interval ms" "$detail" "every follower within 1 s (worst post)" \
      "$(verdict "$last <= 1000 && $complete")" "$load0 → $load1"
  fi
}

write_results() {
  local pg cpu
  pg=$(sql postgres "SHOW server_version")
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  {
    echo "# pamps live-stream benchmark results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); pamps $(git rev-parse --short HEAD 2>/dev/null || echo '?'); \`bench/stream.sh\`, total $1 s"
    echo "- machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); PostgreSQL $pg; fd limit $(ulimit -n)"
    echo "- server: \`pamps serve\` (release), PAMPS_ENV=development, rate limits off, log level warn, default pool (16) and workers (one per core), PAMPS_STREAM__MAX_SOCKETS=20000"
    echo "- the load generator (\`cargo run --release --example stream_load\`), wrk, the server and PostgreSQL share the same cores: latencies include the client's own scheduling"
    echo "- load average (1, 5, 15 min) as read at the start → end of each measurement; it includes this benchmark's own load"
    echo
    echo "| scenario | measured | target | | load average |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    printf -- '- %s\n' "${NOTES[@]}"
  } >"$RESULTS"
}

main() {
  need_tools
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  ((IDLE_SOCKETS + 100 <= $(ulimit -n))) || die "fd limit $(ulimit -n) is below $IDLE_SOCKETS sockets"
  if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    say "cargo build --release --bin pamps --example stream_load"
    cargo build --release --quiet --bin pamps --example stream_load
  fi
  local started n
  started=$(date +%s)
  seed
  start_server
  POPULAR=$(sql "$DB" "SELECT username FROM users ORDER BY followers_count DESC, id LIMIT 1")
  NOTES+=("server RSS right after start: $(server_mib VmRSS) MiB")
  bench_idle
  for n in $FOLLOWERS; do
    if ((n <= 1000)); then
      bench_latency "$n" 1 "$POSTS" "$INTERVAL_MS"
    else
      bench_latency "$n" 2 "$BIG_POSTS" "$BIG_INTERVAL_MS"
    fi
  done
  NOTES+=("server peak RSS (VmHWM) over the whole run: $(server_mib VmHWM) MiB")
  NOTES+=("server log lines at warn or above: $(grep -c . "$WORK/server.log" || true)")
  write_results "$(($(date +%s) - started))"
  cat "$RESULTS"
}

main "$@"
