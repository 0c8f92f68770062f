#!/bin/sh
# Two-scale benchmark: scenarios/checkout.yaml with a 30-day window,
# natural campaigns of the base variant on 2 threads, the whole command as
# a user runs it (predicted injection scenarios and remediation included:
# both are on by default).
#
#   cargo build --release && sh benches/two_scale_checkout.sh [campaigns] [variant] [extra run options]
#
# Prints the run's summary, the whole command's wall and CPU time (from
# /usr/bin/time when installed, else the shell's `time`), the load average
# before and after (the machine may be shared), and the time of every
# phase as manifest.json records it. Figures: docs/performance.md.
set -eu
campaigns=${1:-10000}
variant=${2:-base}
[ $# -ge 2 ] && shift 2 || shift $#
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed 's/^horizon: .*$/horizon: 30d/' scenarios/checkout.yaml > "$dir/checkout-30d.yaml"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "whole command: %e s wall, %U s user + %S s sys CPU (%P), max RSS %M KB" \
        target/release/preflight run "$dir/checkout-30d.yaml" \
        --variant "$variant" --campaigns "$campaigns" --threads 2 --out "$dir/run" "$@"
else
    time target/release/preflight run "$dir/checkout-30d.yaml" \
        --variant "$variant" --campaigns "$campaigns" --threads 2 --out "$dir/run" "$@"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
grep -E '"(scale|wall_time_s|campaigns_run|events)"' "$dir/run/manifest.json"
# The phases: wall and CPU seconds of each, in the order they ran.
python3 - "$dir/run/manifest.json" <<'EOF' || sed -n '/"phases"/,/^  }/p' "$dir/run/manifest.json"
import json, sys
m = json.load(open(sys.argv[1]))
def table(title, p):
    wall, cpu = p["wall_s"], p.get("cpu_s") or {}
    print(title)
    print(f"  {'phase':<12} {'wall s':>9} {'CPU s':>9}")
    for k in p.get("order", [k for k in wall if k != "total"]) + ["total"]:
        w, c = wall[k], cpu.get(k)
        print(f"  {k:<12} {w:>9.2f} {'-' if c is None else format(c, '9.2f'):>9}")
table("phases (manifest.json):", m["phases"])
r = m.get("remediation")
if r and r.get("phases"):
    table(f"remediation ({r['campaigns_run']} campaigns, {r['simulated']} candidates):", r["phases"])
    for c in r.get("candidates", []):
        lib = "" if c["library_simulated"] is None else \
            f", library episodes {c['library_simulated']} simulated / {c['library_shared']} shared"
        eps = "" if c.get("episodes_shared") is None else \
            f", {c['episodes_shared']} episodes of several faults taken from the base's"
        print(f"  {c['name']}: {c['campaigns']} paired campaigns ({c['campaigns_simulated']} simulated){lib}{eps}")
EOF
