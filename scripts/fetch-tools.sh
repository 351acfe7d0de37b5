#!/usr/bin/env bash
# Fetches promtool and prometheus from Debian's "prometheus" package into .tools, so the
# integration tests also run the alert rules through the real rule engine (MetricsContractIT).
# Best effort: without apt-get or the network the tests skip that part and say so.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=.tools
[[ -x "$dir/prometheus/usr/bin/promtool" ]] && exit 0
command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "fetch-tools: no apt-get/dpkg; promtool checks will be skipped"; exit 0; }
mkdir -p "$dir"
download() { (cd "$dir" && timeout 120 apt-get download prometheus >/dev/null 2>&1); }
# a fresh machine may have no package lists yet
if ! download; then
    timeout 180 apt-get update -qq >/dev/null 2>&1 && download
fi
if ls "$dir"/prometheus_*.deb >/dev/null 2>&1 && dpkg -x "$dir"/prometheus_*.deb "$dir/prometheus"; then
    rm -f "$dir"/prometheus_*.deb
    echo "fetch-tools: promtool $("$dir/prometheus/usr/bin/promtool" --version 2>&1 | head -1)"
else
    echo "fetch-tools: could not fetch Debian's prometheus package; promtool checks will be skipped"
fi
exit 0
