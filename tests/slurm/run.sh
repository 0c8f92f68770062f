#!/usr/bin/env bash
# A real Slurm job array runs `preflight run --shard auto` (the repository's
# deploy/slurm/preflight-array.sbatch), `preflight merge` puts the parts
# together, and every result file must equal a local run's, byte for byte.
#
# Installs Debian's slurm-wlm and munge when they are missing (as root, as
# CI runs), configures a one-node cluster on 127.0.0.1 that runs without
# systemd or cgroups, starts munged, slurmctld and slurmd, and stops them
# when it ends, however it ends. Usage (from the repository root, after
# `cargo build`):
#
#   bash tests/slurm/run.sh [path/to/preflight]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=$(realpath "${1:-target/debug/preflight}")
[ -x "$bin" ] || { echo "slurm test: no binary at $bin (cargo build first)" >&2; exit 2; }

if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    echo "== installing slurm-wlm and munge (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi

work=$(mktemp -d /tmp/preflight-slurm.XXXXXX)
state=$work/state
mkdir -p "$state"/{ctld,d,log,run}
host=$(hostname -s)
pids=()
stop() {
    for f in "$state"/run/slurmd.pid "$state"/run/slurmctld.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    [ -f "$state/run/munged.pid" ] && kill "$(cat "$state/run/munged.pid")" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    rm -rf "$work"
}
trap stop EXIT

echo "== munge"
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 400 /etc/munge/munge.key
chmod 700 /etc/munge
if ! munge -n >/dev/null 2>&1; then
    # As user munge, with its own pid file (/run/munge/munged.pid).
    su -s /bin/sh munge -c munged
    for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
    cp /run/munge/munged.pid "$state/run/munged.pid"
fi
munge -n | unmunge >/dev/null

echo "== slurm.conf (one node, $host on 127.0.0.1)"
conf=$work/slurm.conf
cat > "$conf" <<EOF
ClusterName=preflight-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=46817
SlurmdPort=46818
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf

echo "== slurmctld, slurmd"
slurmctld -f "$conf"
for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.1; done
slurmd -f "$conf"
for _ in $(seq 150); do
    sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
    sleep 0.2
done
sinfo

echo "== the array: deploy/slurm/preflight-array.sbatch, 4 tasks"
scenario=$work/small.yaml
cp tests/slurm/small.yaml "$scenario"
parts=$work/parts
export SCENARIO=$scenario CAMPAIGNS=40 PARTS=$parts PREFLIGHT=$bin RANGE_SIZE=5
(cd "$work" && sbatch --wait --array=0-3 --cpus-per-task=1 \
    --output="$work/task-%a.log" "$root/deploy/slurm/preflight-array.sbatch")
cat "$work"/task-*.log
ls "$parts/parts" | wc -l

echo "== merge, and a local run of the same command"
"$bin" merge "$parts" --out "$work/merged" --quiet
"$bin" run "$scenario" --campaigns 40 --quiet --out "$work/local"
for f in campaigns handlers risk remediations; do
    if [ -f "$work/local/$f.parquet" ]; then
        cmp "$work/local/$f.parquet" "$work/merged/$f.parquet"
        echo "$f.parquet: identical"
    fi
done
echo "slurm test: passed"
