#!/bin/sh
# Forecasting speed: N synthetic series of P points each (a daily cycle,
# a slow trend, noise; one long-form Parquet file, since a CSV of 10 million
# rows is over the 256 MiB input limit), forecast 2 hours (24 steps) ahead
# with intervals at 80% and 95% and a threshold each, timed as a user runs it.
#
#   bash tests/python/setup.sh && cargo build --release && sh benches/forecast.sh [series] [points]
#
# Defaults: 1000 series of 10,000 points (the telemetry issue's size).
set -eu
cd "$(dirname "$0")/.."
n="${1:-1000}"
p="${2:-10000}"
dir="${TMPDIR:-/tmp}/preflight-forecast-bench"
mkdir -p "$dir"
.venv/bin/python - "$n" "$p" "$dir/series.parquet" <<'PY'
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
n, p, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(7)
i = np.arange(p)
ts, res, val = [], [], []
for s in range(n):
    base, amp, trend = rng.uniform(20, 80), rng.uniform(1, 10), rng.uniform(-1e-3, 1e-3)
    val.append(base + amp * np.sin(2 * np.pi * i / 288) + trend * i + rng.normal(0, 1, p))
    ts.append(1_700_000_000 + 300 * i)
    res.append(np.full(p, f"host-{s}"))
table = pa.table({
    "timestamp": pa.array(np.concatenate(ts).astype("datetime64[s]")),
    "resource": pa.array(np.concatenate(res)),
    "metric": pa.array(np.full(n * p, "cpu")),
    "value": pa.array(np.concatenate(val)),
})
pq.write_table(table, path)
PY
echo "series: $n x $p points ($(du -h "$dir/series.parquet" | cut -f1))"
/usr/bin/time -f "whole command: %e s wall, %U s user, %S s system, %M KB max RSS" \
    target/release/preflight forecast "$dir/series.parquet" --horizon 2h \
    --threshold 'cpu>95' --json > "$dir/out.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d), 'series forecast; models:', sorted(set(s['model'] for s in d))[:4])" "$dir/out.json"
