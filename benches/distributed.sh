#!/bin/sh
# Campaigns per second of one run done four ways on this machine: local
# threads, a worker pool of 1 and of 2 worker processes (each with one
# thread per core it is given), and 4 shards run one after the other then
# merged; then the time and memory of merging N campaigns of mm1.
#
#   cargo build --release && sh benches/distributed.sh [campaigns] [merge-campaigns]
#
# Defaults: 2000 campaigns of scenarios/online-boutique.yaml (natural mode,
# base only), and a merge of 1,000,000 campaigns of scenarios/mm1.yaml
# (their shards are simulated first: minutes). Every way's files are
# compared with the local run's. Figures: docs/performance.md.
set -eu
n=${1:-2000}
big=${2:-1000000}
bin=$(pwd)/target/release/preflight
scenario=$(pwd)/scenarios/online-boutique.yaml
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
export PREFLIGHT_CLUSTER_SECRET=benchmark-secret-0123456789
common="--campaigns $n --variant base --no-remediate --quiet"
now() { date +%s.%N; }
rate() { echo "$2 $3" | awk -v label="$1" -v n="$n" '{ printf "%-28s %8.2f s  %9.1f campaigns/s\n", label, $2 - $1, n / ($2 - $1) }'; }
same() {
    for f in campaigns handlers risk; do cmp "$dir/local/$f.parquet" "$1/$f.parquet"; done
}

t0=$(now); $bin run "$scenario" $common --threads 2 --out "$dir/local"; t1=$(now)
rate "local (2 threads)" "$t0" "$t1"

for workers in 1 2; do
    port=$((47600 + workers))
    out="$dir/pool$workers"
    t0=$(now)
    $bin run "$scenario" $common --range-size 100 --cluster "127.0.0.1:$port" --out "$out" --threads 2 &
    coord=$!
    sleep 0.3
    threads=$((2 / workers))
    i=0
    while [ $i -lt $workers ]; do
        $bin worker --connect "127.0.0.1:$port" --threads "$threads" --quiet &
        i=$((i + 1))
    done
    wait $coord
    t1=$(now)
    wait
    same "$out"
    rate "pool of $workers worker(s)" "$t0" "$t1"
done

t0=$(now)
for i in 0 1 2 3; do
    $bin run "$scenario" $common --range-size 100 --threads 2 --shard "$i/4" --out "$dir/shards"
done
$bin merge "$dir/shards" --out "$dir/merged" --quiet
t1=$(now)
same "$dir/merged"
rate "4 shards + merge" "$t0" "$t1"

# Merging many campaigns: the shards first (not timed), then merge alone.
mm1=$(pwd)/scenarios/mm1.yaml
$bin run "$mm1" --campaigns "$big" --no-remediate --quiet --threads 2 --shard 0/1 --out "$dir/big"
du -sh "$dir/big/parts" | sed 's/^/parts of the big run: /'
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "merge of $big campaigns: %e s wall, max RSS %M KB" \
        $bin merge "$dir/big" --out "$dir/big-run" --quiet --threads 2
else
    t0=$(now); $bin merge "$dir/big" --out "$dir/big-run" --quiet --threads 2; t1=$(now)
    echo "merge of $big campaigns: $(echo "$t0 $t1" | awk '{print $2 - $1}') s"
fi
