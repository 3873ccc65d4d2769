#!/usr/bin/env python3
"""Reference maps for the gradient methods, from torchvision models and PyTorch autograd.

Writes into --out:
  vit/                   a small torchvision ViT (4 blocks, 3 heads, 192 wide) under timm keys
  tv_resnet18.pth        torchvision resnet18 with non-trivial BN statistics
  gradients.safetensors
    vit.input, cnn.input                     [1,3,224,224]
    vit.gradcam.<class>.<block>              Grad-CAM [14,14] on the input of block <block>:
                                             forward-pre-hook on torchvision's encoder layer ln_1
    vit.gradrollout.<class>                  Chefer et al. rollout [14,14] from attention gradients
                                             of a hand-written forward checked against torchvision's
    cnn.gradcam.<class>.<layer>              Grad-CAM with forward hooks and tensor hooks on resnet18
<class> is "top" and "second", the two best classes (also stored as <role>.top, <role>.second:
a low-ranked class often has a Grad-CAM that is zero everywhere, which would test nothing).
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import perturb_norms, small_vit, timm_keys, write_model_dir, write_safetensors  # noqa: E402


def best_two(logits):
    return [int(i) for i in logits[0].topk(2).indices]


def grad_cam(features, grads):
    """features, grads: [C, h, w] -> ReLU(sum_c mean(grad_c) * F_c)"""
    alpha = grads.mean(dim=(1, 2), keepdim=True)
    return F.relu((alpha * features).sum(0))


def vit_grad_cams(vit, x, cls, blocks):
    captured = {}
    handles = []
    for b in blocks:
        def pre_hook(module, inputs, b=b):
            inputs[0].register_hook(lambda g, b=b: captured.__setitem__(("grad", b), g))
            captured[("act", b)] = inputs[0]
        handles.append(vit.encoder.layers[b].ln_1.register_forward_pre_hook(pre_hook))
    logits = vit(x)
    logits[0, cls].backward()
    for h in handles:
        h.remove()
    out = {}
    for b in blocks:
        # patch tokens [196, D] -> [D, 14, 14]
        act = captured[("act", b)][0, 1:].detach().t().reshape(-1, 14, 14)
        grad = captured[("grad", b)][0, 1:].t().reshape(-1, 14, 14)
        out[b] = grad_cam(act, grad)
    return out


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


def vit_grad_rollout(vit, x, cls):
    logits, attentions = manual_vit(vit, x)
    assert torch.allclose(logits, vit(x), atol=1e-5), "hand-written forward differs from torchvision's"
    logits[0, cls].backward()
    t = attentions[0].shape[-1]
    relevance = torch.eye(t, dtype=torch.float64)
    for a in attentions:
        weighted = (a.grad[0] * a[0].detach()).clamp(min=0).mean(0).double()
        relevance = relevance + weighted @ relevance
    return relevance[0, 1:].reshape(14, 14).float()


def cnn_grad_cams(net, x, cls, layers):
    captured = {}
    handles = []
    for name in layers:
        module = net.get_submodule(name)

        def hook(m, i, o, name=name):
            captured[("act", name)] = o
            o.register_hook(lambda g: captured.__setitem__(("grad", name), g))
        handles.append(module.register_forward_hook(hook))
    logits = net(x)
    logits[0, cls].backward()
    for h in handles:
        h.remove()
    return {n: grad_cam(captured[("act", n)][0].detach(), captured[("grad", n)][0]) for n in layers}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(4321)
    out = {}

    vit = small_vit(gen)
    write_model_dir(os.path.join(args.out, "vit"), timm_keys(vit),
                    {"architecture": "vit_tiny_patch16_224", "num_classes": 10,
                     "model_args": {"embed_dim": 192, "depth": 4, "num_heads": 3, "patch_size": 16}})
    x = torch.randn(1, 3, 224, 224, generator=gen)
    out["vit.input"] = x
    top, second = best_two(vit(x))
    out["vit.top"], out["vit.second"] = torch.tensor([top]), torch.tensor([second])
    for cls_name, cls in [("top", top), ("second", second)]:
        maps = vit_grad_cams(vit, x, cls, [1, 3])
        for b, m in maps.items():
            out[f"vit.gradcam.{cls_name}.{b}"] = m
        out[f"vit.gradrollout.{cls_name}"] = vit_grad_rollout(vit, x, cls)

    net = torchvision.models.resnet18()
    perturb_norms(net, gen)
    net.fc.weight.data = 0.05 * torch.randn(net.fc.weight.shape, generator=gen)
    net.eval()
    torch.save(net.state_dict(), os.path.join(args.out, "tv_resnet18.pth"))
    x = torch.randn(1, 3, 224, 224, generator=gen)
    out["cnn.input"] = x
    layers = ["layer4", "layer3", "layer2.1", "maxpool"]
    top, second = best_two(net(x))
    out["cnn.top"], out["cnn.second"] = torch.tensor([top]), torch.tensor([second])
    for cls_name, cls in [("top", top), ("second", second)]:
        maps = cnn_grad_cams(net, x, cls, layers)
        for name, m in maps.items():
            out[f"cnn.gradcam.{cls_name}.{name}"] = m
    write_safetensors(os.path.join(args.out, "gradients.safetensors"), out)
    print("gradient reference written to", args.out, "top classes", int(out["vit.top"]), int(out["cnn.top"]))


if __name__ == "__main__":
    main()
