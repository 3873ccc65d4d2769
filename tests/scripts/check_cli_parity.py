#!/usr/bin/env python3
"""attnviz-cli against the torchvision reference data, with nothing but the CLI.

For builds without Qt (the `headless` preset, e.g. a GPU machine with only a CUDA
LibTorch): runs `attnviz-cli analyze --tensor REF --dump OUT` for each reference model
written by make_reference.py and compares logits (relative 1e-4), attention (absolute
1e-5: every block's whole matrix and its CLS row) and ResNet features (relative 1e-4). Exit status 0 only when all match.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

CASES = [  # (role, model, reference)
    ("vit", "tv_vit_b_16.pth", "tv_vit_b_16.ref.safetensors"),
    ("vit", "timm_vit", "timm_vit.ref.safetensors"),
    ("vit", "timm_vit", "timm_vit.nonsquare.ref.safetensors"),
    ("vit", "deit_distilled", "deit_distilled.ref.safetensors"),
    ("vit", "hf_vit", "timm_vit.ref.safetensors"),
    ("vit", "dino_teacher.pth", "dino_teacher.ref.safetensors"),
    ("vit", "timm_vit_reg", "timm_vit_reg.ref.safetensors"),
    ("cnn", "tv_resnet50.pth", "tv_resnet50.ref.safetensors"),
    # 3601 tokens: the CLS rows are dumped, the whole matrices (3.7 GB) are not.
    ("vit", "tv_vit_s_8_480.pth", "tv_vit_s_8_480.ref.safetensors"),
]


def load_f32(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        out[key] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=np.float32).reshape(entry["shape"])
    return out


def cls_rows(reference):
    """vit.attn_cls.<l> [1,H,T], every block's CLS row, from the reference's whole vit.attn.<l>."""
    return {key.replace(".attn.", ".attn_cls."): value[:, :, 0, :]
            for key, value in reference.items() if ".attn." in key}


def compare(key, actual, expected):
    if actual.shape != expected.shape:
        return f"{key}: shape {actual.shape} != {expected.shape}"
    diff = float(np.abs(actual.astype(np.float64) - expected).max()) if expected.size else 0.0
    if ".attn." in key or ".attn_cls." in key:
        ok, what = diff <= 1e-5, f"max abs diff {diff:.2e}"
    else:
        rel = diff / max(1e-12, float(np.abs(expected).max()))
        ok, what = rel <= 1e-4, f"max rel diff {rel:.2e}"
    return None if ok else f"{key}: {what}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--data", required=True, help="folder written by make_reference.py")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for role, model, ref in CASES:
            dump = os.path.join(tmp, "dump.safetensors")
            run = subprocess.run([args.cli, "analyze", f"--{role}", os.path.join(args.data, model), "--tensor",
                                  os.path.join(args.data, ref), "--device", args.device, "--dump", dump],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                print(f"FAIL {model} on {ref}: {run.stderr.strip()}")
                failures += 1
                continue
            actual, expected = load_f32(dump), load_f32(os.path.join(args.data, ref))
            expected.update(cls_rows(expected))
            problems = [p for key in expected if (p := compare(key, actual[key], expected[key]) if key in actual
                                                   else f"{key}: missing from the dump")]
            problems += [f"{key}: in the dump but not in the reference" for key in actual if key not in expected]
            print(("FAIL " if problems else "PASS ") + f"{model} on {ref}" + "".join("\n  " + p for p in problems))
            failures += bool(problems)
    print(f"{len(CASES) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
