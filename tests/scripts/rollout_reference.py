#!/usr/bin/env python3
"""Reference attention rollout in plain PyTorch, written from Abnar & Zuidema's
definition as the shared design notes give it, not from attnviz's code:

  per block l >= start:  F = fuse_heads(A_l)                    (mean, max or min over heads)
                         discard: the floor(ratio * T * T) smallest entries of F set to 0,
                                  then F's CLS column (column 0) restored
                         Â_l = normalise_rows(0.5 F + 0.5 I)     (each row divided by its sum)
  R = Â_L ... Â_start   (the later block on the left), map = R[cls, prefix:] on the grid;
  without a CLS token the map is the mean of R's patch rows.

The attention is non-symmetric on purpose (uniform attention would hide a wrong
normalisation axis or a reversed product). Writes into --out:
  rollout_cases.safetensors
    random.attn.<l>          F64 [3, 18, 18], 4 blocks: CLS + 2 register tokens + a 3x5 grid
    random_nocls.attn.<l>    F64 [3, 15, 15], 3 blocks: a 3x5 grid, no prefix tokens
    vit.input                F32 [1, 3, 64, 64]
    vit.attn.<l>             F32 [3, 65, 65], 4 blocks of tv_vit_small.pth (CLS + 8x8 grid),
                             recorded with need_weights=True on each block's ln_1 output
    <set>.<fusion>.d<discard x 100>.s<start>   F64 [gridH, gridW] reference maps, for
                             set random and vit: every fusion, discard 0 and 0.5, start 0
                             and 2; random_nocls: mean, discard 0 and 0.5, start 0
  tv_vit_small.pth           the torchvision ViT (torch.save of its state_dict)
"""
import argparse
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import write_safetensors  # noqa: E402

FUSIONS = ["mean", "max", "min"]


def fuse(attention, fusion):
    if fusion == "mean":
        return attention.mean(dim=0)
    if fusion == "max":
        return attention.max(dim=0).values
    return attention.min(dim=0).values


def rollout(attentions, fusion, discard, start, prefix, has_cls, grid):
    tokens = attentions[0].shape[-1]
    eye = torch.eye(tokens, dtype=torch.float64)
    result = eye.clone()
    for attention in attentions[start:]:
        fused = fuse(attention.to(torch.float64), fusion)
        if discard > 0:
            count = int(tokens * tokens * discard)
            order = torch.argsort(fused.reshape(-1))
            pruned = fused.reshape(-1).clone()
            pruned[order[:count]] = 0.0
            pruned = pruned.reshape(tokens, tokens)
            if has_cls:
                pruned[:, 0] = fused[:, 0]
            fused = pruned
        a_hat = 0.5 * fused + 0.5 * eye
        row_sums = a_hat.sum(dim=1, keepdim=True)  # one sum per row
        a_hat = a_hat / row_sums
        result = a_hat @ result  # this block after the ones before it
    if has_cls:
        row = result[0]
    else:
        row = result[prefix:].mean(dim=0)
    return row[prefix:].reshape(grid)


def random_attention(gen, blocks, heads, tokens):
    """Softmax rows of random logits with a few strongly preferred keys per row."""
    out = []
    for _ in range(blocks):
        logits = 2.0 * torch.randn(heads, tokens, tokens, generator=gen, dtype=torch.float64)
        logits += 4.0 * (torch.rand(heads, tokens, tokens, generator=gen, dtype=torch.float64) > 0.9)
        out.append(logits.softmax(dim=-1))
    return out


def small_vit(gen):
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
    vit = torchvision.models.VisionTransformer(image_size=64, patch_size=8, num_layers=4, num_heads=3,
                                               hidden_dim=192, mlp_dim=384, num_classes=10)
    with torch.no_grad():
        for layer in vit.encoder.layers:  # sharper, more varied attention than at init
            layer.self_attention.in_proj_weight[:384] *= 1.5
        vit.encoder.pos_embedding.normal_(0.0, 0.5, generator=gen)
    return vit.eval()


def vit_attention(vit, x):
    tokens = vit.conv_proj(x).flatten(2).transpose(1, 2)
    tokens = torch.cat([vit.class_token.expand(1, -1, -1), tokens], dim=1) + vit.encoder.pos_embedding
    attentions = []
    for layer in vit.encoder.layers:
        y = layer.ln_1(tokens)
        _, w = layer.self_attention(y, y, y, need_weights=True, average_attn_weights=False)
        attentions.append(w[0])
        tokens = layer(tokens)
    assert torch.allclose(vit.heads(vit.encoder.ln(tokens)[:, 0]), vit(x), atol=1e-5), "hand-run forward differs"
    return attentions


def add_cases(out, name, attentions, prefix, has_cls, grid, fusions, discards, starts):
    for i, a in enumerate(attentions):
        out[f"{name}.attn.{i}"] = a
    for fusion in fusions:
        for discard in discards:
            for start in starts:
                out[f"{name}.{fusion}.d{int(round(discard * 100))}.s{start}"] = rollout(
                    attentions, fusion, discard, start, prefix, has_cls, grid)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    gen = torch.Generator().manual_seed(2020)
    out = {}
    add_cases(out, "random", random_attention(gen, 4, 3, 3 + 15), 3, True, (3, 5), FUSIONS, [0.0, 0.5], [0, 2])
    add_cases(out, "random_nocls", random_attention(gen, 3, 3, 15), 0, False, (3, 5), ["mean"], [0.0, 0.5], [0])
    vit = small_vit(gen)
    x = torch.randn(1, 3, 64, 64, generator=gen)
    with torch.no_grad():
        attentions = vit_attention(vit, x)
    out["vit.input"] = x
    add_cases(out, "vit", attentions, 1, True, (8, 8), FUSIONS, [0.0, 0.5], [0, 2])
    torch.save(vit.state_dict(), os.path.join(args.out, "tv_vit_small.pth"))
    write_safetensors(os.path.join(args.out, "rollout_cases.safetensors"), out)


if __name__ == "__main__":
    main()
