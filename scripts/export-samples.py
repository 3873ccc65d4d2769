#!/usr/bin/env python3
"""Writes resources/samples/: Fashion-MNIST test images as 28x28 grayscale PNGs.

For each class the first test image of that class, plus the second one for the two
classes that are hardest to tell apart (Shirt vs T-shirt/top), twelve in all. Names
are <test index>-<class>.png. Reads Debian's dataset-fashion-mnist; needs python3-pil.

With --first N it writes the first N test images instead (the folder docs/findings.md
measures on): export-samples.py --first 512 /tmp/fmnist-512
"""
import argparse
import gzip
import os
import sys

from PIL import Image

DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["tshirt-top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
EXTRA = {0: 2, 6: 2}  # class -> how many images


def read(name, offset):
    with gzip.open(os.path.join(DATA, name)) as f:
        return f.read()[offset:]


def main(out, first=0):
    images = read("t10k-images-idx3-ubyte.gz", 16)
    labels = read("t10k-labels-idx1-ubyte.gz", 8)
    os.makedirs(out, exist_ok=True)
    taken = {c: 0 for c in range(10)}
    for index, label in enumerate(labels):
        if first:
            if index >= first:
                break
        elif taken[label] >= EXTRA.get(label, 1):
            continue
        taken[label] += 1
        pixels = images[index * 784:(index + 1) * 784]
        Image.frombytes("L", (28, 28), pixels).save(os.path.join(out, f"{index:04d}-{CLASSES[label]}.png"))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="resources/samples")
    parser.add_argument("--first", type=int, default=0, help="the first N test images instead of one per class")
    args = parser.parse_args()
    sys.exit(main(args.out, args.first))
