#!/usr/bin/env python3
"""A small timm hybrid ViT with a ConvStem patch embedding, made with the REAL timm library.

timm's ConvStem (timm/models/vision_transformer_hybrid.py) is the convolutional backbone of a
HybridEmbed: 3x3 stride-2 convolutions with BatchNorm and ReLU on all but the last (which has a
bias), then HybridEmbed's 1x1 projection. No registered timm name builds it with 3x3 kernels, so
the model is built from timm's own classes, as a user would:

    VisionTransformer(img_size=32, patch_size=1, embed_dim=32, depth=2, num_heads=4, mlp_ratio=0.5,
                      num_classes=10, embed_layer=partial(HybridEmbed, backbone=ConvStem(channels=(8, 16, 32))))

Same timm source and torch as tests/scripts/make_vit_tower_fixtures.py (timm aa4b5850c, Debian's
python3-torch 1.13.1), run as

    PYTHONPATH=TIMM_SRC /usr/bin/python3 tests/scripts/make_convstem_fixture.py --out tests/fixtures/vit

Weights: timm's init under seed 307, then perturbed as the other ViT fixtures (perturb() of
make_vit_tower_fixtures.py) and, for the stem, every BatchNorm weight 1+0.2*randn, bias 0.1*randn,
running_mean 0.1*randn, running_var 0.5+rand, so that eval-mode batch norm is not the identity.
Writes timm_convstem/{model.safetensors,config.json}, timm_convstem.ref.safetensors (vit.input
[1,3,32,32], vit.attn.<block> [1,4,17,17], vit.logits [1,10], vit.embedding [1,32]) and
timm_convstem.nonsquare.ref.safetensors at 24x40 (a 3x5 grid: position embedding resampled by
timm's resample_abs_pos_embed, as dynamic_img_size does), and adds the case to cases.json.
"""
import argparse
import json
import os
import sys
from collections import OrderedDict
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn

import timm
from timm.layers import HybridEmbed
from timm.models.vision_transformer import VisionTransformer
from timm.models.vision_transformer_hybrid import ConvStem

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import write_safetensors  # noqa: E402
from make_vit_tower_fixtures import perturb, read_safetensors, timm_reference  # noqa: E402

TIMM_COMMIT = "aa4b5850c1543fa488abf260f18390eda46cf85d"
CASE = "timm_convstem"
SEED = 307
KWARGS = OrderedDict([("img_size", 32), ("patch_size", 1), ("embed_dim", 32), ("depth", 2), ("num_heads", 4),
                      ("mlp_ratio", 0.5), ("num_classes", 10)])
STEM_CHANNELS = (8, 16, 32)


def build(seed, dynamic=False):
    torch.manual_seed(seed)
    embed = partial(HybridEmbed, backbone=ConvStem(channels=STEM_CHANNELS))
    return VisionTransformer(embed_layer=embed, dynamic_img_size=dynamic, **KWARGS).eval()


def perturb_batch_norms(model, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def reference(model, x):
    attns, emb, extra = timm_reference(model, x)
    out = OrderedDict([("vit.input", x)])
    for i, a in enumerate(attns):
        out["vit.attn.%d" % i] = a
    out["vit.embedding"] = emb
    out.update(extra)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="the ViT fixture folder, tests/fixtures/vit")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one summation order, the same on every run
    out_dir = Path(args.out)
    model = build(SEED)
    counts = perturb(model, torch.Generator().manual_seed(SEED * 1000 + 1))
    perturb_batch_norms(model, torch.Generator().manual_seed(SEED * 1000 + 3))
    sd = model.state_dict()
    assert "patch_embed.backbone.1.bn.running_var" in sd and "patch_embed.backbone.2.conv.bias" in sd
    assert "patch_embed.backbone.2.bn.weight" not in sd and list(sd["patch_embed.proj.weight"].shape) == [32, 32, 1, 1]

    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(SEED * 1000 + 2))
    ref = reference(model, x)
    case_dir = out_dir / CASE
    case_dir.mkdir(parents=True, exist_ok=True)
    write_safetensors(case_dir / "model.safetensors", sd, metadata={"format": "pt"})
    config = OrderedDict([("architecture", "vit_convstem"), ("num_classes", 10),
                          ("pretrained_cfg", OrderedDict([("input_size", [3, 32, 32]), ("crop_pct", 1.0),
                                                          ("interpolation", "bicubic"), ("mean", [0.5] * 3),
                                                          ("std", [0.5] * 3)]))])
    with open(case_dir / "config.json", "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    write_safetensors(out_dir / (CASE + ".ref.safetensors"), ref)

    # Another input size: dynamic_img_size resamples the position embedding (timm's own path).
    dynamic = build(SEED + 50000, dynamic=True)
    dynamic.load_state_dict(read_safetensors(case_dir / "model.safetensors"), strict=True)
    x2 = torch.randn(1, 3, 24, 40, generator=torch.Generator().manual_seed(SEED * 1000 + 4))
    ref2 = reference(dynamic, x2)
    assert list(ref2["vit.attn.0"].shape) == [1, 4, 16, 16]
    write_safetensors(out_dir / (CASE + ".nonsquare.ref.safetensors"), ref2)

    # Reload into a fresh model (different seed) and compare.
    fresh = build(SEED + 50000)
    fresh.load_state_dict(read_safetensors(case_dir / "model.safetensors"), strict=True)
    again = reference(fresh, x)
    assert all(torch.equal(ref[k], again[k]) for k in ref), "reloaded reference differs"

    with open(out_dir / "cases.json") as f:
        cases = json.load(f, object_pairs_hook=OrderedDict)
    cases[CASE] = OrderedDict([
        ("input", [1, 3, 32, 32]), ("tokens", 17), ("heads", 4), ("depth", 2), ("prefix_tokens", 1),
        ("embedding_dim", 32), ("classes", 10),
        ("notes", "timm VisionTransformer with HybridEmbed(backbone=ConvStem(channels=(8,16,32))): three 3x3 "
                  "convolutions, stride 2, padding 1 (timm get_padding), BatchNorm2d eps 1e-5 + ReLU after the "
                  "first two, bias and no norm on the last; then HybridEmbed's proj Conv2d(32,32,1); 4x4 tokens "
                  "for 32x32 (one token per 8 pixels); then a plain timm ViT (cls token, pos_embed over cls + "
                  "patches, LayerNorm eps 1e-6, exact GELU, mlp_ratio 0.5). timm_convstem.nonsquare.ref: 24x40 "
                  "input through dynamic_img_size (pos_embed resampled by resample_abs_pos_embed)."),
        ("reference", CASE + ".ref.safetensors"),
        ("files", [CASE + "/model.safetensors", CASE + "/config.json"]),
        ("build", OrderedDict([("library", "timm"), ("timm_version", timm.__version__), ("timm_commit", TIMM_COMMIT),
                               ("builder", "VisionTransformer(embed_layer=partial(HybridEmbed, "
                                           "backbone=ConvStem(channels=(8, 16, 32))), **kwargs)"),
                               ("kwargs", KWARGS), ("seed", SEED), ("perturbed", counts)])),
    ])
    with open(out_dir / "cases.json", "w") as f:
        json.dump(cases, f, indent=2)
        f.write("\n")
    print("%s: %d tensors, reload ok" % (CASE, len(sd)))


if __name__ == "__main__":
    main()
