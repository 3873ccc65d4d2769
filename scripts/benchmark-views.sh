#!/usr/bin/env bash
# Median time (ms) of each view after the cached forward pass, for ViT-B/16 and
# ResNet-50 (torchvision architectures, random weights from the test fixtures),
# batch 1, 224x224, CPU, default threads. The forward time of the same runs is given
# for scale: gradient methods add one differentiable forward and one backward.
# Usage: scripts/benchmark-views.sh [RUNS]   (after `ctest --preset release` made the fixtures)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cli=build/bin/attnviz-cli
data=build/tests/data/reference
[ -f "$data/tv_vit_b_16.pth" ] || { echo "run the tests first: they write $data" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }

# role model reference view-options... -> "forward_median view_median"
measure() {
    local role=$1 model=$2 ref=$3
    shift 3
    local log
    log=$(mktemp)
    for _ in $(seq "$runs"); do
        "$cli" analyze "--$role" "$data/$model" --tensor "$data/$ref" "$@" \
            | python3 -c "import json,sys; t=json.load(sys.stdin)['$role']['timings_ms']; print(t['forward'], t['view'])"
    done >"$log"
    echo "$(cut -d' ' -f1 "$log" | median) $(cut -d' ' -f2 "$log" | median)"
    rm -f "$log"
}

row() {  # label role model ref options...
    local label=$1
    shift
    read -r fwd view < <(measure "$@")
    echo "| $label | $fwd | $view |"
}

vit=(vit tv_vit_b_16.pth tv_vit_b_16.ref.safetensors)
cnn=(cnn tv_resnet50.pth tv_resnet50.ref.safetensors)
echo "| view | forward (ms) | view (ms) |"
echo "|---|---|---|"
row "ViT-B/16 attention, last block, head mean" "${vit[@]}" --method attention
row "ViT-B/16 attention, 12 blocks x 12 heads" "${vit[@]}" --method attention --layer all --head all
row "ViT-B/16 rollout" "${vit[@]}" --method rollout
row "ViT-B/16 grad-rollout" "${vit[@]}" --method grad-rollout
row "ViT-B/16 generic-attention" "${vit[@]}" --method generic-attention
row "ViT-B/16 transformer-attribution" "${vit[@]}" --method transformer-attribution
row "ViT-B/16 Grad-CAM, last block" "${vit[@]}" --method gradcam
row "ViT-B/16 Grad-CAM, all 12 blocks (one backward)" "${vit[@]}" --method gradcam --layer all
row "ViT-B/16 Grad-CAM++, last block" "${vit[@]}" --method gradcam++
row "ViT-B/16 Eigen-CAM, last block" "${vit[@]}" --method eigencam
row "ViT-B/16 Ablation-CAM, last block (768 channels)" "${vit[@]}" --method ablationcam
row "ResNet-50 Grad-CAM, layer4" "${cnn[@]}" --method gradcam
row "ResNet-50 Grad-CAM, all 6 stages (one backward)" "${cnn[@]}" --method gradcam --layer all
row "ResNet-50 Ablation-CAM, layer4 (2048 channels)" "${cnn[@]}" --method ablationcam
row "ResNet-50 Score-CAM, layer1 (256 channels)" "${cnn[@]}" --method scorecam --layer layer1
row "ViT-B/16 saliency" "${vit[@]}" --method saliency
row "ViT-B/16 integrated-gradients, 50 steps" "${vit[@]}" --method integrated-gradients
row "ViT-B/16 smoothgrad, 50 samples" "${vit[@]}" --method smoothgrad
row "ViT-B/16 occlusion, 16 px every 8 (27 x 27 windows)" "${vit[@]}" --method occlusion
row "ViT-B/16 similarity, last block" "${vit[@]}" --method similarity
row "ViT-B/16 logit-lens, 12 blocks" "${vit[@]}" --method logit-lens --layer all
row "ResNet-50 saliency" "${cnn[@]}" --method saliency
row "ResNet-50 integrated-gradients, 50 steps" "${cnn[@]}" --method integrated-gradients
row "ResNet-50 smoothgrad, 50 samples" "${cnn[@]}" --method smoothgrad
row "ResNet-50 occlusion, 16 px every 8 (27 x 27 windows)" "${cnn[@]}" --method occlusion
row "ResNet-50 similarity, layer4" "${cnn[@]}" --method similarity
