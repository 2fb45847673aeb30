#!/usr/bin/env bash
# Static checks of the container setup (no Docker engine needed; test.sh runs this):
#  1. docker-compose.yaml is valid for `docker-compose config` (Debian's 1.29,
#     installed by scripts/tools.sh when missing and we are root, as in CI);
#  2. the same with the `cluster` profile (api-2, api-3 and nginx), when the
#     installed docker-compose knows profiles (1.28+; Debian's 1.29 does);
#  3. nginx accepts deploy/nginx/nginx.conf (`nginx -t`), rendered with the
#     compose service names replaced by loopback addresses so they resolve;
#  4. every PAMPS_<SECTION>__<KEY> named in docker-compose.yaml or Dockerfile.dev
#     is a real configuration key, so a typo cannot silently fall back to a default;
#  5. Dockerfile.dev copies every target Cargo.toml names and every folder the
#     binary embeds (web/), so the image builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/tools.sh debs || { echo "check-compose: FAIL: could not install docker-compose and nginx"; exit 1; }
compose=()
if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
fi

status=0
if ((${#compose[@]})); then
  if "${compose[@]}" -f docker-compose.yaml config -q; then
    echo "check-compose: docker-compose.yaml is valid"
  else
    echo "check-compose: FAIL: '${compose[*]} config' rejects docker-compose.yaml"
    status=1
  fi
  # Read whole first: `grep -q` on a pipe would end the pipeline early (pipefail).
  compose_help=$("${compose[@]}" --help 2>/dev/null || true)
  if [[ $compose_help != *--profile* ]]; then
    echo "check-compose: SKIP the cluster profile: ${compose[*]} has no --profile (needs 1.28+)"
  elif services=$("${compose[@]}" -f docker-compose.yaml --profile cluster config --services) \
    && "${compose[@]}" -f docker-compose.yaml --profile cluster config -q; then
    for service in api api-2 api-3 lb; do
      grep -qx "$service" <<<"$services" \
        || { echo "check-compose: FAIL: the cluster profile has no service $service"; status=1; }
    done
    echo "check-compose: docker-compose.yaml --profile cluster is valid ($(echo $services))"
  else
    echo "check-compose: FAIL: '${compose[*]} --profile cluster config' rejects docker-compose.yaml"
    status=1
  fi
else
  echo "check-compose: SKIP compose validation: install docker-compose (apt-get install docker-compose)"
fi

# nginx -t on the compose nginx config: service names become loopback
# addresses (nothing needs to listen there), the include and pid paths
# become temporary ones.
nginx_bin=$(command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true)
if [[ -n $nginx_bin ]]; then
  nginx_dir=$(mktemp -d)
  sed -e 's/server api:8000/server 127.0.0.1:18001/' \
      -e 's/server api-2:8000/server 127.0.0.1:18002/' \
      -e 's/server api-3:8000/server 127.0.0.1:18003/' \
      -e "s#/etc/nginx/pamps-proxy.conf#$PWD/deploy/nginx/pamps-proxy.conf#" \
      -e "s#^pid .*#pid $nginx_dir/nginx.pid;#" \
      deploy/nginx/nginx.conf >"$nginx_dir/nginx.conf"
  if grep -qE 'server (api|api-2|api-3):' "$nginx_dir/nginx.conf"; then
    echo "check-compose: FAIL: deploy/nginx/nginx.conf names an upstream this check does not know"
    status=1
  elif out=$("$nginx_bin" -t -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log" 2>&1); then
    echo "check-compose: nginx -t accepts deploy/nginx/nginx.conf"
  else
    echo "$out"
    echo "check-compose: FAIL: nginx -t rejects deploy/nginx/nginx.conf"
    status=1
  fi
  rm -rf "$nginx_dir"
else
  echo "check-compose: SKIP nginx -t: install nginx (apt-get install nginx)"
fi

python3 - docker-compose.yaml Dockerfile.dev <<'EOF' || status=1
"""Every PAMPS_* variable in the given files must name a configuration key."""
import re
import sys
import tomllib
from pathlib import Path

# Read by compose (PAMPS_DB) or picking the environment table (PAMPS_ENV), not keys.
SPECIAL = {"PAMPS_ENV", "PAMPS_DB"}


def flatten(table, prefix=""):
    for name, value in table.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}".lower()


settings = tomllib.loads(Path("settings.toml").read_text())
known = set(flatten(settings.get("default", {})))
# Secrets have no default on purpose, so [default] cannot list them:
# the keys .secrets.toml sets in any environment are real keys too.
secrets = Path(".secrets.toml")
if secrets.exists():
    for table in tomllib.loads(secrets.read_text()).values():
        if isinstance(table, dict):
            known |= set(flatten(table))

problems = 0
for path in sys.argv[1:]:
    text = Path(path).read_text()
    for match in re.finditer(r"(?<![A-Za-z0-9_])PAMPS_[A-Za-z0-9_]+", text):
        var = match.group()
        if var.upper() in SPECIAL:
            continue
        line = text.count("\n", 0, match.start()) + 1
        section, sep, key = var[len("PAMPS_"):].partition("__")
        if not sep or not section or not key:
            print(f"check-compose: FAIL: {path}:{line}: {var} is not of the form PAMPS_<SECTION>__<KEY>")
            problems += 1
            continue
        dotted = f"{section}.{key.replace('__', '.')}".lower()
        if dotted not in known:
            print(f"check-compose: FAIL: {path}:{line}: {var} names no configuration key "
                  f"('{dotted}' is not in settings.toml [default])")
            problems += 1

if problems:
    sys.exit(1)
print(f"check-compose: PAMPS_* variables in {', '.join(sys.argv[1:])} name real keys")
EOF

python3 - Dockerfile.dev <<'EOF' || status=1
"""The image builds what Cargo.toml names (targets, path dependencies and
patched crates) and embeds the folders the binary embeds: each must be
COPYed into the builder and not .dockerignored."""
import re
import sys
import tomllib
from pathlib import Path

copied = []
for line in Path(sys.argv[1]).read_text().splitlines():
    parts = line.split()
    if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
        copied += [p.rstrip("/") for p in parts[1:-1]]
ignored = [l.strip().rstrip("/") for l in Path(".dockerignore").read_text().splitlines()
           if l.strip() and not l.startswith("#")]
manifest = tomllib.loads(Path("Cargo.toml").read_text())
needed = {t["path"] for kind in ("bin", "example", "test", "bench")
          for t in manifest.get(kind, []) if "path" in t}
needed |= {"src", "migrations"}
# Path dependencies, patched crates included (vendor/actix-http, vendor/sqlx-postgres).
tables = [manifest.get("dependencies", {})] + list(manifest.get("patch", {}).values())
needed |= {d["path"].rstrip("/") for t in tables for d in t.values()
           if isinstance(d, dict) and "path" in d}
sources = "".join(p.read_text() for p in Path("src").rglob("*.rs"))
needed |= {f.rstrip("/") for f in re.findall(r'#\[folder = "([^"]+)"\]', sources)}
problems = 0
for path in sorted(needed):
    inside = any(path == c or path.startswith(c + "/") for c in copied)
    hidden = any(path == i or path.startswith(i + "/") for i in ignored)
    if not inside or hidden or not Path(path).exists():
        print(f"check-compose: FAIL: Dockerfile.dev does not copy {path} into the build")
        problems += 1
if problems:
    sys.exit(1)
print(f"check-compose: Dockerfile.dev copies what the build needs ({', '.join(sorted(needed))})")
EOF

exit "$status"
