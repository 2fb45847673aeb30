#!/usr/bin/env bash
# The S3 media store against a real S3-compatible server: moto in server
# mode (PyPI `moto[server]`, installed into a venv like the spec fuzz tools),
# on a free port, with a fresh bucket; runs the ignored tests of media_s3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server}"

source scripts/tools.sh
bash scripts/tools.sh s3
VENV=$S3_VENV

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null || true; rm -f "$log"' EXIT
endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$endpoint/" >/dev/null 2>&1 && break
  sleep 0.2
done
bucket="pamps-media-$$"
curl -fsS -X PUT "$endpoint/$bucket" >/dev/null || { cat "$log" >&2; exit 1; }

export PAMPS_TEST_S3_ENDPOINT=$endpoint PAMPS_TEST_S3_BUCKET=$bucket
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
cargo test --test api media_s3 -- --ignored
