#!/usr/bin/env bash
# Many instances on one machine: what nginx and the shared rate limits cost,
# and what one PostgreSQL primary takes of pamps' write mix (bench/README.md).
#   bench/cluster.sh            5 s per run, about 2 minutes after the build
#
# Environment (optional): DURATION=5, CONNECTIONS=32, SKIP_BUILD=1,
# BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432).
# Loopback only; every load run is bounded by DURATION. A trap stops what it
# started (pamps, its own nginx) and drops its database.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-5}
CONNS=${CONNECTIONS:-32}
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
PAMPS=$ROOT/target/release/pamps
LUA=$ROOT/bench/wrk/pamps.lua
PASSWORD=pamps-seed-password
WRITERS=64
DB=pamps_bench_cluster_$$
WORK=$(mktemp -d /tmp/pamps-bench-cluster.XXXXXX)
chmod 755 "$WORK"
PIDS=()
NGINX_PID=""

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/cluster.sh: %s\n' "$*" >&2; exit 1; }

stop_all() {
  [[ -n $NGINX_PID ]] && { kill -QUIT "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; }
  NGINX_PID=""
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  psql "$PG_URL/postgres" -XqAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in wrk psql curl python3 pgbench; do
  command -v "$tool" >/dev/null 2>&1 || [[ $tool == pgbench ]] || die "$tool is missing (apt-get install $tool)"
done
PGBENCH=$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || die "nginx is missing (apt-get install nginx)"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  say "cargo build --release --bin pamps"
  cargo build --release --quiet --bin pamps
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_instance PORT STORE: a release pamps on PORT, rate limits on (high
# enough never to refuse), kept in STORE (memory or postgres).
start_instance() {
  env PAMPS_ENV=development "PAMPS_DB__URI=$PG_URL/$DB" PAMPS_DB__AUTO_MIGRATE=false \
    PAMPS_DB__MAX_CONNECTIONS=16 PAMPS_SERVER__LOG_LEVEL=warn PAMPS_SERVER__TRUSTED_PROXIES=127.0.0.1 \
    PAMPS_SECURITY__ACCESS_TOKEN_EXPIRE_MINUTES=600 PAMPS_RATE_LIMIT__ENABLED=true \
    "PAMPS_RATE_LIMIT__STORE=$2" PAMPS_RATE_LIMIT__WRITES_PER_ACCOUNT_PER_5_MINUTES=100000000 \
    PAMPS_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE=100000 \
    setsid "$PAMPS" serve --host 127.0.0.1 --port "$1" >>"$WORK/pamps-$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "pamps on port $1 is not ready"
}

start_nginx() {
  local port=$1 servers="" p
  shift
  for p in "$@"; do servers+="        server 127.0.0.1:$p max_fails=1 fail_timeout=3s;"$'\n'; done
  mkdir -p "$WORK/nginx-tmp"
  python3 - "$ROOT/scripts/cluster/nginx.conf.in" "$WORK/nginx.conf" "$WORK" "$port" "$ROOT" "$servers" <<'EOF'
import sys
src, dst, work, port, root, servers = sys.argv[1:]
text = open(src).read()
for k, v in {"@DIR@": work, "@PORT@": port, "@ROOT@": root, "@SERVERS@": servers.rstrip("\n")}.items():
    text = text.replace(k, v)
# A benchmark needs no access log (and the second core is precious).
text = text.replace(f"access_log {work}/nginx-access.log pamps;", "access_log off;")
open(dst, "w").write(text)
EOF
  "$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" -g 'daemon off;' &
  NGINX_PID=$!
  for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "nginx does not answer"
}

wrk_run() {
  local url=$1 out
  shift
  out=$(env BENCH_THREADS=2 "$@" wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 5s -s "$LUA" "$url" 2>&1) \
    || die "wrk failed: $out"
  grep '^RESULT ' <<<"$out" || die "no RESULT from wrk: $out"
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
ROWS=()
row() {
  local r=$3
  ROWS+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$1" "$2" \
    "$(awk -v n="$(field requests "$r")" -v us="$(field duration_us "$r")" 'BEGIN { printf "%.0f", n / (us / 1e6) }')" \
    "$(awk -v us="$(field p50_us "$r")" 'BEGIN { printf "%.2f", us / 1000 }')" \
    "$(awk -v us="$(field p99_us "$r")" 'BEGIN { printf "%.2f", us / 1000 }')" \
    "$(($(field socket_errors "$r") + $(field status_errors "$r")))")")
  say "${ROWS[-1]}"
}

say "database $DB: migrate and seed (1,000 users, 10,000 posts)"
psql "$PG_URL/postgres" -XqAt -c "CREATE DATABASE $DB" >/dev/null
PAMPS_DB__URI="$PG_URL/$DB" "$PAMPS" migrate >/dev/null
PAMPS_ENV=development PAMPS_DB__URI="$PG_URL/$DB" "$PAMPS" seed --users 1000 --posts 10000 \
  --follows-per-user 20 --likes 20000 --seed 7 >/dev/null 2>&1

P1=$(free_port); P2=$(free_port); P3=$(free_port); LB=$(free_port)
start_instance "$P1" memory
say "logging in $WRITERS writers"
: >"$WORK/tokens"
for i in $(seq "$WRITERS"); do
  body=$(curl -sS --data-urlencode "username=user$i" --data-urlencode "password=$PASSWORD" \
    "http://127.0.0.1:$P1/token")
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$body" >>"$WORK/tokens"
done
[[ $(grep -c . "$WORK/tokens") == "$WRITERS" ]] || die "logins failed: $body"
POST=(BENCH_MODE=post "BENCH_TOKENS=$WORK/tokens")

say "one instance, direct, rate limits in memory"
row "1 instance, direct (memory store)" "GET /post/?limit=20" "$(wrk_run "http://127.0.0.1:$P1/post/?limit=20")"
row "1 instance, direct (memory store)" "POST /post/" "$(wrk_run "http://127.0.0.1:$P1/" "${POST[@]}" BENCH_OFFSET=1000000)"
stop_all

say "one instance, direct, rate limits in PostgreSQL"
start_instance "$P1" postgres
row "1 instance, direct (postgres store)" "POST /post/" "$(wrk_run "http://127.0.0.1:$P1/" "${POST[@]}" BENCH_OFFSET=2000000)"
say "one instance behind nginx, postgres store"
start_nginx "$LB" "$P1"
row "1 instance behind nginx (postgres store)" "GET /post/?limit=20" "$(wrk_run "http://127.0.0.1:$LB/post/?limit=20")"
row "1 instance behind nginx (postgres store)" "POST /post/" "$(wrk_run "http://127.0.0.1:$LB/" "${POST[@]}" BENCH_OFFSET=3000000)"
stop_all

say "three instances behind nginx, postgres store"
start_instance "$P1" postgres; start_instance "$P2" postgres; start_instance "$P3" postgres
start_nginx "$LB" "$P1" "$P2" "$P3"
row "3 instances behind nginx (postgres store)" "GET /post/?limit=20" "$(wrk_run "http://127.0.0.1:$LB/post/?limit=20")"
row "3 instances behind nginx (postgres store)" "POST /post/" "$(wrk_run "http://127.0.0.1:$LB/" "${POST[@]}" BENCH_OFFSET=4000000)"
stop_all

# What the primary takes of pamps' write mix, without the app in the way:
# the statements pamps runs (triggers keep the counters, the event outbox
# and notifications), one post, one like and one follow per transaction.
say "pgbench: pamps' write mix on the primary"
cat >"$WORK/mix.sql" <<'EOF'
\set uid random(1, 1000)
\set pid random(1, 10000)
\set other random(1, 1000)
BEGIN;
INSERT INTO posts (user_id, text) VALUES (:uid, 'pgbench write mix');
INSERT INTO likes (user_id, post_id) VALUES (:uid, :pid) ON CONFLICT DO NOTHING;
INSERT INTO follows (follower_id, followee_id) SELECT :uid, :other WHERE :uid <> :other ON CONFLICT DO NOTHING;
COMMIT;
EOF
MIX=$("$PGBENCH" -n -M prepared -f "$WORK/mix.sql" -c 16 -j 2 -T "$DURATION" "$PG_URL/$DB" 2>&1) || die "pgbench failed: $MIX"
MIX_TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$MIX" | head -1)

cat <<EOF

# pamps on several instances, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores shared by wrk, nginx, pamps and PostgreSQL
${DURATION} s per run, wrk 2 threads, $CONNS connections; release build; rate limits on (never refusing)

| topology | request | req/s | p50 ms | p99 ms | errors |
|---|---|---|---|---|---|
$(printf '%s\n' "${ROWS[@]}")

pgbench, pamps' write mix (1 post + 1 like + 1 follow per transaction, 16 clients): ${MIX_TPS%.*} transactions/s = $(awk -v t="$MIX_TPS" 'BEGIN { printf "%.0f", 3 * t }') writes/s
EOF
