#!/usr/bin/env bash
# The test tools, in one place: what each is, where it lives, how it is
# installed when missing. Every other script calls this before using one.
#   bash scripts/tools.sh [NAME...]   install what is missing (all when none):
#     debs      chromium, chromium-driver, nginx, docker-compose, promtool
#               (Debian packages; as root with apt-get, services kept stopped)
#     fuzz      schemathesis and openapi-spec-validator (venv)
#     s3        moto[server] (venv)
#     browser   selenium (venv)
#     mastodon  Mastodon.py + jsonschema (venv) and masto.js (npm ci)
#   source scripts/tools.sh           only defines the paths below
# A tool already present costs nothing. Each install holds a lock of its own,
# so test.sh can install everything in the background during the build while
# a script that needs a tool early simply waits for it.
set -euo pipefail

TOOLS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pamps"
FUZZ_VENV="${PAMPS_FUZZ_VENV:-$TOOLS_CACHE/fuzz-tools-1}"
FUZZ_TOOLS=(schemathesis==4.32.5 openapi-spec-validator==0.9.0)
S3_VENV="${PAMPS_S3_VENV:-$TOOLS_CACHE/moto-1}"
S3_TOOLS=('moto[server]==5.1.*')
BROWSER_VENV="$TOOLS_CACHE/browser-venv"
SELENIUM_VERSION=4.38.0
MASTODON_VENV="${PAMPS_MASTODON_VENV:-$TOOLS_ROOT/target/mastodon-venv}"
MASTODON_TOOLS=(Mastodon.py==2.3.3 jsonschema==4.26.0)
APT_LOG=/tmp/pamps-apt.log

# Runs "$@" holding /tmp/pamps-tools-$1.lock (one installer per tool at a time).
locked() {
  local name=$1
  shift
  (
    exec 9>"/tmp/pamps-tools-$name.lock"
    flock 9
    "$@"
  )
}

# Packages (command:package) whose command is missing, installed with apt-get.
install_debs() {
  local want=(chromium:chromium chromedriver:chromium-driver nginx:nginx
    docker-compose:docker-compose promtool:prometheus) missing=() pair
  for pair in "${want[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [[ -x /usr/sbin/${pair%%:*} ]] && continue
    # Compose v2 as a docker plugin does as well as Debian's docker-compose.
    [[ $pair == docker-compose:* ]] && docker compose version >/dev/null 2>&1 && continue
    missing+=("${pair#*:}")
  done
  ((${#missing[@]})) || return 0
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools: missing ${missing[*]} (install them with apt-get as root)" >&2
    return 0
  fi
  echo "tools: installing ${missing[*]} (apt log: $APT_LOG)"
  export DEBIAN_FRONTEND=noninteractive
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then # never start the packages' services
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  # promtool without the rest of Prometheus' recommends; the cached package
  # lists first, refreshed only when that fails.
  local rest=() pkg status=0
  for pkg in "${missing[@]}"; do [[ $pkg == prometheus ]] || rest+=("$pkg"); done
  apt_get() {
    { ((${#rest[@]} == 0)) || apt-get install -y -q "${rest[@]}"; } &&
      { [[ " ${missing[*]} " != *" prometheus "* ]] || apt-get install -y -q --no-install-recommends prometheus; }
  }
  apt_get >>"$APT_LOG" 2>&1 || { apt-get update -q && apt_get; } >>"$APT_LOG" 2>&1 || status=$?
  [[ $made_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d
  ((status == 0)) || { tail -n 20 "$APT_LOG" >&2; echo "tools: apt-get failed" >&2; return 1; }
}

# venv DIR CHECK PACKAGES...: a venv at DIR with PACKAGES unless CHECK (a
# Python expression run in it) already holds.
venv() {
  local dir=$1 check=$2
  shift 2
  "$dir/bin/python" -c "$check" 2>/dev/null && return 0
  echo "tools: installing $* into $dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
}

install_fuzz() {
  [[ -x $FUZZ_VENV/bin/schemathesis && -x $FUZZ_VENV/bin/openapi-spec-validator ]] ||
    venv "$FUZZ_VENV" 'import schemathesis' "${FUZZ_TOOLS[@]}"
}

install_s3() {
  [[ -x $S3_VENV/bin/moto_server ]] || venv "$S3_VENV" 'import moto' "${S3_TOOLS[@]}"
}

install_browser() {
  venv "$BROWSER_VENV" "import selenium, sys; sys.exit(selenium.__version__ != '$SELENIUM_VERSION')" \
    "selenium==$SELENIUM_VERSION"
}

install_mastodon() {
  venv "$MASTODON_VENV" 'import mastodon, jsonschema' "${MASTODON_TOOLS[@]}"
  [[ -d $TOOLS_ROOT/tests/mastodon/node_modules/masto ]] && return 0
  echo "tools: installing masto.js into tests/mastodon/node_modules"
  (cd "$TOOLS_ROOT/tests/mastodon" && npm ci --silent --no-audit --no-fund)
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  names=("$@")
  ((${#names[@]})) || names=(debs fuzz s3 browser mastodon)
  for name in "${names[@]}"; do
    case $name in
      debs | fuzz | s3 | browser | mastodon) locked "$name" "install_$name" ;;
      *) echo "tools: unknown tool '$name' (debs fuzz s3 browser mastodon)" >&2 && exit 2 ;;
    esac
  done
fi
