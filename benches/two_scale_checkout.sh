#!/bin/sh
# Two-scale benchmark: scenarios/checkout.yaml with a 30-day window,
# 10,000 natural campaigns of the base variant on 2 threads.
#
#   cargo build --release && sh benches/two_scale_checkout.sh [campaigns] [variant]
#
# Prints the run's summary and wall time; figures are in docs/performance.md.
set -eu
campaigns=${1:-10000}
variant=${2:-base}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed 's/^horizon: .*$/horizon: 30d/' scenarios/checkout.yaml > "$dir/checkout-30d.yaml"
time target/release/preflight run "$dir/checkout-30d.yaml" \
    --variant "$variant" --campaigns "$campaigns" --threads 2 --out "$dir/run"
grep -E '"(scale|wall_time_s|campaigns_run|events)"' "$dir/run/manifest.json"
