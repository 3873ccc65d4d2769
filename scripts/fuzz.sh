#!/usr/bin/env bash
# Builds the libFuzzer targets (cmake --preset fuzz: clang, ASan + UBSan) and runs each
# for SECONDS, starting from its committed seeds (tests/fuzz/seeds/<target>) with the
# shared dictionary; the corpus grows in a scratch copy, never in the tree. A crash, leak,
# sanitizer report, timeout (10 s per input) or an input that needs over 2 GB fails the
# run: the input is kept as build-fuzz/findings/<target>/crash-* (or leak-, timeout-, oom-).
# Prints one line per target: executions, coverage, corpus size, result.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default 30 s, every target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_checkpoint fuzz_config fuzz_idx fuzz_image fuzz_pngtext)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Quiet unless the build fails; then its output says why.
if ! { cmake --preset fuzz && cmake --build --preset fuzz; } > "$work/build.log" 2>&1; then
    cat "$work/build.log"
    echo "fuzz.sh: the fuzz targets did not build (clang and libclang-rt-14-dev installed?)" >&2
    exit 1
fi
status=0
for target in "${targets[@]}"; do
    seeds=tests/fuzz/seeds/${target#fuzz_}
    findings=build-fuzz/findings/$target
    mkdir -p "$work/$target" "$findings"
    cp "$seeds"/* "$work/$target/"
    log=$work/$target.log
    if (cd "$work" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$OLDPWD/build-fuzz/fuzz/$target" "$work/$target" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -dict="$OLDPWD/tests/fuzz/attnviz.dict" -artifact_prefix="$OLDPWD/$findings/" \
        -print_final_stats=1 > "$log" 2>&1); then
        result=ok
    else
        result="FINDING (see $findings and the log below)"
        status=1
    fi
    runs=$(grep -o '^stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || true)
    echo "$target: $seconds s, $runs executions, $last: $result"
    [ "$result" = ok ] || tail -40 "$log"
done
exit $status
