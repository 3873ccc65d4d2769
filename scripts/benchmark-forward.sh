#!/usr/bin/env bash
# Median forward time (ms) of ViT-B/16 and ResNet-50 (torchvision architectures,
# random weights from the test fixtures) per thread setting, batch 1, 224x224, CPU.
# Usage: scripts/benchmark-forward.sh [RUNS]   (after `ctest --preset release` made the fixtures)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
cli=build/bin/attnviz-cli
data=build/tests/data/reference
[ -f "$data/tv_vit_b_16.pth" ] || { echo "run the tests first: they write $data" >&2; exit 1; }

median_ms() {  # role model reference torch_threads blas_threads
    for _ in $(seq "$runs"); do
        ATTNVIZ_TORCH_THREADS=$4 ATTNVIZ_BLAS_THREADS=$5 "$cli" analyze "--$1" "$data/$2" --tensor "$data/$3" \
            | python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['timings_ms']['forward'])"
    done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'
}

echo "| torch threads | BLAS threads | ViT-B/16 forward (ms) | ResNet-50 forward (ms) |"
echo "|---|---|---|---|"
for t in 1 2; do
    for b in 1 2; do
        vit=$(median_ms vit tv_vit_b_16.pth tv_vit_b_16.ref.safetensors "$t" "$b")
        cnn=$(median_ms cnn tv_resnet50.pth tv_resnet50.ref.safetensors "$t" "$b")
        echo "| $t | $b | $vit | $cnn |"
    done
done
