#!/usr/bin/env bash
# Checks the monitoring and deployment files with the real tools, then watches a real Prometheus
# scrape a running worker (the demo) and raise ErasureWorkerDown once the worker is stopped.
#
#   scripts/check-monitoring.sh            # everything (builds the jar if missing)
#   scripts/check-monitoring.sh --static   # only promtool and docker-compose checks
#
# Tools: promtool/prometheus and docker-compose from Debian's packages. If they are not on PATH
# they are fetched into .tools with apt-get (root, Debian), or set PROMTOOL, PROMETHEUS and
# DOCKER_COMPOSE to binaries you have. Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS"

PROMTOOL="${PROMTOOL:-$(command -v promtool || true)}"
PROMETHEUS="${PROMETHEUS:-$(command -v prometheus || true)}"
if [[ -z "$PROMTOOL" || -z "$PROMETHEUS" ]]; then
    scripts/fetch-tools.sh
    PROMTOOL="${PROMTOOL:-$TOOLS/prometheus/usr/bin/promtool}"
    PROMETHEUS="${PROMETHEUS:-$TOOLS/prometheus/usr/bin/prometheus}"
fi
[[ -x "$PROMTOOL" ]] || { echo "promtool not available"; exit 1; }

echo "== promtool check rules / test rules"
"$PROMTOOL" check rules config/prometheus/alerts.yml
(cd config/prometheus && "$PROMTOOL" test rules alerts_test.yml)

echo "== docker-compose config"
DOCKER_COMPOSE="${DOCKER_COMPOSE:-$(command -v docker-compose || true)}"
if [[ -z "$DOCKER_COMPOSE" ]] && command -v apt-get >/dev/null; then
    apt-get install -y -qq docker-compose >/dev/null && DOCKER_COMPOSE="$(command -v docker-compose)"
fi
if [[ -n "$DOCKER_COMPOSE" ]]; then
    "$DOCKER_COMPOSE" -f docker-compose.yml config -q && echo "docker-compose.yml: valid"
else
    echo "docker-compose not available: skipped"
fi
[[ "${1:-}" == "--static" ]] && exit 0

echo "== a real Prometheus scrapes a running worker, then the worker stops"
[[ -f tools/target/cio-erasure-tools.jar ]] || mvn -q -B package -DskipTests
work="$(mktemp -d)"
port=19400
prom_port=19090
trap 'kill ${demo:-} ${prom:-} 2>/dev/null || true; rm -rf "$work"' EXIT
# the shipped rules, with their "for:" shortened so the check takes seconds, not minutes
sed -E 's/for: [0-9]+[smh]/for: 10s/' config/prometheus/alerts.yml > "$work/alerts.yml"
cat > "$work/prometheus.yml" <<YML
global: { scrape_interval: 2s, evaluation_interval: 2s, external_labels: { runbook_base: "https://docs.test" } }
rule_files: [ "$work/alerts.yml" ]
scrape_configs:
  - job_name: cio-erasure-worker
    static_configs: [ { targets: [ "127.0.0.1:$port" ] } ]
YML
java -jar tools/target/cio-erasure-tools.jar demo --keep-running --metrics-port "$port" > "$work/demo.log" 2>&1 &
demo=$!
"$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &
prom=$!
query() { curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1"; }
for _ in $(seq 1 90); do
    if query 'up{job="cio-erasure-worker"} == 1' 2>/dev/null | grep -q '"value"'; then break; fi
    sleep 1
done
query 'up{job="cio-erasure-worker"}' | grep -q '"1"\]' || { echo "FAIL: Prometheus never scraped the worker"; exit 1; }
# the port answers (erasure_ready 0) while the worker starts; wait for it to be ready
for _ in $(seq 1 90); do
    if query 'erasure_ready == 1' 2>/dev/null | grep -q '"value"'; then break; fi
    sleep 1
done
query 'erasure_ready == 1' | grep -q '"value"' || { echo "FAIL: the worker never scraped as ready (erasure_ready 1)"; exit 1; }
echo "worker scraped: up == 1, erasure_ready == 1"
kill "$demo"; wait "$demo" 2>/dev/null || true; demo=
firing() {
    curl -fsS "http://127.0.0.1:$prom_port/api/v1/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
print(" ".join(sorted(a["labels"]["alertname"] + "=" + a["state"] for a in alerts)))'
}
for _ in $(seq 1 60); do
    now="$(firing)"
    if [[ " $now " == *" ErasureWorkerDown=firing "* ]]; then
        echo "worker stopped: up == 0 and ErasureWorkerDown is firing"
        echo "alerts now: $now"
        exit 0
    fi
    sleep 1
done
echo "FAIL: ErasureWorkerDown did not fire within 60 s of the worker stopping (alerts: $(firing))"
exit 1
