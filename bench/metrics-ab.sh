#!/usr/bin/env bash
# What Prometheus metrics cost: the same release pamps twice on one seeded
# database, metrics off (A) and on (B), loaded by wrk in alternating order;
# per run req/s, p50/p99 and the server's CPU time per request (from
# /proc/<pid>/stat, less sensitive than req/s to other load on the machine).
#   bench/metrics-ab.sh          ROUNDS=6 DURATION=5 by default
# Needs target/release/pamps, wrk, psql, curl; BENCH_PG_URL as bench/run.sh.
# Ends with scrapes before, during and after a load run (the figures move).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PG=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
BIN=$PWD/target/release/pamps
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-5}
DB=pamps_bench_metrics
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
A_PORT=$(free_port) B_PORT=$(free_port) M_PORT=$(free_port)
A="" B=""
cleanup() {
  [[ -n $A ]] && kill "$A" 2>/dev/null; [[ -n $B ]] && kill "$B" 2>/dev/null
  wait 2>/dev/null || true
  psql "$PG/postgres" -XqAt -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql "$PG/postgres" -XqAt -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
export PAMPS_ENV=development PAMPS_DB__URI=$PG/$DB PAMPS_SERVER__LOG_LEVEL=warn PAMPS_RATE_LIMIT__ENABLED=false
"$BIN" migrate >/dev/null
"$BIN" seed --force --users 1000 --posts 10000 --follows-per-user 20 --likes 20000 >/dev/null 2>&1
user=$(psql "$PG/$DB" -XqAt -c "SELECT username FROM users ORDER BY followers_count DESC, id LIMIT 1")
post=$(psql "$PG/$DB" -XqAt -c "SELECT id FROM posts WHERE parent_id IS NULL ORDER BY reply_count DESC, id LIMIT 1")
PAMPS_METRICS__ENABLED=false setsid "$BIN" serve --port "$A_PORT" >/dev/null 2>&1 & A=$!
PAMPS_METRICS__ENABLED=true PAMPS_METRICS__LISTEN=127.0.0.1:$M_PORT setsid "$BIN" serve --port "$B_PORT" >/dev/null 2>&1 & B=$!
for port in "$A_PORT" "$B_PORT"; do
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
done

cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run PID PORT PATH: one wrk run; "req/s p50 p99 cpu-us-per-request".
run() {
  local before out
  before=$(cpu "$1")
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency "http://127.0.0.1:$2$3")
  awk -v ticks=$(($(cpu "$1") - before)) -v hz="$(getconf CLK_TCK)" \
    '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } /^ +50%/ { m = $2 } /^ +99%/ { p = $2 }
     END { printf "%.0f %s %s %.1f\n", r, m, p, ticks / hz * 1e6 / n }' <<<"$out"
}
echo "| path | round | off req/s | off p50 | off p99 | off CPU µs/req | on req/s | on p50 | on p99 | on CPU µs/req |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for path in "/user/$user/" "/post/$post/"; do
  for round in $(seq "$ROUNDS"); do
    if ((round % 2)); then
      off=$(run "$A" "$A_PORT" "$path"); on=$(run "$B" "$B_PORT" "$path")
    else
      on=$(run "$B" "$B_PORT" "$path"); off=$(run "$A" "$A_PORT" "$path")
    fi
    echo "| $path | $round | ${off// / | } | ${on// / | } |"
  done
done
series='^pamps_http_requests_total\{method="GET",route="/user/\{username\}/"|^pamps_db_pool_connections'
echo; echo "scrape before a load run:"; curl -fsS "http://127.0.0.1:$M_PORT/metrics" | grep -E "$series" || true
(DURATION=4 run "$B" "$B_PORT" "/user/$user/" >/dev/null) &
sleep 2
echo "scrape during it:"; curl -fsS "http://127.0.0.1:$M_PORT/metrics" | grep -E "$series"
wait $!
echo "scrape after it:"; curl -fsS "http://127.0.0.1:$M_PORT/metrics" | grep -E "$series"
