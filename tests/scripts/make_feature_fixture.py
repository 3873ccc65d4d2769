#!/usr/bin/env python3
"""Patch similarity, feature PCA and the logit lens from timm's own forward pass, for
tst_similarity, tst_featurepca and tst_logitlens.

timm (commit aa4b5850, as make_ig_fixture.py builds them) runs the two committed fixtures with
their weights on a fixed random input [1, 3, 64, 64]; forward hooks keep what attnviz's
similarity reads:

  vit  tests/fixtures/vit/timm_deit3      every block's output tokens (before the final norm),
                                          the patch tokens laid on their 4 x 4 grid
  cnn  tests/fixtures/timm/timm_resnet_d  layer3's and layer4's outputs

NumPy gives the cosine of every position's feature vector with one position's and, from its
SVD, every position's scores on the first three principal components, and the
model's own final norm and head (model.norm, model.head) read every token of each block's
output, softmax over the classes: the logit lens.

    PYTHONPATH=/path/to/timm_src /usr/bin/python3 tests/scripts/make_feature_fixture.py \\
        --out tests/fixtures/attribution/features.ref.safetensors

Writes F32: <m>.input [1, 3, 64, 64]; similarity: vit.block<b> [4, 4] for b in 0, 1 at
position (1, 2), cnn.<layer> [h, w] for layer3 (4 x 4) at (1, 2) and layer4 (2 x 2) at (1, 0);
PCA: <m>.pca.<layer> [P, 3] (positions in row-major order; each component's sign as
scikit-learn's svd_flip sets it) for vit.block1 and cnn.layer3;
the lens: vit.lens.block<b> [4, 4, 10] (every patch's class probabilities) and
vit.lens.cls.block<b> [10] (the CLS token's), and vit.probabilities [10] (the model's own).
"""
import argparse
import pathlib
import sys
from collections import OrderedDict

import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from attribution_models import models_and_inputs  # noqa: E402
from make_reference import write_safetensors  # noqa: E402

CELLS = {"vit.block0": (1, 2), "vit.block1": (1, 2), "cnn.layer3": (1, 2), "cnn.layer4": (1, 0)}


def cosine_to_cell(grid, row, col):
    """grid [C, h, w] -> cosine of every cell with (row, col), [h, w], in float64."""
    c, h, w = grid.shape
    flat = grid.reshape(c, h * w).astype(np.float64)
    flat = flat / np.maximum(np.linalg.norm(flat, axis=0, keepdims=True), 1e-12)
    return (flat[:, row * w + col] @ flat).reshape(h, w)


def principal_scores(grid, k=3):
    """grid [C, h, w] -> scores [h * w, k] of the centred positions on the first k principal
    components, from NumPy's SVD in float64, each column's largest |score| made positive."""
    x = grid.reshape(grid.shape[0], -1).T.astype(np.float64)
    u, s, _ = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    scores = u[:, :k] * s[:k]
    signs = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(k)])
    return scores * signs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = OrderedDict()
    for key, _, model, x in models_and_inputs(90):
        out[f"{key}.input"] = x
        kept = {}
        modules = ({f"block{b}": blk for b, blk in enumerate(model.blocks)} if key == "vit"
                   else {"layer3": model.layer3, "layer4": model.layer4})
        for label, module in modules.items():
            module.register_forward_hook(lambda m, inp, o, label=label: kept.__setitem__(label, o.detach()))
        with torch.no_grad():
            model(x)
        for label, tensor in kept.items():
            if key == "vit":  # [1, T, D]: drop the CLS token, lay the patches on their grid
                side = int(round((tensor.shape[1] - 1) ** 0.5))
                grid = tensor[0, 1:].T.reshape(-1, side, side)
            else:
                grid = tensor[0]
            row, col = CELLS[f"{key}.{label}"]
            out[f"{key}.{label}"] = torch.from_numpy(cosine_to_cell(grid.numpy(), row, col))
            print(key, label, tuple(grid.shape), "min", out[f"{key}.{label}"].min().item())
            if f"{key}.{label}" in ("vit.block1", "cnn.layer3"):
                out[f"{key}.pca.{label}"] = torch.from_numpy(principal_scores(grid.numpy()))
            if key == "vit":  # the lens: the model's own norm and head on every token
                with torch.no_grad():
                    probabilities = torch.softmax(model.head(model.norm(tensor[0])), dim=-1)  # [T, 10]
                out[f"vit.lens.{label}"] = probabilities[1:].reshape(side, side, -1)
                out[f"vit.lens.cls.{label}"] = probabilities[0]
        if key == "vit":
            with torch.no_grad():
                out["vit.probabilities"] = torch.softmax(model(x), dim=-1)[0]
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(args.out, OrderedDict((k, v.float().contiguous()) for k, v in out.items()))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
