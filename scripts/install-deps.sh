#!/usr/bin/env bash
# Installs what attnviz needs to build, run and test on Debian bookworm, from Debian's
# own packages. Idempotent and non-interactive; works as root or through sudo.
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config
    libtorch-dev libopenblas0-pthread
    qt6-base-dev qt6-charts-dev libqt6opengl6-dev qt6-image-formats-plugins
    libopencv-dev nlohmann-json3-dev zlib1g-dev libicu-dev libsentencepiece-dev
    python3-torch python3-torchvision python3-numpy python3-sentencepiece
    dataset-fashion-mnist
    xvfb xauth xdotool python3-xlib
    clang libclang-rt-14-dev
    clang-format clang-tidy
    help2man desktop-file-utils appstream lintian dpkg-dev file
    slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
    sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
