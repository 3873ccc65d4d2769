#!/usr/bin/env bash
# What a prompt costs on a CLIP ViT-B/16 (random weights, open_clip layout:
# scripts/prompt_model.py): `attnviz-cli analyze` with 1, 10 and 100 prompts (--text), the
# text tower's time for them (tokenizing included) beside the image's forward pass, and a
# prompt-conditioned view (grad-rollout: the image's backward passes for the prompt's
# score; LeGrad: one block's backward each for the last two blocks). Peak resident memory
# by GNU time. Medians of RUNS, one process per run, all in one run of this script.
# Usage: scripts/benchmark-prompts.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cli=build/bin/attnviz-cli
[ -x "$cli" ] || { echo "build first: $cli" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 scripts/prompt_model.py "$work/clip"
image=resources/samples/0000-ankle-boot.png
median() { sort -g | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }

# run PROMPTS [options] -> "peak_mb text_ms forward_ms view_ms"
run() {
    local count=$1
    shift
    local texts=()
    for i in $(seq "$count"); do texts+=(--text "a photo of object number $i"); done
    : >"$work/runs"
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%M" -o "$work/time" "$cli" analyze --vit "$work/clip" --image "$image" "${texts[@]}" "$@" \
            >"$work/out.json"
        python3 -c "import json,sys; v=json.load(open(sys.argv[1]))['vit']; t=v['timings_ms']
print(int(open(sys.argv[2]).read().split()[-1]) / 1024, v['prompts']['text_ms'], t['forward'], t.get('view', '-'))" \
            "$work/out.json" "$work/time" >>"$work/runs"
    done
    for column in 1 2 3 4; do
        cut -d' ' -f"$column" "$work/runs" | { grep -v -- - || echo -; } | median
        echo -n " "
    done
    echo
}

echo "| prompts | view | peak (MB) | text tower (ms) | image forward (ms) | view (ms) |"
echo "|---|---|---|---|---|---|"
for count in 1 10 100; do
    read -r peak text forward _ < <(run "$count")
    echo "| $count | none | $peak | $text | $forward | |"
done
read -r peak text forward view < <(run 1 --method grad-rollout --class 0)
echo "| 1 | grad-rollout of the prompt | $peak | $text | $forward | $view |"
read -r peak text forward view < <(run 1 --method gradcam --class 0)
echo "| 1 | gradcam of the prompt (last block) | $peak | $text | $forward | $view |"
read -r peak text forward view < <(run 1 --method legrad --class 0)
echo "| 1 | legrad of the prompt (last two blocks) | $peak | $text | $forward | $view |"
