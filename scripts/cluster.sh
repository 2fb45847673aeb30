#!/usr/bin/env bash
# pamps as a cluster, without Docker: nginx on a free loopback port in front of
# 3 `pamps serve` instances on free loopback ports, all on one fresh PostgreSQL
# database, the rate limits shared through it (rate_limit.store = postgres).
#
#   scripts/cluster.sh up      start, print the URLs, run until Ctrl-C
#   scripts/cluster.sh check   start, run the checks, stop; exit 1 on any failure
#
# The checks (scripts/cluster/cluster.py, Python standard library only): the
# registration limit holds across instances; the live stream carries a post
# written on another instance; SIGTERM of an instance holding WebSocket and
# SSE clients under write load: they resume through nginx elsewhere and each
# receives exactly the outbox's events (scripts/cluster/stream_checks.py); SIGKILL of an instance under write load loses
# no acknowledged write; a rolling restart under load (each instance taken
# out of nginx, SIGTERM, restarted, /ready, put back) gives no 5xx. Each
# prints PASS/FAIL with figures, then "N passed, M failed". The same
# restart without telling nginx is measured too and reported as INFO.
#
# Needs cargo, psql and python3; nginx is installed with apt-get when missing
# (as root). Everything it starts (instances, its own nginx with its own
# config, pid and logs in a temporary directory, never the system service)
# is stopped, and the database dropped, on exit, failure or Ctrl-C.
#
# Environment (optional):
#   CLUSTER_PG_URL  PostgreSQL server (default: the server of $DATABASE_URL,
#                   else postgresql://postgres@127.0.0.1:5432)
#   INSTANCES=3     how many pamps instances
#   PROFILE=debug   debug or release build of pamps
#   SKIP_BUILD=1    use the binary already built
#   KEEP_WORK=1     keep the temporary directory (logs, nginx.conf) afterwards
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

MODE=${1:-}
[[ $MODE == up || $MODE == check ]] || { echo "usage: scripts/cluster.sh up|check" >&2; exit 2; }
INSTANCES=${INSTANCES:-3}
PROFILE=${PROFILE:-debug}
PAMPS=$ROOT/target/$PROFILE/pamps

if [[ -n ${CLUSTER_PG_URL:-} ]]; then
  PG_URL=$CLUSTER_PG_URL
elif [[ -n ${DATABASE_URL:-} ]]; then
  PG_URL=${DATABASE_URL%/*}   # the server of the test suite's admin database
else
  PG_URL=postgresql://postgres@127.0.0.1:5432
fi

WORK=""
DB=""

say() { printf 'cluster: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# The pids (from $WORK/pids) of the processes this run started that still
# run: our binary, or nginx with our config (a pid may have been reused).
ours() {
  local pid
  [[ -n $WORK && -f $WORK/pids ]] || return 0
  while read -r pid; do
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -e "$WORK" -e "$PAMPS"; then
      echo "$pid"
    fi
  done <"$WORK/pids"
}

cleanup() {
  local pids
  # cluster.py stops everything itself; this is for when it could not.
  # TERM first: nginx's master takes its workers down with it.
  pids=$(ours)
  if [[ -n $pids ]]; then
    kill -TERM $pids 2>/dev/null || true
    for _ in {1..30}; do
      pids=$(ours)
      [[ -z $pids ]] && break
      sleep 0.1
    done
    [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
  fi
  if [[ -n $DB ]]; then
    psql "$PG_URL/postgres" -XqAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [[ -n $WORK && ${KEEP_WORK:-0} == 1 ]]; then
    say "logs kept in $WORK"
  elif [[ -n $WORK ]]; then
    rm -rf "$WORK"
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_nginx() {
  command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }
}

NGINX=$(find_nginx || true)
if [[ -z $NGINX ]]; then
  bash "$(dirname "${BASH_SOURCE[0]}")/tools.sh" debs || true
  NGINX=$(find_nginx) || die "nginx is missing: apt-get install nginx"
fi
for tool in psql python3 cargo; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done
psql "$PG_URL/postgres" -XqAt -c 'select 1' >/dev/null 2>&1 || die "PostgreSQL at $PG_URL does not answer"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  say "cargo build --bin pamps ($PROFILE)"
  if [[ $PROFILE == release ]]; then cargo build --quiet --release --bin pamps; else cargo build --quiet --bin pamps; fi
fi
[[ -x $PAMPS ]] || die "$PAMPS is missing (cargo build --bin pamps)"

# World-readable (0755): nginx workers run as an unprivileged user when started as root.
WORK=$(mktemp -d /tmp/pamps-cluster.XXXXXX)
chmod 755 "$WORK"
DB=pamps_cluster_$$
psql "$PG_URL/postgres" -XqAt -c "CREATE DATABASE $DB" >/dev/null
PAMPS_ENV=testing PAMPS_DB__URI="$PG_URL/$DB" "$PAMPS" migrate >"$WORK/migrate.log" 2>&1 \
  || { cat "$WORK/migrate.log" >&2; die "pamps migrate failed"; }

# Not exec: the trap above must run when the checks end.
status=0
python3 "$ROOT/scripts/cluster/cluster.py" "$MODE" --work "$WORK" --db "$PG_URL/$DB" \
  --pamps "$PAMPS" --nginx "$NGINX" --instances "$INSTANCES" || status=$?
if [[ $status -ne 0 && $MODE == check ]]; then
  for log in "$WORK"/pamps-*.log "$WORK"/nginx-error.log; do
    [[ -s $log ]] && { say "last lines of $(basename "$log"):"; tail -n 5 "$log" >&2; }
  done
fi
exit "$status"
