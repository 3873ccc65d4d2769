#!/usr/bin/env bash
# The measurements of docs/findings.md, reproduced: the four study commands on the shipped
# Fashion-MNIST models (512 test images; the probes on the whole train / t10k split),
# summarised, and the wall time of each on ViT-B/16 + ResNet-50 shapes (torchvision
# architectures, random weights from the test fixtures) over 64 random 224 px images.
# Usage: scripts/study-findings.sh [OUT_DIR]   (after `ctest --preset release`; needs
#        python3-pil and dataset-fashion-mnist). Full JSON goes to OUT_DIR (default
#        /tmp/attnviz-findings).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/attnviz-findings}
cli=build/bin/attnviz-cli
fmnist=/usr/share/datasets/fashion-mnist
data=build/tests/data/reference
[ -f "$data/tv_vit_b_16.pth" ] || { echo "run the tests first: they write $data" >&2; exit 1; }
mkdir -p "$out"
[ -d "$out/fmnist-512" ] || /usr/bin/python3 scripts/export-samples.py --first 512 "$out/fmnist-512" >/dev/null
models=(--vit models/vit-fmnist --cnn models/cnn-fmnist)

"$cli" skip "${models[@]}" --images "$out/fmnist-512" 2>/dev/null >"$out/skip.json"
"$cli" probe "${models[@]}" --data "$fmnist" 2>/dev/null >"$out/probe.json"
"$cli" localize "${models[@]}" --images "$out/fmnist-512" 2>/dev/null >"$out/localize.json"
"$cli" tokens --vit models/vit-fmnist --images "$out/fmnist-512" --csv "$out/heads.csv" 2>/dev/null >"$out/tokens.json"
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
skip = json.load(open(f"{out}/skip.json"))
print("## skip: ratio of norms per addition (spatial; CLS in brackets)")
for role in ("vit", "cnn"):
    for a in skip[role]["additions"]:
        cls = a.get("cls", {}).get("ratio")
        print(f"{role} {a['name']:>10} depth {a['relative_depth']:.3f}  {a['spatial']['ratio']:.3f}"
              + (f"  ({cls:.3f})" if cls is not None else ""))
probe = json.load(open(f"{out}/probe.json"))
print(f"## probe: {probe['train_images']} / {probe['test_images']} images, held-out (train) accuracy")
for role in ("vit", "cnn"):
    for l in probe[role]["layers"]:
        print(f"{role} {l['layer']:>9} {l['pooling']:>4} depth {l['relative_depth']:.3f}  "
              f"{l['test_accuracy']:.4f} ({l['train_accuracy']:.4f})")
loc = json.load(open(f"{out}/localize.json"))
print(f"## localize: {loc['images_used']} images")
for role in ("vit", "cnn"):
    r = loc[role]
    print(f"{role} grid {r['grid']}: diagonal hits {r['diagonal_hits']}/{r['positions']}, "
          f"mean CKA on the diagonal {r['mean_diagonal']}, off it {r['mean_off_diagonal']}")
tokens = json.load(open(f"{out}/tokens.json"))
flagged = [len(i["artifacts"]) for i in tokens["per_image"]]
print(f"## tokens: {tokens['images']} images; artifact tokens per image: median {statistics.median(flagged)}, "
      f"max {max(flagged)}, images with none {sum(1 for f in flagged if f == 0)}")
table = tokens["head_table"]
last = max(r["layer"] for r in table)
for r in table:
    if r["layer"] in (0, last):
        print(f"block {r['layer']} head {r['head']}: distance {r['distance_px']} px, entropy {r['entropy_nats']} nats, "
              f"CLS on artifacts {r['cls_on_artifacts']}")
PY

# Wall time on ViT-B/16 + ResNet-50 shapes: medians of 3 runs, seconds.
[ -d "$out/random-224" ] || /usr/bin/python3 - "$out/random-224" <<'PY'
import os, sys
import numpy as np
from PIL import Image
os.makedirs(sys.argv[1], exist_ok=True)
rng = np.random.default_rng(0)
for i in range(64):
    Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(f"{sys.argv[1]}/{i:03d}.png")
PY
big=(--vit "$data/tv_vit_b_16.pth" --cnn "$data/tv_resnet50.pth")
time_of() {  # command args... -> median seconds of 3 runs
    for _ in 1 2 3; do
        /usr/bin/python3 -c 'import subprocess, sys, time; t = time.monotonic(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(time.monotonic() - t)' "$@"
    done | sort -n | sed -n 2p
}
echo "## ViT-B/16 + ResNet-50 shapes, 64 random 224 px images, $(nproc) cores: median of 3 (s)"
echo "skip     $(time_of "$cli" skip "${big[@]}" --images "$out/random-224")"
echo "localize $(time_of "$cli" localize "${big[@]}" --images "$out/random-224")"
echo "tokens   $(time_of "$cli" tokens --vit "$data/tv_vit_b_16.pth" --images "$out/random-224")"
mkdir -p "$out/random-tree/a" "$out/random-tree/b"
for i in $(seq -f %03g 0 63); do
    ln -sf "$(realpath "$out/random-224/$i.png")" "$out/random-tree/$([ $((10#$i % 2)) = 0 ] && echo a || echo b)/$i.png"
done
echo "probe    $(time_of "$cli" probe "${big[@]}" --data "$out/random-tree" --held-out 0.25)"
