#!/usr/bin/env python3
"""docs/methods.md's table of view methods is the method table itself: the block between
its markers must equal what `attnviz-cli methods --markdown` prints, and the CLI's help
must name every method. Fails with the difference otherwise."""
import argparse
import difflib
import json
import subprocess
import sys

BEGIN = "<!-- methods-table: begin (attnviz-cli methods --markdown) -->"
END = "<!-- methods-table: end -->"


def documented_block(path):
    text = open(path, encoding="utf-8").read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{path}: no methods table between '{BEGIN}' and '{END}'")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--doc", required=True)
    args = parser.parse_args()
    printed = subprocess.run([args.cli, "methods", "--markdown"], check=True, capture_output=True, text=True).stdout
    documented = documented_block(args.doc)
    if printed != documented:
        diff = difflib.unified_diff(documented.splitlines(), printed.splitlines(), "docs/methods.md", "attnviz-cli", lineterm="")
        sys.exit("docs/methods.md's methods table differs from the method table:\n" + "\n".join(diff))
    names = [m["name"] for m in json.loads(subprocess.run([args.cli, "methods"], check=True, capture_output=True, text=True).stdout)]
    usage = subprocess.run([args.cli, "--help"], check=True, capture_output=True, text=True).stdout
    missing = [n for n in names if n not in usage]
    if missing:
        sys.exit("attnviz-cli --help does not name " + ", ".join(missing))
    print(f"methods table: {len(names)} methods, docs/methods.md and --help agree")


if __name__ == "__main__":
    main()
