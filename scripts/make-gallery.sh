#!/usr/bin/env bash
# Regenerates the figures in docs/views.md from the shipped models and samples.
# Usage: bash scripts/make-gallery.sh [build/bin/attnviz-cli]
set -euo pipefail
cli=${1:-build/bin/attnviz-cli}
out=docs/images
mkdir -p "$out"
for sample in 0000-ankle-boot 0002-trouser 0008-sandal 0018-bag; do
    image=resources/samples/$sample.png
    for method in attention rollout grad-rollout generic-attention transformer-attribution gradcam; do
        "$cli" analyze --vit models/vit-fmnist --image "$image" --method "$method" --no-colorbar --out-dir "$out" >/dev/null
    done
    "$cli" analyze --cnn models/cnn-fmnist --image "$image" --method gradcam --no-colorbar --out-dir "$out" >/dev/null
done
# The CAM family on one image, both models.
for method in gradcam gradcam++ xgradcam hirescam layercam eigencam scorecam ablationcam; do
    "$cli" analyze --vit models/vit-fmnist --cnn models/cnn-fmnist --image resources/samples/0000-ankle-boot.png \
        --method "$method" --no-colorbar --out-dir "$out/cams" >/dev/null
done
"$cli" analyze --vit models/vit-fmnist --image resources/samples/0000-ankle-boot.png --method attention \
    --layer all --head all --normalize layer --out-dir "$out/montage" >/dev/null
"$cli" analyze --cnn models/cnn-fmnist --image resources/samples/0000-ankle-boot.png --method gradcam \
    --layer all --out-dir "$out/montage" >/dev/null
"$cli" erf --cnn models/cnn-fmnist --images resources/samples --layer layer3 --at 3,3 --out-dir "$out" >/dev/null
"$cli" erf --vit models/vit-fmnist --images resources/samples --layer 0 --at 3,3 --out-dir "$out" >/dev/null
"$cli" cka --vit models/vit-fmnist --cnn models/cnn-fmnist --images resources/samples --batch-size 6 --out-dir "$out" >/dev/null
# Prompts on the colour CLIP: each prompt's map, three methods, two scenes (--class picks the prompt).
for scene in 00007-star 00005-ring; do
    for class in 0 1 2; do
        prompts=("a star" "a ring" "a triangle")
        for method in legrad generic-attention gradcam; do
            "$cli" analyze --vit models/clip-shapes --image "resources/scenes/$scene.png" --text "${prompts[0]}" \
                --text "${prompts[1]}" --text "${prompts[2]}" --class "$class" --method "$method" --no-colorbar \
                --out-dir "$out/prompts/${prompts[$class]// /-}" >/dev/null
        done
    done
done
# Input attributions on the colour-shape models: two scenes, both models, the Captum family.
for scene in 00001-crescent 00007-star; do
    for method in saliency integrated-gradients smoothgrad occlusion; do
        "$cli" analyze --vit models/vit-shapes --cnn models/cnn-shapes --image "resources/scenes/$scene.png" \
            --method "$method" --no-colorbar --out-dir "$out/attributions" >/dev/null
    done
done
# Patch similarity to the star's patch (row 1, column 5 of the 8x8 grids), every ViT block and the
# CNN's layer3, and the ViT's logit lens block by block, on the star scene.
"$cli" analyze --vit models/vit-shapes --image resources/scenes/00007-star.png --method similarity --query 1,5 \
    --layer all --out-dir "$out/features" >/dev/null
"$cli" analyze --cnn models/cnn-shapes --image resources/scenes/00007-star.png --method similarity --query 1,5 \
    --layer layer3 --out-dir "$out/features" >/dev/null
"$cli" analyze --vit models/vit-shapes --image resources/scenes/00007-star.png --method logit-lens --layer all \
    --out-dir "$out/features" >/dev/null
for role in vit cnn; do
    model=models/$role-shapes
    "$cli" analyze "--$role" "$model" --image resources/scenes/00007-star.png --method pca --layer all \
        --out-dir "$out/features" >/dev/null
done
echo "figures written to $out"
