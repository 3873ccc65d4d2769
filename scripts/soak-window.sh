#!/usr/bin/env bash
# Soak run of the window (issue 14): IMAGES different images (random sizes from 16 to
# 1200 pixels a side, JPEG, PNG, BMP, TIFF and WebP, one in 50 corrupt) opened one after
# another in one window session with the shipped models (build/tests/soak_window, Qt's
# offscreen platform). Prints the resident memory every EVERY images.
# Usage: scripts/soak-window.sh [IMAGES] [EVERY]   (after cmake --build --preset release)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
every=${2:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work" "$count" <<'PY'
import sys
import numpy as np
from PIL import Image
out, count = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
formats = [("jpg", "JPEG"), ("png", "PNG"), ("bmp", "BMP"), ("tif", "TIFF"), ("webp", "WEBP")]
for i in range(count):
    w, h = (int(v) for v in rng.integers(16, 1201, 2))
    small = rng.integers(0, 256, (max(2, h // 40), max(2, w // 40), 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((w, h), Image.BICUBIC)
    ext, fmt = formats[i % len(formats)]
    path = "%s/%04d.%s" % (out, i, ext)
    image.save(path, fmt)
    if i % 50 == 49:  # a corrupt one: cut in half
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
PY
QT_QPA_PLATFORM=offscreen build/tests/soak_window "$work" "$every"
