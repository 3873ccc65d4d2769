#!/usr/bin/env bash
# The installed program, as a user gets it: installs a build folder into a temporary
# DESTDIR, runs the *installed* attnviz-cli analyze on a shipped sample with the default
# models and the installed window's --screenshot offscreen, each from another working
# directory; validates the installed desktop entry (desktop-file-validate) and AppStream
# metainfo (appstreamcli); builds the Debian packages with cpack and runs lintian on them
# (no errors allowed). With --headless DIR, also packages DIR (the headless preset's build,
# attnviz-cli alone) and lints it.
#
#   scripts/check-install.sh [--build build] [--headless build-headless]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build
headless=
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$2; shift 2 ;;
        --headless) headless=$2; shift 2 ;;
        *) echo "check-install: unknown option $1" >&2; exit 2 ;;
    esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=/usr
DESTDIR="$work/root" cmake --install "$build" --prefix "$prefix" > "$work/install.log"
installed="$work/root$prefix"
echo "check-install: installed into a DESTDIR ($(du -sh "$installed" | cut -f1))"

cd "$work"  # nothing of the source tree in reach
"$installed/bin/attnviz-cli" --version
"$installed/bin/attnviz-cli" analyze --image "$installed/share/attnviz/samples/0000-ankle-boot.png" > analyze.json
python3 - "$installed" analyze.json <<'EOF'
import json, sys
installed, path = sys.argv[1], sys.argv[2]
result = json.load(open(path))
for role, model in (("vit", "vit-shapes"), ("cnn", "cnn-shapes")):
    want = f"{installed}/share/attnviz/models/{model}"
    got = result[role]["model"]
    assert got == want, f"{role}: {got}, not the installed {want}"
    assert result[role]["top_k"], f"{role}: no predictions"
print("check-install: the installed attnviz-cli analyzed a shipped sample with the shipped models")
EOF
if [ -x "$installed/bin/attnviz" ]; then
    QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$work/config" "$installed/bin/attnviz" --screenshot shot.png 2> gui.log
    python3 - shot.png <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is no PNG"
width, height = struct.unpack(">II", data[16:24])
assert width >= 640 and height >= 400, f"the screenshot is {width}x{height}"
print(f"check-install: the installed window drew a {width}x{height} screenshot")
EOF
    desktop-file-validate "$installed/share/applications/attnviz.desktop"
    appstreamcli validate --no-net "$installed"/share/metainfo/*.metainfo.xml
fi
cd "$root"

# The Debian packages: cpack from the build folder, lintian with no errors.
package() {
    local dir=$1
    rm -f "$dir"/*.deb
    (cd "$dir" && cpack -G DEB > "$work/cpack.log") || { cat "$work/cpack.log"; exit 1; }
    for deb in "$dir"/*.deb; do
        echo "check-install: $(basename "$deb"): $(dpkg-deb -f "$deb" Installed-Size) KiB installed"
    done
    lintian --fail-on error --suppress-tags initial-upload-closes-no-bugs "$dir"/*.deb
}
package "$build"
if [ -n "$headless" ]; then
    package "$headless"
fi
echo "check-install: passed"
