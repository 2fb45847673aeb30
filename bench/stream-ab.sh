#!/usr/bin/env bash
# A/B of two pamps release binaries on the live stream, back to back:
#   bench/stream-ab.sh BIN_A BIN_B [ROUNDS]
# Each round runs bench/stream.sh once with each binary (A B, then B A, ...)
# on a fresh seed, with one load generator (LOAD, default
# target/release/examples/stream_load): IDLE_SOCKETS (10,000) idle sockets
# held IDLE_HOLD (5) s, then POSTS (30) posts to 1,000 followers' sockets.
# One line per run: server RSS and KiB per socket, 201 → event p50/p99, and
# the medians of the drain's stages (ms after the batch's read began).
# PRELOAD_A / PRELOAD_B: a library to LD_PRELOAD into that run's server (an
# allocator, say). Each round holds LOCK exclusively (default
# target/bench.lock: benchmarks of one checkout never overlap).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
A=${1:?BIN_A}
B=${2:?BIN_B}
ROUNDS=${3:-1}
LOCK=${LOCK:-$ROOT/target/bench.lock}
mkdir -p "$(dirname "$LOCK")" && touch "$LOCK"
export LOAD=${LOAD:-$ROOT/target/release/examples/stream_load}
export SKIP_BUILD=1 SKIP_READS=${SKIP_READS:-1} QUIET_WAIT=0 FOLLOWERS=1000
export IDLE_SOCKETS=${IDLE_SOCKETS:-10000} IDLE_HOLD=${IDLE_HOLD:-5} POSTS=${POSTS:-30} INTERVAL_MS=${INTERVAL_MS:-100}
export RUST_LOG=warn,pamps::bus=debug
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

one() {
  local name=$1 bin=$2 preload=$3 md=$OUT/$1.md log=$OUT/$1.log
  SERVER_PRELOAD=$preload PAMPS=$bin RESULTS=$md KEEP_SERVER_LOG=$log "$ROOT/bench/stream.sh" >"$OUT/$name.out" 2>&1 ||
    { tail -20 "$OUT/$name.out" >&2; return 1; }
  python3 - "$name" "$md" "$log" <<'PY'
import re, statistics, sys
name, md, log = sys.argv[1:]
t = open(md).read()
rss = re.search(r"VmRSS ([\d.]+) MiB before → ([\d.]+) MiB with (\d+) sockets \(([\d.]+) KiB per socket\)", t)
hwm = re.search(r"VmHWM ([\d.]+) MiB \(it was", t)
lat = re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms, max", t)
miss = re.search(r"deliveries, (\d+) missing", t)
spread = re.search(r"first follower: median post ([\d.]+) ms; 201 → last follower: median post ([\d.]+) ms", t)
stages = {k: [] for k in ("read_us", "payloads_us", "relations_us", "dispatched_us")}
numbering = []
for line in open(log, errors="replace"):
    clean = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.search(r"numbered=Some\([1-9]\d*\) took_us=(\d+)", clean)
    if m:
        numbering.append(int(m.group(1)))
    if "drained a batch" not in line:
        continue
    for k in stages:
        m = re.search(k + r"\"?[=:]\s*(\d+)", clean)
        if m:
            stages[k].append(int(m.group(1)))
med = {k: statistics.median(v) / 1000 if v else float("nan") for k, v in stages.items()}
print(f"{name}: RSS {rss.group(1)} → {rss.group(2)} MiB with {rss.group(3)} sockets "
      f"({rss.group(4)} KiB/socket), VmHWM {hwm.group(1)} MiB; p50 {lat.group(1)} ms, p99 {lat.group(2)} ms, "
      f"{miss.group(1)} missing; first/last follower (median post) {spread.group(1) if spread else '?'} / "
      f"{spread.group(2) if spread else '?'} ms; numbering "
      f"{statistics.median(numbering) / 1000 if numbering else float('nan'):.2f} ms; stages (median of {len(stages['read_us'])} batches) read {med['read_us']:.2f}, "
      f"payloads {med['payloads_us']:.2f}, relations {med['relations_us']:.2f}, dispatched {med['dispatched_us']:.2f} ms")
PY
}

for round in $(seq "$ROUNDS"); do
  if ((round % 2)); then order="A B"; else order="B A"; fi
  flock -x "$LOCK" bash -c "$(declare -f one); set -e; ROOT='$ROOT' OUT='$OUT'; for x in $order; do
      if [[ \$x == A ]]; then one A$round '$A' '${PRELOAD_A:-}'; else one B$round '$B' '${PRELOAD_B:-}'; fi; done"
done
