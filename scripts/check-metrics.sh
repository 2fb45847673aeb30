#!/usr/bin/env bash
# Static checks of the monitoring files in deploy/ (test.sh runs this):
#  1. promtool is at hand: as root with apt (as in CI) scripts/tools.sh
#     installs it when missing (the metrics tests need it too);
#  2. `promtool check config` accepts deploy/prometheus/prometheus.yml and the
#     alert rules it names;
#  3. the Grafana dashboard is valid JSON, each panel's PromQL parses
#     (`promtool check rules` on the queries turned into recording rules),
#     and every pamps_* metric the dashboard and the alerts query is one
#     src/metrics/ records, so a renamed metric cannot leave an empty panel.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/tools.sh debs || true
command -v promtool >/dev/null 2>&1 \
  || { echo "check-metrics: FAIL: promtool is missing (apt-get install prometheus)"; exit 1; }

status=0
if promtool check config deploy/prometheus/prometheus.yml >/tmp/pamps-promtool.log 2>&1; then
  echo "check-metrics: promtool accepts deploy/prometheus/prometheus.yml and its rules"
else
  cat /tmp/pamps-promtool.log
  echo "check-metrics: FAIL: promtool rejects deploy/prometheus/prometheus.yml"
  status=1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - deploy/grafana/pamps-dashboard.json deploy/prometheus/pamps-alerts.yml "$work/panels.yml" <<'PY' || status=1
"""Dashboard JSON parses; its queries become recording rules for promtool;
every pamps_* name queried is recorded by src/metrics/."""
import json
import re
import sys
from pathlib import Path

dashboard_path, alerts_path, rules_out = sys.argv[1:]
try:
    dashboard = json.loads(Path(dashboard_path).read_text())
except json.JSONDecodeError as e:
    sys.exit(f"check-metrics: FAIL: {dashboard_path} is not JSON: {e}")
exprs = [t["expr"] for p in dashboard.get("panels", []) for t in p.get("targets", [])]
if not exprs:
    sys.exit(f"check-metrics: FAIL: {dashboard_path} has no queries")
rules = "groups:\n  - name: dashboard\n    rules:\n" + "".join(
    f"      - record: pamps:panel_{i}\n        expr: {json.dumps(e)}\n" for i, e in enumerate(exprs))
Path(rules_out).write_text(rules)

sources = "".join(p.read_text() for p in Path("src/metrics").rglob("*.rs"))
recorded = set(re.findall(r'"(pamps_[a-z_]+)"', sources))
series = recorded | {f"{n}_{s}" for n in recorded for s in ("bucket", "sum", "count")}
queried = set(re.findall(r"\bpamps_[a-z_]+", " ".join(exprs) + Path(alerts_path).read_text()))
unknown = sorted(queried - series)
if unknown:
    sys.exit(f"check-metrics: FAIL: queried but never recorded: {', '.join(unknown)}")
print(f"check-metrics: {len(exprs)} dashboard queries and the alerts use {len(queried)} recorded metrics")
PY
if [[ -f $work/panels.yml ]]; then
  if promtool check rules "$work/panels.yml" >/tmp/pamps-promtool.log 2>&1; then
    echo "check-metrics: every dashboard query parses (promtool check rules)"
  else
    cat /tmp/pamps-promtool.log
    echo "check-metrics: FAIL: a dashboard query does not parse"
    status=1
  fi
fi
exit "$status"
