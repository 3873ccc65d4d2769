#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/seeds/<target>/) from real
files: checkpoints written by torch.save and by timm's safetensors export (cut to their
smallest tensors so that seeds stay small), config files of timm, HF and open_clip models
from tests/fixtures, images of the hostile corpus, the first images of Fashion-MNIST,
and PNGs with text chunks written by Pillow. Deterministic; run it again after changing
a target's input layout.

Usage: /usr/bin/python3 tests/fuzz/make_seeds.py   (from the repository's root; needs
python3-torch, Pillow and dataset-fashion-mnist)
"""
import gzip
import io
import json
import os
import shutil
import struct

import torch
from PIL import Image, PngImagePlugin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(ROOT, "tests", "fuzz", "seeds")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def write(target, name, data):
    folder = os.path.join(SEEDS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def safetensors_subset(path, count):
    """The `count` smallest tensors of a real .safetensors file, as a valid file of their own."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    size = lambda k: header[k]["data_offsets"][1] - header[k]["data_offsets"][0]
    names = sorted((k for k in header if k != "__metadata__"), key=lambda k: (size(k), k))[:count]
    out_header, blobs, offset = {}, [], 0
    for name in names:
        begin, end = header[name]["data_offsets"]
        out_header[name] = dict(header[name], data_offsets=[offset, offset + end - begin])
        blobs.append(data[begin:end])
        offset += end - begin
    if "__metadata__" in header:
        out_header["__metadata__"] = header["__metadata__"]
    text = json.dumps(out_header).encode()
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def torch_saved(obj, **kwargs):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def checkpoint_seeds():
    # The first byte picks the name fuzz_checkpoint gives the file: 0 .safetensors, 1 .pth.
    write("checkpoint", "timm-clip-subset.safetensors", b"\x00" + safetensors_subset(
        os.path.join(FIXTURES, "vit", "timm_clip", "model.safetensors"), 8))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                              torch.nn.Linear(4, 2))
    state = net.state_dict()
    write("checkpoint", "state-dict.pth", b"\x01" + torch_saved(state))
    write("checkpoint", "data-parallel.pth", b"\x01" + torch_saved({"module." + k: v for k, v in state.items()}))
    write("checkpoint", "training-checkpoint.pth", b"\x01" + torch_saved({"epoch": 3, "model": state, "lr": 0.1}))
    write("checkpoint", "views-and-half.pth", b"\x01" + torch_saved(
        {"t": torch.arange(12.0).view(3, 4).t(), "h": torch.ones(3, dtype=torch.float16), "i": torch.tensor([1, 2])}))
    write("checkpoint", "legacy.pth", b"\x01" + torch_saved(state, _use_new_zipfile_serialization=False))


def config_seeds():
    # config.json, then a NUL and preprocessor_config.json when there is one.
    configs = [os.path.join(FIXTURES, "vit", name, "config.json")
               for name in ("timm_clip", "timm_dinov2_reg", "timm_siglip", "timm_beit")]
    configs += [os.path.join(FIXTURES, "timm", "timm_resnet_d", "config.json"),
                os.path.join(FIXTURES, "vit", "openclip_vit", "open_clip_config.json"),
                os.path.join(ROOT, "models", "vit-fmnist", "config.json")]
    for path in configs:
        with open(path, "rb") as f:
            write("config", os.path.basename(os.path.dirname(path)) + ".json", f.read())
    hf = {"architectures": ["ViTForImageClassification"], "hidden_size": 192, "num_attention_heads": 3,
          "num_hidden_layers": 4, "patch_size": 16, "image_size": 224, "id2label": {"0": "cat", "1": "dog"}}
    preprocessor = {"do_resize": True, "size": {"height": 224, "width": 224}, "resample": 2,
                    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    write("config", "hf-with-preprocessor.json", json.dumps(hf).encode() + b"\x00" + json.dumps(preprocessor).encode())


def image_seeds():
    corpus = os.path.join(FIXTURES, "hostile", "images")
    for name in ("tiny-1x1.png", "tiny-1x1.jpg", "rgb.bmp", "gray.bmp", "rgb.tif", "cmyk.jpg", "rgba.webp",
                 "gray16.png", "palette.png", "exif-rotated.jpg", "huge-declared.tif"):
        shutil.copy(os.path.join(corpus, name), os.path.join(SEEDS, "image", name))


def idx_seeds():
    # Two little-endian bytes give the images file's length; the labels file follows.
    base = "/usr/share/datasets/fashion-mnist/t10k-"
    with gzip.open(base + "images-idx3-ubyte.gz") as f:
        images = f.read(16 + 2 * 28 * 28)
    with gzip.open(base + "labels-idx1-ubyte.gz") as f:
        labels = f.read(8 + 2)
    images = images[:4] + struct.pack(">I", 2) + images[8:]
    labels = labels[:4] + struct.pack(">I", 2) + labels[8:]
    write("idx", "two-images", struct.pack("<H", len(images)) + images + labels)
    packed = gzip.compress(images, mtime=0)
    write("idx", "two-images-gzip", struct.pack("<H", len(packed)) + packed + gzip.compress(labels, mtime=0))


def pngtext_seeds():
    for name, texts in [("one-text.png", {"Software": "attnviz"}),
                        ("three-texts.png", {"Title": "attention", "Model": "vit", "Comment": "layer 3, head 2"})]:
        info = PngImagePlugin.PngInfo()
        for key, value in texts.items():
            info.add_text(key, value)
        buffer = io.BytesIO()
        Image.new("RGB", (4, 3), (200, 10, 10)).save(buffer, "PNG", pnginfo=info)
        write("pngtext", name, buffer.getvalue())


def main():
    if os.path.isdir(SEEDS):
        shutil.rmtree(SEEDS)
    os.makedirs(os.path.join(SEEDS, "image"))
    checkpoint_seeds()
    config_seeds()
    image_seeds()
    idx_seeds()
    pngtext_seeds()
    for target in sorted(os.listdir(SEEDS)):
        files = os.listdir(os.path.join(SEEDS, target))
        size = sum(os.path.getsize(os.path.join(SEEDS, target, f)) for f in files)
        print("%-10s %2d files, %6d bytes" % (target, len(files), size))


if __name__ == "__main__":
    main()
