#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run):
#   ./test.sh [ARGS...]   lint, static compose checks, the spec fuzz, the web
#                         client in headless Chromium, the multi-instance
#                         checks through nginx, then `cargo test --all-targets ARGS...`
#                         e.g. ./test.sh create_post   or   ./test.sh -- --nocapture
#
# Environment:
#   SKIP_LINT=1          skip cargo fmt/clippy, for quick local iterations (clippy
#                        lints inside the debug build, so a build with and one
#                        without it compile pamps' own crates apart).
#   SKIP_FUZZ=1          skip the schemathesis spec fuzz (scripts/api-fuzz.sh).
#   SKIP_S3=1            skip the S3 media store tests against moto (scripts/media-s3.sh).
#   SKIP_BROWSER=1       skip the browser tests (scripts/browser-tests.sh).
#   SKIP_MASTODON=1      skip the real Mastodon clients (scripts/mastodon-clients.sh).
#   SKIP_CLUSTER=1       skip the 3-instance checks behind nginx (scripts/cluster.sh check).
#   DATABASE_URL         a PostgreSQL server to use, if reachable; tests need
#                        CREATEDB rights (#[sqlx::test] makes a database per test).
#   PAMPS_TEST_PG=auto   where PostgreSQL comes from (auto: $DATABASE_URL when
#                        set, else the first of initdb, url, docker that works):
#                        url    - $DATABASE_URL, else postgres@127.0.0.1:5432
#                        initdb - a throwaway cluster from the local server binaries
#                                 (fsync off: nothing in it outlives the run)
#                        docker - a throwaway postgres:15 container
#   RUST_TEST_THREADS    tests run at once (default 4: they mostly wait on
#                        PostgreSQL and sockets, so 4 beat 2 on two cores).
# The script exports DATABASE_URL (the server's admin database) for the tests.
# Whatever it starts is stopped and removed on exit, failure or Ctrl-C.
#
# `source test.sh` defines the functions without running anything, so the
# database provisioning can be tried on its own: `provision_db; echo "$DATABASE_URL"`.
set -euo pipefail

PG_CLUSTER_DIR=""   # throwaway cluster started by us (path 3)
PG_BIN=""
PG_CONTAINER=""     # throwaway container started by us (path 4)

step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# Clippy lints while the one debug build compiles: clippy-driver becomes the
# workspace's compiler, as `cargo clippy` makes it, so every later cargo call
# here lints pamps' own targets with `-D warnings` (a lint fails the build)
# and the dependencies are compiled once instead of also checked on their own
# (a separate `cargo clippy --all-targets` was 5 of a cold CI run's 18 minutes).
lint() {
  step "cargo fmt --check"
  cargo fmt --check
  local driver
  driver=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver) ||
    die "clippy-driver not found: rustup component add clippy"
  export RUSTC_WORKSPACE_WRAPPER=$driver
  export CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
  step "clippy -D warnings runs in the debug build (RUSTC_WORKSPACE_WRAPPER=$driver)"
}

# True when $1 accepts connections (and, with psql at hand, our login too).
pg_ping() {
  if command -v psql >/dev/null 2>&1; then
    PGCONNECT_TIMEOUT=3 psql "$1" -XqAt -c 'select 1' >/dev/null 2>&1
  elif command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 3 -d "$1"
  else
    return 1
  fi
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  local port
  for _ in {1..50}; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free TCP port found on 127.0.0.1" >&2
  return 1
}

# PostgreSQL refuses to run as root: as root, run the server tools as `postgres`.
as_pg_owner() {
  if [[ $EUID -ne 0 ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u postgres -- "$@"
  else
    su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
  fi
}

# Path 1 and 2: a server that is already running.
pg_from_url() {
  if [[ -n ${DATABASE_URL:-} ]]; then
    pg_ping "$DATABASE_URL" && return 0
    echo "DATABASE_URL is set but not reachable; looking further" >&2
  fi
  local url=postgresql://postgres@127.0.0.1:5432/postgres
  pg_ping "$url" || return 1
  DATABASE_URL=$url
}

# Path 3: a throwaway cluster from the server binaries, newest version first.
# Nothing in it outlives the run, so it skips the disk flushes that make every
# test's CREATE and DROP DATABASE wait (the API tests take 40 % less time; PAMPS_TEST_PG=initdb).
PG_TEST_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
pg_from_initdb() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    PG_BIN=$(dirname "$(command -v initdb)")
  else
    PG_BIN=$(find /usr/lib/postgresql/*/bin -maxdepth 1 -name initdb -printf '%h\n' 2>/dev/null | sort -V | tail -n 1)
    [[ -n $PG_BIN && -x $PG_BIN/pg_ctl ]] || return 1
  fi
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    echo "initdb: running as root needs the 'postgres' OS user" >&2
    return 1
  fi

  # Under /tmp, not $TMPDIR: the postgres user must reach it, and the unix
  # socket path inside it must stay under the ~100-byte limit.
  # (errexit is off in this function: it runs as part of an `||` list.)
  PG_CLUSTER_DIR=$(mktemp -d /tmp/pamps-pg.XXXXXX) || return 1
  if [[ $EUID -eq 0 ]]; then chown postgres: "$PG_CLUSTER_DIR" || return 1; fi
  local port locale=--no-locale
  port=$(free_port) || return 1
  # Debian's default cluster locale where the system has it.
  locale -a 2>/dev/null | grep -qix 'c.utf-\?8' && locale=--locale=C.UTF-8
  echo "starting a throwaway PostgreSQL ($PG_BIN) on 127.0.0.1:$port in $PG_CLUSTER_DIR"
  # From inside the cluster dir: the server tools fail when the current
  # directory is not readable by the user they run as.
  if ! (
    cd "$PG_CLUSTER_DIR" &&
      as_pg_owner "$PG_BIN/initdb" -D "$PG_CLUSTER_DIR/data" -U postgres --auth=trust -E UTF8 "$locale" \
        >"$PG_CLUSTER_DIR/initdb.log" 2>&1 &&
      as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_CLUSTER_DIR $PG_TEST_SETTINGS" start >/dev/null
  ); then
    tail -n 20 "$PG_CLUSTER_DIR"/*.log >&2 2>/dev/null
    return 1
  fi
  DATABASE_URL=postgresql://postgres@127.0.0.1:$port/postgres
}

# Path 4: a throwaway container, when a Docker engine answers.
pg_from_docker() {
  if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    return 1
  fi
  local port
  port=$(free_port) || return 1
  # Named before it exists, so cleanup finds it even if we are interrupted mid-run.
  PG_CONTAINER=pamps-test-pg-$$
  echo "starting a throwaway postgres:15 container on 127.0.0.1:$port"
  docker run -d --rm --name "$PG_CONTAINER" -p "127.0.0.1:$port:5432" \
    -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15 >/dev/null || return 1
  # Over TCP inside the container: during first-start initialisation the image
  # runs a temporary server on the unix socket only, then restarts it.
  for _ in {1..60}; do
    if docker exec "$PG_CONTAINER" pg_isready -q -h 127.0.0.1 -U postgres; then
      DATABASE_URL=postgresql://postgres@127.0.0.1:$port/postgres
      return 0
    fi
    sleep 1
  done
  docker logs --tail 20 "$PG_CONTAINER" >&2 || true
  return 1
}

cleanup() {
  if [[ -n $PG_CLUSTER_DIR ]]; then
    if [[ -n $PG_BIN && -d $PG_CLUSTER_DIR/data ]]; then
      (cd "$PG_CLUSTER_DIR" && as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m fast -w stop >/dev/null) || true
    fi
    rm -rf "$PG_CLUSTER_DIR"
    PG_CLUSTER_DIR=""
  fi
  if [[ -n $PG_CONTAINER ]]; then
    docker stop "$PG_CONTAINER" >/dev/null 2>&1 || true
    PG_CONTAINER=""
  fi
}

# Sets and exports DATABASE_URL (a server's admin database), starting a
# throwaway server when none runs; installs the trap that removes it.
provision_db() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local mode=${PAMPS_TEST_PG:-auto}
  step "PostgreSQL (PAMPS_TEST_PG=$mode)"
  case $mode in
    auto)
      if [[ -n ${DATABASE_URL:-} ]]; then
        pg_from_url || pg_from_initdb || pg_from_docker
      else
        pg_from_initdb || pg_from_url || pg_from_docker
      fi
      ;;
    url) pg_from_url ;;
    initdb) pg_from_initdb ;;
    docker) pg_from_docker ;;
    *) die "PAMPS_TEST_PG must be auto, url, initdb or docker (got '$mode')" ;;
  esac || die "no PostgreSQL for the tests (PAMPS_TEST_PG=$mode). Do one of:
  - start a server and set DATABASE_URL (a role with CREATEDB), or trust-auth postgres@127.0.0.1:5432;
  - install the server binaries (Debian: apt-get install postgresql) for a throwaway cluster;
  - start a Docker engine for a throwaway postgres:15 container."
  export DATABASE_URL
  echo "DATABASE_URL=$DATABASE_URL"
}

# One debug build for everything: `cargo test`'s build makes target/debug/pamps,
# which the spec fuzz, the browser tests and the cluster checks then run, and
# the final `cargo test` only runs. Their own `cargo build --bin pamps` must
# find nothing to compile; if it does, a dev-dependency changed the features
# of a shared crate and the whole tree above it would be built twice.
build_once() {
  step "cargo test --all-targets --no-run (the one debug build)"
  cargo test --all-targets --no-run --quiet
  local rebuilt
  rebuilt=$(cargo build --bin pamps 2>&1 | grep -c '^ *Compiling' || true)
  [[ $rebuilt == 0 ]] || die "cargo build --bin pamps recompiled $rebuilt crates after the test build: \
[dependencies] and [dev-dependencies] enable different features of a shared crate \
(compare \`cargo tree -e normal -f '{p} {f}'\` with \`-e normal,dev\`) and add them to [dependencies]"
}

# The test tools (scripts/tools.sh) install in the background while lint and
# the build keep the CPU busy; a script that needs one waits for its lock.
prefetch_tools() {
  local tools=(debs) log=target/tools.log
  [[ ${SKIP_FUZZ:-} == 1 ]] || tools+=(fuzz)
  [[ ${SKIP_S3:-} == 1 ]] || tools+=(s3)
  [[ ${SKIP_BROWSER:-} == 1 ]] || tools+=(browser)
  [[ ${SKIP_MASTODON:-} == 1 ]] || tools+=(mastodon)
  step "test tools in the background: ${tools[*]} (log: $log)"
  mkdir -p target
  local tool
  for tool in "${tools[@]}"; do
    bash scripts/tools.sh "$tool" >>"$log" 2>&1 &
  done
}

# schemathesis against a live server, every check, zero failures allowed.
run_api_fuzz() {
  step "spec fuzz (schemathesis)"
  bash scripts/api-fuzz.sh
}

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")"
  prefetch_tools
  if [[ ${SKIP_LINT:-} == 1 ]]; then
    step "lint skipped (SKIP_LINT=1)"
  else
    lint
  fi
  build_once
  step "compose and Dockerfile checks"
  bash scripts/check-compose.sh
  step "Prometheus and Grafana files (scripts/check-metrics.sh)"
  bash scripts/check-metrics.sh
  provision_db
  if [[ ${SKIP_FUZZ:-} == 1 ]]; then
    step "spec fuzz skipped (SKIP_FUZZ=1)"
  else
    run_api_fuzz
  fi
  if [[ ${SKIP_S3:-} == 1 ]]; then
    step "S3 media store tests skipped (SKIP_S3=1)"
  else
    step "S3 media store against moto (scripts/media-s3.sh; installs moto[server])"
    bash scripts/media-s3.sh
  fi
  if [[ ${SKIP_MASTODON:-} == 1 ]]; then
    step "Mastodon clients skipped (SKIP_MASTODON=1)"
  else
    step "Mastodon.py and masto.js scenarios (scripts/mastodon-clients.sh; installs both)"
    bash scripts/mastodon-clients.sh
  fi
  if [[ ${SKIP_BROWSER:-} == 1 ]]; then
    step "browser tests skipped (SKIP_BROWSER=1)"
  else
    step "web client in headless Chromium (scripts/browser-tests.sh)"
    bash scripts/browser-tests.sh
  fi
  if [[ ${SKIP_CLUSTER:-} == 1 ]]; then
    step "cluster checks skipped (SKIP_CLUSTER=1)"
  elif [[ -f scripts/cluster.sh ]]; then
    step "three instances behind nginx (scripts/cluster.sh check)"
    bash scripts/cluster.sh check
  fi
  # Last, so its summary closes the output.
  export RUST_TEST_THREADS=${RUST_TEST_THREADS:-4}
  step "cargo test --all-targets $* ($RUST_TEST_THREADS at a time)"
  cargo test --all-targets "$@"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
