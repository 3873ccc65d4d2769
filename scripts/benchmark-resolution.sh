#!/usr/bin/env bash
# Peak resident memory and forward time of `attnviz-cli analyze` against the input size
# (224 -> 1024 px) for ViT-S/8, ViT-B/16 and ViT-L/14-shaped models (torchvision
# architectures, random weights, trained at 224 px and resampled), beside DINO's approach in
# eager PyTorch (every block without its attention weights, the last one with them:
# scripts/resolution_reference.py dino), and, given BEFORE_CLI, an older attnviz-cli. Then
# the views that need every block's matrices, for the ViT-S/8 at 480 px. Each figure is one
# process per run (GNU time for the peak), medians of RUNS; all in one run of this script.
# The older CLI is not run where every block's matrices would exceed 8 GB (the machine's
# memory is shared): the table says what it would hold. Past 5000 tokens each figure is
# one run (a pass takes minutes there).
# Usage: scripts/benchmark-resolution.sh [RUNS] [BEFORE_CLI] [SECTIONS]
#   SECTIONS: any of sizes, parity, views (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
before=${2:-}
sections=${3:-sizes parity views}
cli=build/bin/attnviz-cli
[ -x "$cli" ] || { echo "build first: $cli" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 scripts/resolution_reference.py make "$work"

median() { sort -g | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }
mb() { awk '{printf "%.0f\n", $1 / 1024}'; }  # GNU time's %M is in KiB

# analyze CLI MODEL INPUT [options] -> "peak_mb forward_ms view_ms" (medians; view "-" without --method)
analyze() {
    local cli=$1 model=$2 input=$3
    shift 3
    : >"$work/runs"
    for _ in $(seq "$reps"); do
        /usr/bin/time -f "%M" -o "$work/time" "$cli" analyze --vit "$model" --tensor "$input" "$@" >"$work/out.json"
        python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['vit']['timings_ms']
print(open(sys.argv[2]).read().split()[-1], t['forward'], t.get('view', '-'))" "$work/out.json" "$work/time" \
            >>"$work/runs"
    done
    echo "$(cut -d' ' -f1 "$work/runs" | mb | median) $(cut -d' ' -f2 "$work/runs" | median)" \
        "$(cut -d' ' -f3 "$work/runs" | { grep -v - || true; } | median)"
}

# dino SHAPE PX -> "peak_mb forward_ms"
dino() {
    : >"$work/runs"
    for _ in $(seq "$reps"); do
        ms=$(/usr/bin/time -f "%M" -o "$work/time" /usr/bin/python3 scripts/resolution_reference.py dino "$1" "$2")
        echo "$(tail -n 1 "$work/time") $ms" >>"$work/runs"
    done
    echo "$(cut -d' ' -f1 "$work/runs" | mb | median) $(cut -d' ' -f2 "$work/runs" | median)"
}

# GB every block's matrices take: blocks x heads x T² x 4 bytes
matrices_gb() {
    /usr/bin/python3 -c "import sys; sys.path.insert(0, 'scripts'); import resolution_reference as r
p, blocks, heads, *_ = r.SHAPES['$1']; t = ($2 // p) ** 2 + 1
print(f'{4 * blocks * heads * t * t / 1e9:.1f}', t)"
}

want() { [[ " $sections " == *" $1 "* ]]; }

if want sizes; then
echo "| model | px | tokens | matrices (GB) | attnviz peak (MB) | attnviz forward (ms) | before: peak (MB) | before: forward (ms) | DINO's way in PyTorch: peak (MB) | forward (ms) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for shape in vit_s8 vit_b16 vit_l14; do
    for input in "$work/${shape}"_*.safetensors; do
        px=${input##*_}
        px=${px%.safetensors}
        read -r gb tokens < <(matrices_gb "$shape" "$px")
        reps=$runs
        [ "$tokens" -le 5000 ] || reps=1
        read -r peak fwd _ < <(analyze "$cli" "$work/$shape.pth" "$input")
        old="not run | not run |"
        if [ -n "$before" ] && awk -v g="$gb" 'BEGIN {exit !(g <= 8)}'; then
            read -r bpeak bfwd _ < <(analyze "$before" "$work/$shape.pth" "$input")
            old="$bpeak | $bfwd |"
        fi
        read -r dpeak dfwd < <(dino "$shape" "$px")
        echo "| $shape | $px | $tokens | $gb | $peak | $fwd | $old $dpeak | $dfwd |"
    done
done | sort -t'|' -k2,2 -k3,3n -s
echo
fi

if want parity; then
# ViT-B/16 at 1024 px (4097 tokens), trained at that size: the rows the trace keeps against
# torchvision's need_weights attention.
"$cli" analyze --vit "$work/vit_b16_1024.pth" --tensor "$work/vit_b16_1024.safetensors" --dump "$work/dump.safetensors" \
    --method attention --query 20,45 --layer all --head all >/dev/null
/usr/bin/python3 scripts/resolution_reference.py parity vit_b16 1024 "$work/vit_b16_1024.pth" \
    "$work/vit_b16_1024.safetensors" "$work/dump.safetensors" 20 45
echo
fi

reps=$runs
if want views; then
echo "ViT-S/8 at 480 px (3601 tokens), one view after the forward pass:"
echo "| view | attnviz peak (MB) | attnviz view (ms) | before: peak (MB) | before: view (ms) |"
echo "|---|---|---|---|---|"
for method in attention rollout grad-rollout generic-attention transformer-attribution gradcam; do
    read -r peak _ view < <(analyze "$cli" "$work/vit_s8.pth" "$work/vit_s8_480.safetensors" --method "$method")
    old="not run | |"
    # The older CLI kept every block's matrices and, for the gradient views, every block's
    # autograd graph (about 3 x 3.7 GB): only the views from the trace are run. Grad-CAM
    # is of the last block, resumed from the trace.
    if [ -n "$before" ] && { [ "$method" = attention ] || [ "$method" = rollout ]; }; then
        read -r bpeak _ bview < <(analyze "$before" "$work/vit_s8.pth" "$work/vit_s8_480.safetensors" --method "$method")
        old="$bpeak | $bview |"
    fi
    echo "| $method | $peak | $view | $old"
done
fi
