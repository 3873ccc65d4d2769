#!/usr/bin/env bash
# Median forward time (ms) of every model family at 224x224, batch 1, CPU, default
# threads, as `attnviz-cli analyze` reports it. Models: the test fixtures (random
# weights): torchvision ViT-B/16 and ResNet-50 (tests/data/reference), the torchvision
# CNN families at their real sizes (tests/data/cnn; ResNeXt, Wide ResNet, VGG and
# ConvNeXt there are reduced, so they are left out).
# Usage: scripts/benchmark-families.sh [RUNS] [BASELINE_CLI]   (after `ctest --preset release`)
# With BASELINE_CLI (another build's attnviz-cli, e.g. of an earlier commit), the ViT-B/16
# and ResNet-50 rows are also measured with it, runs alternating between the two builds.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
cli=build/bin/attnviz-cli
baseline=${2:-}
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

# Medians of the two builds, their runs alternating: "new | baseline"
paired_ms() {  # role model
    local times
    times=$(for _ in $(seq "$runs"); do
        for which in new baseline; do
            exe=$cli; [ "$which" = baseline ] && exe=$baseline
            printf '%s ' "$which"
            "$exe" analyze "--$1" "$2" --image "$image" \
                | python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['timings_ms']['forward'])"
        done
    done)
    for which in new baseline; do
        echo "$times" | awk -v w="$which" '$1 == w {print $2}' | sort -n \
            | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'
        [ "$which" = new ] && printf ' | '
    done
}

if [ -n "$baseline" ]; then
    echo "| model | forward (ms) | baseline forward (ms) |"
    echo "|---|---|---|"
    echo "| ViT-B/16 (torchvision) | $(paired_ms vit "$ref/tv_vit_b_16.pth") |"
    echo "| ResNet-50 (torchvision) | $(paired_ms cnn "$ref/tv_resnet50.pth") |"
else
    echo "| model | forward (ms) |"
    echo "|---|---|"
    echo "| ViT-B/16 (torchvision) | $(median_ms vit "$ref/tv_vit_b_16.pth") |"
    echo "| ResNet-50 (torchvision) | $(median_ms cnn "$ref/tv_resnet50.pth") |"
fi
for m in densenet121 mobilenet_v2 mobilenet_v3_large mobilenet_v3_small efficientnet_b0 efficientnet_v2_s \
         regnet_x_400mf regnet_y_400mf; do
    if [ -f "$cnn/tv_$m.pth" ]; then
        echo "| $m | $(median_ms cnn "$cnn/tv_$m.pth")$([ -n "$baseline" ] && echo " | –") |"
    fi
done
