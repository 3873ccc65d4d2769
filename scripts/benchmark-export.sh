#!/usr/bin/env bash
# Throughput of `attnviz-cli export` with ViT-B/16 + ResNet-50 (torchvision architectures,
# random weights from the test fixtures) over IMAGES JPEGs of 640x480, CPU, default
# threads. For each batch size and method set: images/s of the whole export (median of
# RUNS runs, a fresh output folder each), and the models' forward-only images/s of the
# same runs (images / the summary's seconds.forward), so their ratio says how long the
# model waits for decoding, views and PNG writing.
# Usage: scripts/benchmark-export.sh [RUNS] [IMAGES]   (after `ctest --preset release` made the fixtures)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
count=${2:-32}
cli=build/bin/attnviz-cli
data=build/tests/data/reference
[ -f "$data/tv_vit_b_16.pth" ] || { echo "run the tests first: they write $data" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Smooth random colour images, so that JPEG decoding does real work (Debian's numpy and Pillow).
/usr/bin/python3 - "$work/images" "$count" <<'EOF'
import os, sys
import numpy as np
from PIL import Image
out, count = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
rng = np.random.default_rng(0)
for i in range(count):
    small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(small).resize((640, 480), Image.BICUBIC).save(f"{out}/{i:03d}.jpg", quality=90)
EOF

median() { sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }

# batch methods -> "export_images_per_s forward_only_images_per_s"
measure() {
    local log
    log=$(mktemp)
    for r in $(seq "$runs"); do
        "$cli" export --vit "$data/tv_vit_b_16.pth" --cnn "$data/tv_resnet50.pth" --images "$work/images" \
            --out "$work/out-$1-$2-$r" --batch "$1" --methods "$2" 2>/dev/null \
            | python3 -c "import json,sys; s=json.load(sys.stdin); n=s['computed']; t=s['seconds']; print(n / t['total'], n / t['forward'])"
    done >"$log"
    echo "$(cut -d' ' -f1 "$log" | median) $(cut -d' ' -f2 "$log" | median)"
    rm -f "$log"
}

echo "| methods | batch | export (images/s) | forward only (images/s) | ratio |"
echo "|---|---|---|---|---|"
for methods in none attention,rollout attention,gradcam; do
    for batch in 1 8 16; do
        read -r export forward < <(measure "$batch" "$methods")
        ratio=$(awk -v a="$export" -v b="$forward" 'BEGIN {printf "%.2f", a / b}')
        echo "| $methods | $batch | $export | $forward | $ratio |"
    done
done
