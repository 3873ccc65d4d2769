#!/usr/bin/env bash
# The cluster path, for real: starts a single-node Slurm on this machine (Debian's
# slurm-wlm and munge, as root, everything in a temporary folder), submits the README's
# export array job (scripts/slurm/export-shard.sbatch, 4 shards) over generated benchmark
# scenes with the shipped models, waits, merges the shards' results and checks that they
# equal one unsharded run's, image by image; stops the daemons at the end, whatever happens.
#
#   sudo scripts/slurm/single-node.sh [--cli build/bin/attnviz-cli] [--images N]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
cli=$root/build/bin/attnviz-cli
count=60
while [ $# -gt 0 ]; do
    case "$1" in
        --cli) cli=$(realpath "$2"); shift 2 ;;
        --images) count=$2; shift 2 ;;
        *) echo "single-node: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then  # the Slurm and munge daemons run as root
    command -v sudo >/dev/null || { echo "single-node: run as root or install sudo" >&2; exit 2; }
    exec sudo "$0" --cli "$cli" --images "$count"
fi
for tool in munged slurmctld slurmd sbatch sinfo; do
    command -v "$tool" >/dev/null || { echo "single-node: $tool is missing (apt-get install slurm-wlm munge)" >&2; exit 2; }
done
started=$SECONDS
work=$(mktemp -d)
chmod 755 "$work"
host=$(hostname -s)
export SLURM_CONF=$work/slurm.conf

stop() {
    set +e
    scancel --full --quiet --user=root 2>/dev/null
    for pid in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munge/munged.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null
    done
    sleep 1
    rm -rf "$work"
}
trap stop EXIT

# munge: its own key, socket and files
mkdir -p "$work/munge"
chmod 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket.2" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed"

# Slurm: one node, this machine, its cores and memory; no cgroups, no accounting
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p "$work/state" "$work/spool"
cat > "$SLURM_CONF" <<CONF
ClusterName=attnviz
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket.2
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=attnviz Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
    state=$(sinfo --noheader --format=%t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 1
done
[ "$state" = idle ] || { echo "single-node: the node did not come up ($state)"; cat "$work"/slurm*.log; exit 1; }
echo "single-node: Slurm $(sinfo --version | cut -d' ' -f2) up on $host ($cpus CPUs) after $((SECONDS - started)) s"

# The images: benchmark scenes, every one a file of its own
"$cli" benchmark make --out "$work/bench" --count 1 --test-count "$count" --seed 3 > /dev/null
images=$work/bench/test
vit=$root/models/vit-shapes
cnn=$root/models/cnn-shapes

# The README's job: 4 shards, submitted as the README submits them
export ATTNVIZ_CLI=$cli
sbatch --wait --array=0-3 --output="$work/shard-%a.log" scripts/slurm/export-shard.sbatch \
    "$vit" "$cnn" "$images" "$work/out" > "$work/sbatch.log"
echo "single-node: $(head -1 "$work/sbatch.log"); all 4 tasks finished after $((SECONDS - started)) s"
for log in "$work"/shard-*.log; do
    python3 - "$log" <<'PY'
import json, os, sys
text = open(sys.argv[1]).read()
summary = json.loads(text[text.index("{"):])  # after the progress line on stderr
print(f"single-node: task {os.path.basename(sys.argv[1])[6:-4]}: shard {summary['shard'][0]}/{summary['shard'][1]}, "
      f"{summary['computed']} of {summary['images_in_all_shards']} images in {summary['seconds']['total']:.2f} s")
PY
done
cat "$work"/out/results-*-of-4.jsonl > "$work/out/results.jsonl"

# One unsharded run of the same export, and the comparison
"$cli" export --vit "$vit" --cnn "$cnn" --images "$images" --out "$work/single" > /dev/null
python3 - "$work/out" "$work/single" <<'PY'
import json, math, sys
sharded, single = sys.argv[1], sys.argv[2]

def records(path):
    with open(path + "/results.jsonl") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {row["image"]: row for row in rows}, len(rows)

def same(a, b, where):
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} against {sorted(b)}"
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        # a shard batches other images together: float32 rounding only (README, export)
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9), f"{where}: {a} against {b}"
    else:
        assert a == b, f"{where}: {a!r} against {b!r}"

merged, merged_lines = records(sharded)
whole, whole_lines = records(single)
assert merged_lines == len(merged), "the shards wrote an image twice"
assert merged.keys() == whole.keys(), "the shards and the single run did not cover the same images"
for image in whole:
    same(merged[image], whole[image], image)
print(f"single-node: the 4 shards' merged records equal the unsharded run's: {len(whole)} images, "
      "every field (top-k classes and probabilities, view files)")
PY
echo "single-node: passed in $((SECONDS - started)) s"
