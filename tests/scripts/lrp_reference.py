#!/usr/bin/env python3
"""Reference maps for transformer attribution (Chefer, Gur & Wolf, CVPR 2021), in plain
PyTorch, float64, from the paper's propagation rules.

Every relevance step is the LRP generic rule  R_x = x * d z/d x . (R / z)  evaluated with
autograd on the layer's own function (the C++ code writes each rule out by hand):
  Linear            alpha=1, beta=0: the rule on z+ = W+ x+ + W- x-, bias left out
  residual Add      the rule on a + b, then each part rescaled so that the totals split
                    sum(R) as |sum_a| : |sum_b|
  A v and q k^T     the rule on both operands, each operand keeping half
  LayerNorm, GELU, softmax, LayerScale   relevance passes unchanged
  head              one-hot on the class, through the head onto the class token
Then per block A_bar = mean_h((dy_c/dA * R^A)+) and R <- R + A_bar R from I; the map is
R's class-token row over the patches.

Writes into --out:
  vit/              a small torchvision ViT (4 blocks, 3 heads, 192 wide) under timm keys
  vit_ls/           a timm-style ViT torchvision lacks: LayerScale, 4 register tokens,
                    position embedding over the patches only, class-token head
  lrp.safetensors
    <m>.input [1,3,224,224], <m>.top, <m>.second      for m in vit, ls
    <m>.lrp.<class>.<start>   map [14,14] for class top/second, start layer 0 and 2 (vit), 0 and 1 (ls)
    vit.cam.top.<block>       R^A [3,197,197] of every block (start 0, top class)
    vit.grad.top.<block>      dy_c/dA of the same
    vit.totals.top            [4] total relevance at each block's output
"""
import argparse
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import SMALL_VIT_CONFIG, small_vit, timm_block_forward, timm_keys, write_model_dir, write_safetensors  # noqa: E402

STABILISER = 1e-9
EPS = 1e-6  # LayerNorm epsilon of timm and torchvision ViTs


def safe_div(r, z):
    """r / z with z moved STABILISER away from zero on its own side; 0 where z == 0."""
    zero = z == 0
    den = torch.where(zero, torch.ones_like(z), z + STABILISER * z.sign())
    return torch.where(zero, torch.zeros_like(r / den), r / den)


def generic_rule(fn, operands, r):
    """LRP's generic rule for z = fn(*operands): operand * grad(z, operand, r / z)."""
    leaves = [o.detach().clone().requires_grad_(True) for o in operands]
    with torch.enable_grad():
        z = fn(*leaves)
        grads = torch.autograd.grad(z, leaves, safe_div(r, z.detach()))
    return [leaf.detach() * g for leaf, g in zip(leaves, grads)]


def lrp_linear(x, weight, r):
    """alpha=1, beta=0: only the positive products x_j w_ij share an output's relevance."""
    wp, wn = weight.clamp(min=0), weight.clamp(max=0)
    rp, rn = generic_rule(lambda xp, xn: F.linear(xp, wp) + F.linear(xn, wn), [x.clamp(min=0), x.clamp(max=0)], r)
    return rp + rn


def lrp_add(a, b, r):
    ra, rb = generic_rule(torch.add, [a, b], r)
    sa, sb = ra.sum(), rb.sum()
    both, total = sa.abs() + sb.abs(), r.sum()
    return ra * safe_div(safe_div(sa.abs(), both) * total, sa), rb * safe_div(safe_div(sb.abs(), both) * total, sb)


def lrp_matmul(x, y, r):
    rx, ry = generic_rule(torch.matmul, [x, y], r)
    return rx / 2, ry / 2


class Net:
    """A timm-keyed ViT with a class-token head, run by hand in float64 so every
    intermediate the relevance pass needs is kept (batch of one, batch dim dropped)."""

    def __init__(self, sd, heads, regs=0, no_embed_class=False):
        self.sd = {k: v.double() for k, v in sd.items()}
        self.heads, self.regs, self.no_embed_class = heads, regs, no_embed_class
        self.depth = sum(1 for k in sd if k.endswith("norm1.weight"))

    def ln(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.sd[name + ".weight"], self.sd[name + ".bias"], eps=EPS)

    def lin(self, x, name):
        return F.linear(x, self.sd[name + ".weight"], self.sd[name + ".bias"])

    def scale(self, x, name):
        return x * self.sd[name] if name in self.sd else x

    def embed(self, x):
        sd = self.sd
        patches = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=16)
        patches = patches.flatten(2).transpose(1, 2)[0]  # [196, D]
        prefix = [sd["cls_token"][0]] + ([sd["reg_token"][0]] if self.regs else [])
        if self.no_embed_class:
            return torch.cat(prefix + [patches + sd["pos_embed"][0]])
        return torch.cat(prefix + [patches]) + sd["pos_embed"][0]

    def block(self, x, p):
        t, d = x.shape
        hd = d // self.heads
        s = {"x": x}
        s["h1"] = self.ln(x, p + "norm1")
        q, k, v = self.lin(s["h1"], p + "attn.qkv").reshape(t, 3, self.heads, hd).permute(1, 2, 0, 3)
        s["q"], s["k"], s["v"] = q, k, v
        s["attn"] = (q @ k.transpose(-2, -1) * hd ** -0.5).softmax(-1)
        s["attn"].retain_grad()
        s["merged"] = (s["attn"] @ v).transpose(0, 1).reshape(t, d)
        s["branch1"] = self.scale(self.lin(s["merged"], p + "attn.proj"), p + "ls1.gamma")
        s["mid"] = x + s["branch1"]
        s["h2"] = self.ln(s["mid"], p + "norm2")
        s["hidden"] = F.gelu(self.lin(s["h2"], p + "mlp.fc1"))
        s["branch2"] = self.scale(self.lin(s["hidden"], p + "mlp.fc2"), p + "ls2.gamma")
        s["out"] = s["mid"] + s["branch2"]
        return s

    def forward(self, x):
        """x [1,C,H,W] -> logits [1, classes], per-block records, the head's input [1, D]"""
        # the input requires grad only so that autograd records the attention maps
        tokens = self.embed(x.double().detach().requires_grad_(True))
        records = []
        for i in range(self.depth):
            records.append(self.block(tokens, f"blocks.{i}."))
            tokens = records[-1]["out"]
        pooled = self.ln(tokens, "norm")[:1]
        return self.lin(pooled, "head"), records, pooled

    def relevance(self, x, cls, start):
        """R^A and dy_c/dA of blocks start.., and the total relevance at each block's output."""
        logits, records, pooled = self.forward(x)
        logits[0, cls].backward()
        one_hot = torch.zeros_like(logits)
        one_hot[0, cls] = 1
        r = torch.zeros_like(records[-1]["out"])
        # the selection of the class token hands its relevance on as it is (x * r / x)
        r[0] = lrp_linear(pooled.detach(), self.sd["head.weight"], one_hot)[0]
        cams, grads, totals = {}, {}, {}
        for i in reversed(range(start, self.depth)):
            s = {k: v.detach() for k, v in records[i].items()}
            p = f"blocks.{i}."
            totals[i] = r.sum()
            r_mid, r_b2 = lrp_add(s["mid"], s["branch2"], r)
            r_h2 = lrp_linear(s["h2"], self.sd[p + "mlp.fc1.weight"],
                              lrp_linear(s["hidden"], self.sd[p + "mlp.fc2.weight"], r_b2))
            r_x, r_b1 = lrp_add(s["x"], s["branch1"], r_mid + r_h2)
            t, d = s["x"].shape
            r_ctx = lrp_linear(s["merged"], self.sd[p + "attn.proj.weight"], r_b1)
            r_ctx = r_ctx.reshape(t, self.heads, -1).transpose(0, 1)
            r_attn, r_v = lrp_matmul(s["attn"], s["v"], r_ctx)
            cams[i], grads[i] = r_attn, records[i]["attn"].grad
            r_q, r_kt = lrp_matmul(s["q"], s["k"].transpose(-2, -1), r_attn)
            merge = lambda u: u.transpose(0, 1).reshape(t, d)  # noqa: E731
            r_qkv = torch.cat([merge(r_q), merge(r_kt.transpose(-2, -1)), merge(r_v)], dim=-1)
            r = r_x + lrp_linear(s["h1"], self.sd[p + "attn.qkv.weight"], r_qkv)
        return cams, grads, totals

    def attribution(self, x, cls, start):
        cams, grads, _ = self.relevance(x, cls, start)
        t = cams[start].shape[-1]
        rollout = torch.eye(t, dtype=torch.float64)
        for i in range(start, self.depth):
            rollout = rollout + (grads[i] * cams[i]).clamp(min=0).mean(0) @ rollout
        return rollout[0, 1 + self.regs:].reshape(14, 14)


def ls_state_dict(gen):
    d, heads, depth, regs, classes = 96, 3, 3, 4, 7
    r = lambda *shape, std=0.05: std * torch.randn(*shape, generator=gen)  # noqa: E731
    sd = OrderedDict(cls_token=r(1, 1, d), reg_token=r(1, regs, d), pos_embed=r(1, 196, d))
    sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"] = r(d, 3, 16, 16), r(d)
    for i in range(depth):
        p = f"blocks.{i}."
        for name in ["norm1", "norm2"]:
            sd[p + name + ".weight"], sd[p + name + ".bias"] = 1 + r(d, std=0.2), r(d)
        for name, o, i_ in [("attn.qkv", 3 * d, d), ("attn.proj", d, d), ("mlp.fc1", 4 * d, d), ("mlp.fc2", d, 4 * d)]:
            sd[p + name + ".weight"], sd[p + name + ".bias"] = r(o, i_, std=0.1), r(o)
        sd[p + "ls1.gamma"], sd[p + "ls2.gamma"] = 0.5 + r(d, std=0.3), 0.5 + r(d, std=0.3)
    sd["norm.weight"], sd["norm.bias"] = 1 + r(d, std=0.2), r(d)
    sd["head.weight"], sd["head.bias"] = r(classes, d, std=0.2), r(classes)
    return sd, heads, regs


def best_two(logits):
    return [int(i) for i in logits[0].topk(2).indices]


def check_vit_forward(net, vit, x):
    """The hand-written forward against torchvision's own module, both in float64."""
    ours = net.forward(x)[0].detach()
    theirs = vit.double()(x.double()).detach()
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-10), f"forward differs by {(ours - theirs).abs().max()}"


def check_ls_forward(net, sd, heads, x):
    """Against the block forward of make_reference.py (timm's Block in PyTorch ops)."""
    tokens = net.embed(x.double())[None]
    sd64 = {k: v.double() for k, v in sd.items()}
    for i in range(net.depth):
        tokens, _ = timm_block_forward(tokens, sd64, f"blocks.{i}.", heads)
    theirs = F.linear(F.layer_norm(tokens[:, 0], (tokens.shape[-1],), sd64["norm.weight"], sd64["norm.bias"], eps=EPS),
                      sd64["head.weight"], sd64["head.bias"])
    ours = net.forward(x)[0].detach()
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-10), f"forward differs by {(ours - theirs).abs().max()}"


def check_conservation(totals):
    """Every rule conserves relevance, so each block's output holds the one-hot's 1."""
    for i, total in totals.items():
        assert abs(float(total) - 1) < 1e-6, f"block {i} output holds {float(total)}"


def maps_for(out, role, net, x, starts):
    logits = net.forward(x)[0]
    top, second = best_two(logits)
    out[f"{role}.input"] = x
    out[f"{role}.top"], out[f"{role}.second"] = torch.tensor([top]), torch.tensor([second])
    for name, cls in [("top", top), ("second", second)]:
        for start in starts:
            out[f"{role}.lrp.{name}.{start}"] = net.attribution(x, cls, start).float()
    return top


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2021)
    out = {}

    vit = small_vit(gen)
    keys = timm_keys(vit)
    write_model_dir(os.path.join(args.out, "vit"), keys, SMALL_VIT_CONFIG)
    net = Net(keys, heads=3)
    x = torch.randn(1, 3, 224, 224, generator=gen)
    check_vit_forward(net, vit, x)
    top = maps_for(out, "vit", net, x, [0, 2])
    cams, grads, totals = net.relevance(x, top, 0)
    check_conservation(totals)
    for i in cams:
        out[f"vit.cam.top.{i}"] = cams[i].float()
        out[f"vit.grad.top.{i}"] = grads[i].float()
    out["vit.totals.top"] = torch.tensor([float(totals[i]) for i in sorted(totals)])

    sd, heads, regs = ls_state_dict(gen)
    write_model_dir(os.path.join(args.out, "vit_ls"), sd,
                    {"architecture": "vit_ls_reg_test", "num_classes": 7,
                     "model_args": {"num_heads": heads, "reg_tokens": regs, "no_embed_class": True}})
    net = Net(sd, heads, regs=regs, no_embed_class=True)
    x = torch.randn(1, 3, 224, 224, generator=gen)
    check_ls_forward(net, sd, heads, x)
    top = maps_for(out, "ls", net, x, [0, 1])
    check_conservation(net.relevance(x, top, 0)[2])

    write_safetensors(os.path.join(args.out, "lrp.safetensors"), out)
    print("transformer attribution reference written to", args.out)


if __name__ == "__main__":
    main()
