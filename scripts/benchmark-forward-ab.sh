#!/usr/bin/env bash
# Forward time of two builds of attnviz-cli in alternating runs (A, B, A, B, ...), so
# that both see the same machine state: medians (ms) of ViT-B/16 and ResNet-50, batch 1,
# 224x224, CPU, as `analyze` reports them (timings_ms.forward).
# Usage: scripts/benchmark-forward-ab.sh A_CLI B_CLI [RUNS]   (after `ctest --preset release`)
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 runs=${3:-11}
data=build/tests/data/reference
[ -f "$data/tv_vit_b_16.pth" ] || { echo "run the tests first: they write $data" >&2; exit 1; }
forward() {  # cli role model reference
    "$1" analyze "--$2" "$data/$3" --tensor "$data/$4" 2>/dev/null \
        | python3 -c "import json,sys; print(json.load(sys.stdin)['$2']['timings_ms']['forward'])"
}
log=$(mktemp)
for _ in $(seq "$runs"); do
    for which in A B; do
        cli=$([ "$which" = A ] && echo "$a" || echo "$b")
        echo "$which $(forward "$cli" vit tv_vit_b_16.pth tv_vit_b_16.ref.safetensors) $(forward "$cli" cnn tv_resnet50.pth tv_resnet50.ref.safetensors)"
    done
done >"$log"
python3 - "$log" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {w: [statistics.median(float(r[i]) for r in rows if r[0] == w) for i in (1, 2)] for w in "AB"}
print("| build | ViT-B/16 forward (ms) | ResNet-50 forward (ms) |")
print("|---|---|---|")
for w in "AB":
    print(f"| {w} | {med[w][0]:.1f} | {med[w][1]:.1f} |")
print(f"| B / A | {med['B'][0] / med['A'][0]:.3f} | {med['B'][1] / med['A'][1]:.3f} |")
PY
rm -f "$log"
