#!/usr/bin/env bash
# Regenerates the window screenshots in docs/window.md and the README with
# `attnviz --screenshot`, offscreen and with fresh settings (default size and layout).
# Usage: bash scripts/make-screenshots.sh [build/bin/attnviz]
set -euo pipefail
app=${1:-build/bin/attnviz}
out=docs/images
mkdir -p "$out"
settings=$(mktemp -d)
trap 'rm -rf "$settings"' EXIT
shot() {
    local name=$1
    shift
    rm -rf "${settings:?}"/*
    QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$settings" "$app" "$@" --screenshot "$out/$name.png" 2>/dev/null
}
shot window
shot window-click --click 0.6,0.75
shot window-fields resources/samples/0008-sandal.png --plot fields
shot window-predictions resources/samples/0006-coat.png --plot predictions
shot window-cka --images resources/samples --plot cka
# The layout at real-model scale: ViT-B/16 (12 blocks x 12 heads) and ResNet-50 with the
# random weights the reference tests make (run the tests first).
reference=build/tests/data/reference
if [ -f "$reference/tv_vit_b_16.pth" ] && [ -f "$reference/tv_resnet50.pth" ]; then
    shot window-vit-b16 --vit "$reference/tv_vit_b_16.pth" --cnn "$reference/tv_resnet50.pth" --click 0.5,0.6
else
    echo "skipped window-vit-b16: $reference has no tv_vit_b_16.pth / tv_resnet50.pth (run ctest first)" >&2
fi
echo "screenshots written to $out"
