#!/bin/sh
# Writes resources/scenes/: the first ten test scenes of the colour-shapes
# benchmark of seed 2 (one per class; the shipped models were trained on seed 1, so
# they never saw these), each with its object mask beside it as NNNNN-CLASS.mask.png,
# where the window's Trust tab finds it.
# Usage: scripts/export-scenes.sh [CLI]   (CLI: build/bin/attnviz-cli by default)
set -eu
cli=${1:-build/bin/attnviz-cli}
out=resources/scenes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cli" benchmark make --out "$tmp/bench" --count 10 --test-count 10 --seed 2 > /dev/null
mkdir -p "$out"
for scene in "$tmp"/bench/test/*/*.png; do
    class=$(basename "$(dirname "$scene")")
    index=$(basename "$scene" .png)
    cp "$scene" "$out/$index-$class.png"
    cp "$tmp/bench/masks/test/$class/$index.png" "$out/$index-$class.mask.png"
done
ls "$out"
