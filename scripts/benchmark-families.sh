#!/usr/bin/env bash
# Median forward time (ms) of every model family at 224x224, batch 1, CPU, default
# threads, as `attnviz-cli analyze` reports it. Models: the test fixtures (random
# weights): torchvision ViT-B/16 and ResNet-50 (tests/data/reference), the torchvision
# CNN families at their real sizes (tests/data/cnn; ResNeXt, Wide ResNet, VGG and
# ConvNeXt there are reduced, so they are left out).
# Usage: scripts/benchmark-families.sh [RUNS] [CLI]   (after `ctest --preset release`)
# CLI defaults to build/bin/attnviz-cli; give another build's to compare two in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
cli=${2:-build/bin/attnviz-cli}
ref=build/tests/data/reference
cnn=build/tests/data/cnn
image=resources/samples/0000-ankle-boot.png
[ -f "$ref/tv_vit_b_16.pth" ] && [ -f "$cnn/tv_densenet121.pth" ] || { echo "run the tests first: they write $ref and $cnn" >&2; exit 1; }

median_ms() {  # role model
    for _ in $(seq "$runs"); do
        "$cli" analyze "--$1" "$2" --image "$image" \
            | python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['timings_ms']['forward'])"
    done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'
}

echo "| model | forward (ms) |"
echo "|---|---|"
echo "| ViT-B/16 (torchvision) | $(median_ms vit "$ref/tv_vit_b_16.pth") |"
echo "| ResNet-50 (torchvision) | $(median_ms cnn "$ref/tv_resnet50.pth") |"
for m in densenet121 mobilenet_v2 mobilenet_v3_large mobilenet_v3_small efficientnet_b0 efficientnet_v2_s \
         regnet_x_400mf regnet_y_400mf; do
    [ -f "$cnn/tv_$m.pth" ] && echo "| $m | $(median_ms cnn "$cnn/tv_$m.pth") |"
done
