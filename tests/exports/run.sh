#!/usr/bin/env bash
# Exports every bundled scenario's run in every format and checks them with
# each tool's own validator (validate.py) and every number against the run's
# Parquet files (check_numbers.py). First the validators themselves: they
# must pass every hand-checked sample and fail every broken copy.
#
#   bash tests/exports/run.sh [path/to/preflight]
#
# Installs what it needs with tests/exports/setup.sh (pip into .venv; apt for
# promtool). Runs are small (the numbers are the runs' own whatever their
# size); output goes to target/ci-exports/.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-target/debug/preflight}"
export PREFLIGHT="$bin"
bash tests/exports/setup.sh
bash tests/python/setup.sh
py=.venv/bin/python

echo "-- the validators accept the samples and reject the broken copies"
$py tests/exports/validate.py tests/exports/samples
if $py tests/exports/validate.py tests/exports/samples/invalid > target/ci-invalid.log 2>&1; then
    cat target/ci-invalid.log
    echo "run.sh: a broken sample passed its validator" >&2
    exit 1
fi
grep -q "exports: 0 passed" target/ci-invalid.log || { cat target/ci-invalid.log; exit 1; }
echo "every broken sample failed, as it must"

out=target/ci-exports
rm -rf "$out"
mkdir -p "$out"
formats=(thresholds fis chaos-mesh litmus chaostoolkit prometheus-rules)
for scenario in scenarios/*.yaml; do
    name=$(basename "$scenario" .yaml)
    run="$out/$name"
    "$bin" run "$scenario" --campaigns 20 --mode both --scenario-campaigns 3 --quiet --out "$run" > /dev/null
    if [ ! -f "$run/scenarios.parquet" ]; then
        # No failure modes (mm1) or no workload (service paths): the export
        # must say there is nothing to export, with exit 2.
        set +e
        "$bin" export "$run" --format thresholds 2> "$out/$name.err"
        code=$?
        set -e
        if [ "$code" != 2 ] || ! grep -q "predicted no injection scenarios" "$out/$name.err"; then
            cat "$out/$name.err"
            echo "run.sh: $name: expected exit 2 saying there is nothing to export, got $code" >&2
            exit 1
        fi
        echo "-- $name: no predicted scenarios; the export says so (exit 2)"
        continue
    fi
    echo "-- $name"
    for f in "${formats[@]}"; do
        "$bin" export "$run" --format "$f" --quiet 2> "$out/$name-$f.warnings"
        # Byte-identical when run again.
        "$bin" export "$run" --format "$f" --quiet --out "$out/$name-$f-again" 2> /dev/null
        diff -r -q "$run/export/$f" "$out/$name-$f-again"
    done
    $py tests/exports/validate.py "$run/export"
    $py tests/exports/check_numbers.py "$run"
done
