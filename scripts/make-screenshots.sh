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
# The first start: the colour models on a benchmark scene with its mask.
shot window
shot window-trust --plot trust
# A test-time register on the test ViT with a planted artifact (tests/fixtures/registers).
shot window-register resources/samples/0000-ankle-boot.png --vit tests/fixtures/registers/planted_vit --plot tokens --test-time-register
# The Fashion-MNIST models, which the window guide's other pictures show.
fmnist=(--vit models/vit-fmnist --cnn models/cnn-fmnist)
shot window-click resources/samples/0000-ankle-boot.png "${fmnist[@]}" --click 0.6,0.75
shot window-fields resources/samples/0008-sandal.png "${fmnist[@]}" --plot fields
shot window-predictions resources/samples/0006-coat.png "${fmnist[@]}" --plot predictions
shot window-cka resources/samples/0000-ankle-boot.png --images resources/samples "${fmnist[@]}" --plot cka
# The study's plots (docs/findings.md): the plots dock cut out of the window.
dock() {  # name -> the same PNG cut to the dock (from its title bar to the status bar)
    /usr/bin/python3 -c 'import sys; from PIL import Image; i = Image.open(sys.argv[1]); i.crop((0, i.height - 330, i.width, i.height - 26)).save(sys.argv[1])' "$out/$1.png"
}
findings=$(mktemp -d)
/usr/bin/python3 scripts/export-samples.py --first 512 "$findings/fmnist-512" >/dev/null
shot study-skip resources/samples/0000-ankle-boot.png "${fmnist[@]}" --plot skip && dock study-skip
shot study-tokens resources/samples/0000-ankle-boot.png "${fmnist[@]}" --plot tokens && dock study-tokens
shot study-localization resources/samples/0000-ankle-boot.png "${fmnist[@]}" --localize "$findings/fmnist-512" --plot localization && dock study-localization
shot study-probes resources/samples/0000-ankle-boot.png "${fmnist[@]}" --probe /usr/share/datasets/fashion-mnist --plot probes && dock study-probes
rm -rf "$findings"
# The layout at real-model scale: ViT-B/16 (12 blocks x 12 heads) and ResNet-50 with the
# random weights the reference tests make (run the tests first).
reference=build/tests/data/reference
if [ -f "$reference/tv_vit_b_16.pth" ] && [ -f "$reference/tv_resnet50.pth" ]; then
    shot window-vit-b16 resources/samples/0000-ankle-boot.png --vit "$reference/tv_vit_b_16.pth" --cnn "$reference/tv_resnet50.pth" --click 0.5,0.6
else
    echo "skipped window-vit-b16: $reference has no tv_vit_b_16.pth / tv_resnet50.pth (run ctest first)" >&2
fi
echo "screenshots written to $out"
