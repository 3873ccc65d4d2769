#!/usr/bin/env python3
"""Reference maps for the class-specific methods, from torchvision models, module hooks
and PyTorch autograd, written from each method's published definition (docs/methods.md).

Writes into --out:
  vit/                   a small torchvision ViT (4 blocks, 3 heads, 192 wide) under timm keys
  tv_resnet18.pth        torchvision resnet18 with non-trivial BN statistics
  gradients.safetensors
    vit.input, cnn.input [1,3,224,224]; cnn.input_small [1,3,112,112] (Score-/Ablation-CAM)
    vit.<cam>.<class>.<block>          the CAM family [14,14] on block <block>'s norm1 output
                                       (forward hook on torchvision's ln_1, as pytorch-grad-cam's
                                       target_layers=[blocks[i].norm1]); <cam> in CAM_METHODS
    vit.gradcam-residual.<class>.<block>  Grad-CAM on the residual stream entering the block
                                       (forward pre-hook on ln_1: its input)
    vit.scorecam.top.3, vit.ablationcam.top.3   gradient-free CAMs on block 3's norm1 output
    vit.generic.<class>                Chefer et al. ICCV 2021 from attention gradients of a
                                       hand-written forward checked against torchvision's
    vit.gradrollout.<class>.<fusion>.<discard>.<start>   vit-explain's gradient rollout
    vit.saliency.<class>, cnn.saliency.<class>   Simonyan et al. 2014: max_c |d logit / d input| [224,224]
    cnn.<cam>.<class>.<layer>          the CAM family with forward hooks and tensor hooks
    cnn.scorecam.top.layer2, cnn.ablationcam.top.layer4   on cnn.input_small
<class> is "top" and "second", the two best classes (also stored as <role>.top, <role>.second:
a low-ranked class often has a Grad-CAM that is zero everywhere, which would test nothing).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import SMALL_VIT_CONFIG, perturb_norms, small_vit, timm_keys, write_model_dir, write_safetensors  # noqa: E402

CAM_METHODS = ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam"]


def best_two(logits):
    return [int(i) for i in logits[0].topk(2).indices]


def weighted(weights, feats):
    """ReLU(sum_k w_k F_k): weights [C], feats [C, h, w]"""
    return F.relu((weights[:, None, None] * feats).sum(0))


def cam(method, feats, grads):
    """One CAM from a layer's activations and gradients, both [C, h, w] (pytorch-grad-cam's formulas)."""
    if method == "gradcam":  # Selvaraju et al.: spatially averaged gradients
        return weighted(grads.mean(dim=(1, 2)), feats)
    if method == "gradcam++":  # Chattopadhay et al. eq. 19, ReLU on the gradient
        sq, cube = grads.pow(2), grads.pow(3)
        total = feats.sum(dim=(1, 2))[:, None, None]
        alpha = sq / (2 * sq + total * cube + 1e-6)
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        return weighted((F.relu(grads) * alpha).sum(dim=(1, 2)), feats)
    if method == "xgradcam":  # Fu et al.: activation-normalised gradient sum
        total = feats.sum(dim=(1, 2))[:, None, None]
        return weighted((grads * feats / (total + 1e-7)).sum(dim=(1, 2)), feats)
    if method == "hirescam":  # Draelos & Carin: elementwise, no averaging
        return F.relu((grads * feats).sum(0))
    if method == "layercam":  # Jiang et al.: positive gradients as per-position weights
        return F.relu((F.relu(grads) * feats).sum(0))
    if method == "eigencam":  # Muhammad & Yeasin: first principal component, larger side positive
        c = feats.shape[0]
        x = feats.reshape(c, -1).T.double().numpy()
        x = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        p = x @ vt[0]
        if abs(p.min()) > abs(p.max()):
            p = -p
        return F.relu(torch.from_numpy(p).float().reshape(feats.shape[1:]))
    raise ValueError(method)


def capture(model, module, x, cls, pre=False):
    """Activation and gradient of `module`'s output (or, with pre, its input) for class cls."""
    got = {}

    def keep(t):
        got["act"] = t
        t.register_hook(lambda g: got.__setitem__("grad", g))

    handle = (module.register_forward_pre_hook(lambda m, i: keep(i[0])) if pre
              else module.register_forward_hook(lambda m, i, o: keep(o)))
    model.zero_grad()
    model(x)[0, cls].backward()
    handle.remove()
    return got["act"].detach(), got["grad"]


def vit_grid(tokens):
    """[1, 197, D] -> patch tokens as [D, 14, 14] (CLS dropped)"""
    return tokens[0, 1:].t().reshape(-1, 14, 14)


def score_cam(model, x, feats, cls, batch=32):
    """Wang et al.: channels upsampled (corners aligned), min-max scaled, mask the input."""
    up = torch.nn.UpsamplingBilinear2d(size=x.shape[-2:])(feats[None])[0]
    lo = up.flatten(1).min(1).values[:, None, None]
    hi = up.flatten(1).max(1).values[:, None, None]
    masks = (up - lo) / (hi - lo + 1e-8)
    scores = []
    with torch.no_grad():
        for i in range(0, masks.shape[0], batch):
            scores.append(model(x * masks[i:i + batch, None])[:, cls])
    return weighted(torch.softmax(torch.cat(scores), 0), feats)


def ablation_cam(model, module, x, feats_of, cls, channel_dim, batch=32):
    """Desai & Ramaswamy: relative drop of the class logit when one channel is zeroed
    (full forwards of the repeated input, the module's output replaced by a hook)."""
    with torch.no_grad():
        out = {}
        handle = module.register_forward_hook(lambda m, i, o: out.__setitem__("a", o))
        base = model(x)[0, cls].item()
        handle.remove()
        act = out["a"]
        channels = act.shape[channel_dim]
        drops = []
        for start in range(0, channels, batch):
            n = min(batch, channels - start)

            def ablate(m, i, o, start=start, n=n):
                o = o.repeat(n, *([1] * (o.dim() - 1))).clone()
                for j in range(n):
                    o.select(channel_dim, start + j)[j] = 0
                return o
            handle = module.register_forward_hook(ablate)
            drops.append(model(x)[:, cls])
            handle.remove()
        weights = (base - torch.cat(drops)) / base
    return weighted(weights, feats_of(act))


def manual_vit(vit, x):
    """torchvision's ViT written out in PyTorch ops so the attention is on the path."""
    tokens = vit.conv_proj(x).flatten(2).transpose(1, 2)
    tokens = torch.cat([vit.class_token.expand(1, -1, -1), tokens], dim=1) + vit.encoder.pos_embedding
    attentions = []
    for layer in vit.encoder.layers:
        mha = layer.self_attention
        heads, d = mha.num_heads, tokens.shape[-1]
        y = layer.ln_1(tokens)
        q, k, v = F.linear(y, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
        split = lambda t: t.reshape(1, -1, heads, d // heads).transpose(1, 2)
        attn = (split(q) @ split(k).transpose(-2, -1) / (d // heads) ** 0.5).softmax(-1)
        attn.retain_grad()
        attentions.append(attn)
        mixed = (attn @ split(v)).transpose(1, 2).reshape(1, -1, d)
        tokens = tokens + mha.out_proj(mixed)
        tokens = tokens + layer.mlp(layer.ln_2(tokens))
    return vit.heads(vit.encoder.ln(tokens)[:, 0]), attentions


def attention_grads(vit, x, cls):
    logits, attentions = manual_vit(vit, x)
    assert torch.allclose(logits, vit(x), atol=1e-5), "hand-written forward differs from torchvision's"
    logits[0, cls].backward()
    return [(a[0].detach(), a.grad[0]) for a in attentions]  # per block [H, T, T]


def generic_attention(pairs):
    """Chefer et al. ICCV 2021: R <- R + mean_h((grad * A)+) R from R = I."""
    relevance = torch.eye(pairs[0][0].shape[-1], dtype=torch.float64)
    for a, g in pairs:
        relevance = relevance + (g * a).clamp(min=0).mean(0).double() @ relevance
    return relevance[0, 1:].reshape(14, 14).float()


def grad_rollout(pairs, fusion, discard, start):
    """vit-explain's gradient rollout: heads of A * grad fused, negatives to 0, the
    smallest `discard` of the weights dropped (the CLS column kept), I added, rows
    normalised, blocks multiplied from the left, each block with its own gradient."""
    t = pairs[0][0].shape[-1]
    eye = torch.eye(t, dtype=torch.float64)
    rollout = eye.clone()
    for a, g in pairs[start:]:
        w = (a * g).double()
        fused = {"mean": lambda: w.mean(0), "max": lambda: w.max(0).values, "min": lambda: w.min(0).values}[fusion]()
        fused = fused.clamp(min=0)
        if discard > 0:
            flat = fused.flatten().clone()
            flat[flat.topk(int(t * t * discard), largest=False).indices] = 0
            pruned = flat.view(t, t)
            pruned[:, 0] = fused[:, 0]
            fused = pruned
        step = 0.5 * fused + 0.5 * eye
        rollout = (step / step.sum(dim=-1, keepdim=True)) @ rollout
    return rollout[0, 1:].reshape(14, 14).float()


ROLLOUT_CASES = [("mean", 0.0, 0), ("max", 0.5, 1), ("min", 0.9, 2)]


def input_saliency(model, x, cls):
    """Simonyan, Vedaldi & Zisserman 2014, sec. 3.1: the gradient of the class logit with
    respect to the input by autograd, its absolute value's maximum over the channels [H, W]"""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[0, cls], x)
    return grad[0].abs().amax(dim=0)


def vit_references(vit, x, out, top, second):
    for name, cls in [("top", top), ("second", second)]:
        for b in [1, 3]:
            ln = vit.encoder.layers[b].ln_1
            act, grad = capture(vit, ln, x, cls)
            for method in CAM_METHODS:
                out[f"vit.{method}.{name}.{b}"] = cam(method, vit_grid(act), vit_grid(grad))
            act, grad = capture(vit, ln, x, cls, pre=True)
            out[f"vit.gradcam-residual.{name}.{b}"] = cam("gradcam", vit_grid(act), vit_grid(grad))
        out[f"vit.saliency.{name}"] = input_saliency(vit, x, cls)
        pairs = attention_grads(vit, x, cls)
        out[f"vit.generic.{name}"] = generic_attention(pairs)
        for fusion, discard, start in ROLLOUT_CASES:
            out[f"vit.gradrollout.{name}.{fusion}.{discard}.{start}"] = grad_rollout(pairs, fusion, discard, start)
    ln = vit.encoder.layers[3].ln_1
    act, _ = capture(vit, ln, x, top)
    out["vit.scorecam.top.3"] = score_cam(vit, x, vit_grid(act), top)
    out["vit.ablationcam.top.3"] = ablation_cam(vit, ln, x, vit_grid, top, channel_dim=2)


def cnn_references(net, x, small, out, top, second):
    layers = ["layer4", "layer3", "layer2.1", "maxpool"]
    for name, cls in [("top", top), ("second", second)]:
        out[f"cnn.saliency.{name}"] = input_saliency(net, x, cls)
        for layer in layers:
            act, grad = capture(net, net.get_submodule(layer), x, cls)
            for method in CAM_METHODS:
                out[f"cnn.{method}.{name}.{layer}"] = cam(method, act[0], grad[0])
    small_top = int(net(small).argmax())
    out["cnn.small_top"] = torch.tensor([small_top])
    act, _ = capture(net, net.layer2, small, small_top)
    out["cnn.scorecam.top.layer2"] = score_cam(net, small, act[0], small_top)
    out["cnn.ablationcam.top.layer4"] = ablation_cam(net, net.layer4, small, lambda a: a[0], small_top,
                                                     channel_dim=1, batch=64)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(4321)
    out = {}

    vit = small_vit(gen)
    write_model_dir(os.path.join(args.out, "vit"), timm_keys(vit), SMALL_VIT_CONFIG)
    x = torch.randn(1, 3, 224, 224, generator=gen)
    out["vit.input"] = x
    top, second = best_two(vit(x))
    out["vit.top"], out["vit.second"] = torch.tensor([top]), torch.tensor([second])
    vit_references(vit, x, out, top, second)

    net = torchvision.models.resnet18()
    perturb_norms(net, gen)
    net.fc.weight.data = 0.05 * torch.randn(net.fc.weight.shape, generator=gen)
    net.eval()
    torch.save(net.state_dict(), os.path.join(args.out, "tv_resnet18.pth"))
    x = torch.randn(1, 3, 224, 224, generator=gen)
    small = torch.randn(1, 3, 112, 112, generator=gen)
    out["cnn.input"], out["cnn.input_small"] = x, small
    top, second = best_two(net(x))
    out["cnn.top"], out["cnn.second"] = torch.tensor([top]), torch.tensor([second])
    cnn_references(net, x, small, out, top, second)
    write_safetensors(os.path.join(args.out, "gradients.safetensors"), {k: v.contiguous() for k, v in out.items()})
    print("gradient reference written to", args.out, "top classes", int(out["vit.top"]), int(out["cnn.top"]))


if __name__ == "__main__":
    main()
