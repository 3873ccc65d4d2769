#!/usr/bin/env bash
# Checks the C++ files of core/ ui/ app/ tests/ changed since BASE: clang-format (.clang-format)
# and clang-tidy (.clang-tidy; ui/.clang-tidy is stricter). Prints one line per finding,
# file:line:col: [check] message, and a summary; exits 1 on any finding, 2 when it cannot run.
# Usage: scripts/lint.sh [--all] [--format-only] [BASE]
#   BASE    a commit; the files changed between it and the working tree (committed or not,
#           plus untracked ones) are checked. Default: the merge base with origin/main (else
#           main); where HEAD is that branch's tip, as in CI's clean clone of main, HEAD~1,
#           i.e. the files of the last commit.
#   --all   every file: clang-format takes 2 s, clang-tidy about 45 s of CPU per source that
#           includes LibTorch (105 of 146) and a few otherwise, some 80 CPU-minutes in all.
#   --format-only  no clang-tidy (and no configure).
# A finding of clang-tidy in a header counts when the header is one of the files checked;
# a header is checked through its own .cpp, or else through a source that includes it.
# clang-tidy reads a compile database from its own build dir, configured here, never built:
# LINT_BUILD_DIR (default build-lint), clang++, the fuzz targets on, no unity build (an entry
# per source). The precompiled header is included as text (the window's test needs LibTorch
# before Qt's `slots` macro) and the Qt Test sources' .moc files are empty stubs: clang-tidy
# parses, nothing is built or linked.
# LINT_JOBS: parallel clang-tidy runs (default 2).
# Installs nothing: scripts/install-deps.sh lists clang-format, clang-tidy and clang.
set -euo pipefail
cd "$(dirname "$0")/.."

all=0
tidy=1
base=
for arg in "$@"; do
    case "$arg" in
    --all) all=1 ;;
    --format-only) tidy=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "lint: unknown option $arg" >&2; exit 2 ;;
    *) base=$arg ;;
    esac
done
build=${LINT_BUILD_DIR:-build-lint}
jobs=${LINT_JOBS:-2}
started=$SECONDS

need=(clang-format git python3)
[ $tidy -eq 0 ] || need+=(clang-tidy clang++ cmake ninja)
for tool in "${need[@]}"; do
    command -v "$tool" > /dev/null || { echo "lint: $tool not found (scripts/install-deps.sh)" >&2; exit 2; }
done

dirs=(core ui app tests)
if [ $all -eq 1 ]; then
    what="(all)"
    mapfile -t files < <({ git ls-files -- "${dirs[@]}"; git ls-files -o --exclude-standard -- "${dirs[@]}"; } \
        | grep -E '\.(cpp|h)$' | sort -u)
else
    if [ -z "$base" ]; then
        upstream=
        for ref in origin/main main; do
            git rev-parse -q --verify "$ref^{commit}" > /dev/null && { upstream=$ref; break; }
        done
        if [ -n "$upstream" ] && [ "$(git merge-base HEAD "$upstream")" != "$(git rev-parse HEAD)" ]; then
            base=$(git merge-base HEAD "$upstream")
        elif git rev-parse -q --verify 'HEAD~1^{commit}' > /dev/null; then
            base=HEAD~1
        else
            echo "lint: HEAD has no parent here (a shallow clone?): every file is new" >&2
            base=$(git hash-object -t tree /dev/null)
        fi
    fi
    git rev-parse -q --verify "$base^{object}" > /dev/null || { echo "lint: unknown BASE $base" >&2; exit 2; }
    what="(changed since $(git rev-parse --short "$base"))"
    mapfile -t files < <({ git diff --name-only --diff-filter=d "$base" -- "${dirs[@]}"
        git ls-files -o --exclude-standard -- "${dirs[@]}"; } | grep -E '\.(cpp|h)$' | sort -u)
fi
if [ ${#files[@]} -eq 0 ]; then
    echo "lint: no C++ files $what"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s\n' "${files[@]}" > "$work/files"

# clang-format: one line per place it would change.
clang-format --dry-run --Werror "${files[@]}" > "$work/format.log" 2>&1 || true

# clang-tidy: the sources that stand for the files checked, in parallel, one log each.
: > "$work/sources"
if [ $tidy -eq 1 ]; then
    if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++$' "$build/CMakeCache.txt"; then
        echo "lint: $build is a build dir of another compiler; LINT_BUILD_DIR must name one of its own" >&2
        exit 2
    fi
    if ! cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DATTNVIZ_BUILD_FUZZERS=ON \
        -DATTNVIZ_UNITY_BUILD=OFF -DCMAKE_DISABLE_PRECOMPILE_HEADERS=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$work/cmake.log" 2>&1; then
        cat "$work/cmake.log"
        echo "lint: configuring $build for its compile database failed" >&2
        exit 2
    fi
    # One entry per source (the fuzz target recompiles some core/ sources); the precompiled
    # header, never built, included as text instead; the .moc stubs; the sources to check.
    python3 - "$build" "$work" << 'EOF'
import json, os, re, shlex, sys
build, work = sys.argv[1:]
root = os.getcwd()
entries, seen = [], set()
db = json.load(open(os.path.join(build, "compile_commands.json")))
for e in sorted(db, key=lambda e: "/fuzz/" in e.get("output", "")):
    f = os.path.relpath(os.path.join(e["directory"], e["file"]), root)
    if f.startswith("..") or f.startswith(build + "/") or f in seen:
        continue
    seen.add(f)
    command = e.pop("command", None) or shlex.join(e.pop("arguments"))
    command = re.sub(r" -Xclang -include-pch -Xclang \S+", "", command)
    command = re.sub(r" -Xclang -include -Xclang (\S+)", r" -include \1", command)
    e["command"] = command.replace(" -Winvalid-pch", "")
    entries.append(e)
    text = open(f, encoding="utf-8", errors="replace").read()
    for moc in re.findall(r'^#include "([^"/]+\.moc)"', text, re.M):
        inc = re.search(r"-I(\S+_autogen/include)", command)
        if inc:
            os.makedirs(inc.group(1), exist_ok=True)
            stub = os.path.join(inc.group(1), moc)
            if not os.path.exists(stub):
                open(stub, "w").close()
os.makedirs(os.path.join(build, "tidy"), exist_ok=True)
json.dump(entries, open(os.path.join(build, "tidy", "compile_commands.json"), "w"), indent=1)
sources = sorted(seen)
picked = []
for f in open(os.path.join(work, "files")).read().split():
    if f.endswith(".cpp"):
        if f in seen:
            picked.append(f)
        else:
            print("lint: %s is in no target, clang-tidy cannot check it" % f, file=sys.stderr)
        continue
    stem = f[:-2] + ".cpp"
    if stem in seen:
        picked.append(stem)
        continue
    for s in sources:
        if re.search(r'^#include "%s"' % re.escape(f), open(s, encoding="utf-8", errors="replace").read(), re.M):
            picked.append(s)
            break
    else:
        print("lint: no source includes %s, clang-tidy cannot check it" % f, file=sys.stderr)
open(os.path.join(work, "sources"), "w").write("".join(p + "\n" for p in dict.fromkeys(picked)))
EOF
    mkdir -p "$work/tidy"
    tidy_started=$SECONDS
    # shellcheck disable=SC2016
    xargs -a "$work/sources" -r -P "$jobs" -I{} sh -c \
        'log="$2/$(echo "$3" | tr / _)"; clang-tidy -p "$1" --quiet --warnings-as-errors="*" "$3" > "$log.log" 2>&1; echo $? > "$log.rc"' \
        _ "$build/tidy" "$work/tidy" {}
    tidy_seconds=$((SECONDS - tidy_started))
fi

python3 - "$work" "$all" "$what" "$((SECONDS - started))" "${tidy_seconds:-0}" "$tidy" << 'EOF'
import collections, os, re, sys
work, everything, what, seconds, tidy_seconds, tidy = sys.argv[1:]
root = os.getcwd()
checked = set(open(os.path.join(work, "files")).read().split())
sources = open(os.path.join(work, "sources")).read().split()
diag = re.compile(r"^(.+?):(\d+):(\d+): (warning|error): (.*?)(?: \[([^\]]+)\])?$")

def rel(path):
    return os.path.relpath(os.path.join(root, path), root)

format_findings = []
for line in open(os.path.join(work, "format.log"), errors="replace"):
    m = diag.match(line.rstrip("\n"))
    if m:
        format_findings.append("%s:%s:%s: [clang-format] code should be clang-formatted" % (rel(m[1]), m[2], m[3]))

tidy_findings, per_check, failed = {}, collections.Counter(), []
for source in sources:
    log = os.path.join(work, "tidy", source.replace("/", "_"))
    lines = open(log + ".log", errors="replace").read().splitlines()
    rc = int(open(log + ".rc").read() or 1)
    seen_here = 0
    for i, line in enumerate(lines):
        m = diag.match(line)
        if not m or m[6] is None:
            continue
        path, check = rel(m[1]), m[6].replace(",-warnings-as-errors", "")
        seen_here += 1
        # Compile errors count wherever they are; findings only in the files checked.
        if not (check.startswith("clang-diagnostic-error") or everything == "1" or path in checked):
            continue
        text = m[5]
        if check == "readability-function-size":
            for note in lines[i + 1:i + 4]:
                n = re.search(r"note: (\d+) lines including whitespace and comments \(threshold (\d+)\)", note)
                if n:
                    text += " (%s lines, at most %s)" % (n[1], n[2])
                    break
        key = "%s:%s:%s: [%s] %s" % (path, m[2], m[3], check, text)
        if key not in tidy_findings:
            tidy_findings[key] = check
            per_check[check] += 1
    if rc not in (0, 1) or (rc == 1 and seen_here == 0):
        failed.append(source)
        sys.stderr.write("lint: clang-tidy failed on %s (exit %d):\n%s\n" % (source, rc, "\n".join(lines[-20:])))

for line in format_findings + sorted(tidy_findings):
    print(line)
format_files = len({f.split(":")[0] for f in format_findings})
tidy_summary = "skipped (--format-only)" if tidy == "0" else "%d findings in %d sources%s%s, %s s" % (
    len(tidy_findings), len(sources),
    " (" + ", ".join("%s %d" % kv for kv in per_check.most_common()) + ")" if per_check else "",
    ", failed on %d" % len(failed) if failed else "", tidy_seconds)
print("lint: %d files %s; clang-format: %d findings in %d files%s; clang-tidy: %s; %s s in all"
      % (len(checked), what, len(format_findings), format_files,
         " (clang-format -i FILE... fixes them)" if format_findings else "", tidy_summary, seconds))
sys.exit(1 if format_findings or tidy_findings or failed else 0)
EOF
