#!/usr/bin/env bash
# GUI monkey test: drives the real attnviz window under Xvfb with seeded random input
# (tests/monkey/monkey.py) and fails on a crash, a sanitizer report, or a window that
# does not answer for more than 5 s. Meant for the ASan build; see docs/robustness.md.
# Usage: scripts/monkey.sh [--seconds N] [--seed S] [--build DIR] [monkey.py options]
#   (defaults: 60 s, a seed from the clock, build-asan; --help lists the rest)
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in Xvfb xdotool; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
# Debian's python3 (python3-xlib); a pyenv or venv python3 earlier on PATH lacks it.
/usr/bin/python3 -c 'import Xlib' 2>/dev/null || missing+=("python3-xlib")
if [ ${#missing[@]} -gt 0 ]; then
    echo "monkey: missing ${missing[*]}: run scripts/install-deps.sh" >&2
    exit 2
fi
exec /usr/bin/python3 tests/monkey/monkey.py "$@"
