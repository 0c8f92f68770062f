#!/usr/bin/env bash
# The browser check of `preflight report`: runs every bundled scenario
# (checkout with its telemetry and the live-injection log), writes each
# run's report with `run --report`, times `preflight report` on each, then
# opens every report in headless Chromium (tests/report/check.py): no
# console error, no request leaving the file, every plot drawn, readable
# at 1280 px and at 390 px. Screenshots go to SHOTS_DIR (default
# target/report-shots), CI's artefact.
#
#   bash tests/report/run.sh target/debug/preflight [SHOTS_DIR]
#
# Installs what it needs: html5lib and websocket-client into .venv
# (tests/python/setup.sh), and Chromium from the Debian package `chromium`
# when it is not on PATH (needs root: CI runs as root).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shots="${2:-$root/target/report-shots}"
cd "$root"

bash tests/python/setup.sh tests/report/requirements.txt
chromium="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "report check: Chromium is not installed, and installing it needs root (apt-get install chromium)" >&2
        exit 1
    fi
    echo "report check: installing Chromium (Debian package chromium)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
    chromium="$(command -v chromium)"
fi
echo "report check: $("$chromium" --version 2>/dev/null | head -1)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
reports=()
for scenario in scenarios/*.yaml; do
    name="$(basename "$scenario" .yaml)"
    extra=()
    if [ "$name" = checkout ]; then
        extra=(--telemetry datasets/checkout-telemetry.csv)
    fi
    "$bin" run "$scenario" --campaigns 20 --events --report --quiet \
        --out "$work/$name" "${extra[@]}"
    # `preflight report` on its own, timed as a user runs it: under 2 s.
    line="$("$bin" report "$work/$name")"
    echo "$name: $line"
    secs="$(sed -n 's/.*, \([0-9.]*\) s)$/\1/p' <<<"$line")"
    if ! awk -v s="$secs" 'BEGIN { exit !(s != "" && s < 2.0) }'; then
        echo "report check: $name: the report took ${secs:-?} s, not under 2 s" >&2
        exit 1
    fi
    reports+=("$work/$name/report.html")
done
.venv/bin/python tests/report/check.py "$chromium" "$shots" "${reports[@]}"
