#!/usr/bin/env bash
# A cold `attnviz-cli analyze` against eager PyTorch doing the same (scripts/analyze_reference.py),
# ViT-B/16 + ResNet-50 (torchvision architectures, random weights from the test fixtures,
# .pth files as torch.save writes them), one 640x480 JPEG, CPU, default threads. RUNS
# alternating pairs; medians of: the whole process's wall time and peak resident memory
# (GNU time), each model's load time as analyze reports it (both loaded at once, and each
# alone in a process of its own), and one plain read of each
# checkpoint into fresh memory (Python's f.read(), timed in-process) for comparison, and
# attnviz-cli started with no command (loading its libraries, then the usage text).
# The files stay in the page cache throughout: this measures the work, not the disk.
# Usage: scripts/benchmark-start.sh [RUNS]   (after `ctest --preset release` made the fixtures)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-9}
cli=build/bin/attnviz-cli
data=build/tests/data/reference
vit=$data/tv_vit_b_16.pth
cnn=$data/tv_resnet50.pth
[ -f "$vit" ] || { echo "run the tests first: they write $data" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 - "$work/image.jpg" <<'PY'
import sys
import numpy as np
from PIL import Image
small = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
Image.fromarray(small).resize((640, 480), Image.BICUBIC).save(sys.argv[1], quality=90)
PY

read_ms() {  # one read of the whole file into a fresh bytes object
    /usr/bin/python3 -c "import sys, time
t = time.perf_counter(); data = open(sys.argv[1], 'rb').read(); print(1000 * (time.perf_counter() - t))" "$1"
}

for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$cli" analyze --vit "$vit" --cnn "$cnn" --image "$work/image.jpg" > "$work/out.json"
    read -r wall rss < "$work/time"
    loads=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['vit']['timings_ms']['load'], d['cnn']['timings_ms']['load'])" "$work/out.json")
    echo "ours $wall $rss $loads" >> "$work/runs"
    /usr/bin/time -f "%e %M" -o "$work/time" /usr/bin/python3 scripts/analyze_reference.py "$vit" "$cnn" "$work/image.jpg" > /dev/null
    read -r wall rss < "$work/time"
    echo "python $wall $rss" >> "$work/runs"
    echo "read $(read_ms "$vit") $(read_ms "$cnn")" >> "$work/runs"
    for role in vit cnn; do  # each checkpoint loaded alone, not beside the other
        model=$vit; [ "$role" = cnn ] && model=$cnn
        "$cli" analyze "--$role" "$model" --image "$work/image.jpg" > "$work/alone.json"
        echo "alone-$role $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['$role']['timings_ms']['load'])" "$work/alone.json")" >> "$work/runs"
    done
    /usr/bin/time -f "%e %M" -o "$work/time" "$cli" > /dev/null 2>&1 || true  # usage only: the start's floor
    echo "bare $(tail -n 1 "$work/time")" >> "$work/runs"  # after "Command exited with non-zero status 2"
done

# median of column $2 over the lines that start with $1
median() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$work/runs" | sort -g \
    | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

ours=$(median ours 2); python=$(median python 2)
ours_rss=$(median ours 3); python_rss=$(median python 3)
weights=$(( $(stat -c %s "$vit") + $(stat -c %s "$cnn") ))
echo "| | attnviz-cli analyze | eager PyTorch | ratio |"
echo "|---|---|---|---|"
echo "| whole process (s) | $ours | $python | $(ratio "$ours" "$python") |"
echo "| the process with no command (s) | $(median bare 2) | | |"
echo "| peak resident memory (MB) | $(mb $((${ours_rss%.*} * 1024))) | $(mb $((${python_rss%.*} * 1024))) | $(ratio "$ours_rss" "$python_rss") |"
echo
echo "Weights: $(mb "$weights") MB; 1.3 × weights + 200 MB = $(awk -v w="$weights" 'BEGIN {printf "%.1f", 1.3 * w / 1e6 + 200}') MB."
echo
echo "| checkpoint | MB | one plain read (ms) | attnviz load, alone (ms) | ratio | attnviz load, beside the other (ms) | ratio |"
echo "|---|---|---|---|---|---|---|"
vit_read=$(median read 2); cnn_read=$(median read 3)
vit_load=$(median ours 4); cnn_load=$(median ours 5)
vit_alone=$(median alone-vit 2); cnn_alone=$(median alone-cnn 2)
echo "| ViT-B/16 (.pth) | $(mb "$(stat -c %s "$vit")") | $vit_read | $vit_alone | $(ratio "$vit_alone" "$vit_read") | $vit_load | $(ratio "$vit_load" "$vit_read") |"
echo "| ResNet-50 (.pth) | $(mb "$(stat -c %s "$cnn")") | $cnn_read | $cnn_alone | $(ratio "$cnn_alone" "$cnn_read") | $cnn_load | $(ratio "$cnn_load" "$cnn_read") |"
