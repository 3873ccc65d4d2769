#!/usr/bin/env bash
# The ViT views of two builds of attnviz-cli in alternating runs (A, B, A, B, ...): for
# the torchvision ViT-B/16 fixture at 224 px, the time `analyze --method` reports for the
# view and the process's peak resident memory (GNU time), medians of RUNS, and B / A.
# Usage: scripts/benchmark-views-ab.sh A_CLI B_CLI [RUNS]   (after `ctest --preset release`)
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 runs=${3:-5}
data=build/tests/data/reference
[ -f "$data/tv_vit_b_16.pth" ] || { echo "run the tests first: they write $data" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
views=("attention --layer all --head all" "rollout" "grad-rollout" "generic-attention" "transformer-attribution"
    "gradcam" "gradcam --layer 5")
for _ in $(seq "$runs"); do
    for which in A B; do
        cli=$([ "$which" = A ] && echo "$a" || echo "$b")
        for i in "${!views[@]}"; do
            # shellcheck disable=SC2086  # the view's options are words
            /usr/bin/time -f "%M" -o "$work/time" "$cli" analyze --vit "$data/tv_vit_b_16.pth" \
                --tensor "$data/tv_vit_b_16.ref.safetensors" --method ${views[$i]} >"$work/out.json"
            echo "$which $i $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['vit']['timings_ms']['view'])" \
                "$work/out.json") $(tail -n 1 "$work/time")"
        done
    done
done >"$work/log"
printf '%s\n' "${views[@]}" >"$work/names"
python3 - "$work/log" "$work/names" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
names = open(sys.argv[2]).read().splitlines()
print("| view (ViT-B/16, 224 px) | A: view (ms) | B: view (ms) | B / A | A: peak (MB) | B: peak (MB) |")
print("|---|---|---|---|---|---|")
for i, name in enumerate(names):
    med = {w: [statistics.median(float(r[c]) for r in rows if r[0] == w and int(r[1]) == i) for c in (2, 3)]
           for w in "AB"}
    print(f"| {name} | {med['A'][0]:.1f} | {med['B'][0]:.1f} | {med['B'][0] / med['A'][0]:.2f} | "
          f"{med['A'][1] / 1024:.0f} | {med['B'][1] / 1024:.0f} |")
PY
