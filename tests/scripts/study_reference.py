#!/usr/bin/env python3
"""Reference data for the ViT-versus-CNN study (docs/methods.md, "The study"), from a
torchvision ViT and ResNet-18 with module hooks, and the quantities computed in plain
PyTorch/NumPy from their published definitions.

Writes into --out:
  vit/              a small torchvision ViT (4 blocks, 3 heads, 192 wide) under timm keys
  tv_resnet18.pth   torchvision resnet18 with non-trivial BN statistics
  studies.safetensors
    vit.inputs [8,3,224,224], cnn.inputs [8,3,112,112]
    vit.residual.<b>.attn.{skip,branch}   [8, T] token norms of x and of attn(ln_1(x))
    vit.residual.<b>.mlp.{skip,branch}    [8, T] of y = x + attn and of mlp(ln_2(y))
    cnn.residual.<layerS.B>.{skip,branch} [8, h*w] pixel norms of the shortcut and of bn2's output
    vit.token_norms.<b>                   [8, T] norms of block b's output
    vit.artifact_mask [8, P]              patches flagged after the last block (modified z > 3.5)
    vit.cls_on_artifacts, vit.entropy     [8, L, H]
    vit.pooled.<b>.{cls,mean}             [8, D] block outputs pooled for the probes
    cnn.pooled.<name>                     [8, C] GAP of conv1 (after ReLU), maxpool, every block
    vit.localization, cnn.localization    [P, P] minibatch (4 + 4 images) unbiased linear CKA
    probe.train_x [300,16], probe.train_y, probe.test_x [200,16], probe.test_y,
    probe.accuracy [2]                    train / test accuracy of torch's L-BFGS logistic regression
"""
import argparse
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import SMALL_VIT_CONFIG, perturb_norms, small_vit, timm_keys, write_model_dir, write_safetensors  # noqa: E402

N = 8
Z = 3.5


def vit_hooks(vit, x, out):
    """Runs the ViT once with hooks on every encoder block's parts."""
    got = {}
    handles = []
    for i, layer in enumerate(vit.encoder.layers):
        handles.append(layer.register_forward_pre_hook(lambda m, a, i=i: got.__setitem__(f"in{i}", a[0])))
        handles.append(layer.self_attention.register_forward_hook(lambda m, a, o, i=i: got.__setitem__(f"attn{i}", o[0])))
        handles.append(layer.ln_2.register_forward_pre_hook(lambda m, a, i=i: got.__setitem__(f"mid{i}", a[0])))
        handles.append(layer.mlp.register_forward_hook(lambda m, a, o, i=i: got.__setitem__(f"mlp{i}", o)))
        handles.append(layer.register_forward_hook(lambda m, a, o, i=i: got.__setitem__(f"out{i}", o)))
    with torch.no_grad():
        vit(x)
    for h in handles:
        h.remove()
    layers = len(vit.encoder.layers)
    for i in range(layers):
        out[f"vit.residual.{i}.attn.skip"] = got[f"in{i}"].norm(dim=-1)
        out[f"vit.residual.{i}.attn.branch"] = got[f"attn{i}"].norm(dim=-1)
        out[f"vit.residual.{i}.mlp.skip"] = got[f"mid{i}"].norm(dim=-1)
        out[f"vit.residual.{i}.mlp.branch"] = got[f"mlp{i}"].norm(dim=-1)
        out[f"vit.token_norms.{i}"] = got[f"out{i}"].norm(dim=-1)
        out[f"vit.pooled.{i}.cls"] = got[f"out{i}"][:, 0]
        out[f"vit.pooled.{i}.mean"] = got[f"out{i}"][:, 1:].mean(1)
    # Attention weights per head, as torchvision's attention module reports them.
    attentions = []
    with torch.no_grad():
        for i, layer in enumerate(vit.encoder.layers):
            y = layer.ln_1(got[f"in{i}"])
            _, w = layer.self_attention(y, y, y, need_weights=True, average_attn_weights=False)
            attentions.append(w)  # [N, H, T, T]
    return got, attentions


def modified_z_flags(norms):
    """norms [P] -> bool [P]: 0.6745 (x - median) / MAD > Z (Iglewicz & Hoaglin)."""
    x = norms.double().numpy()
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    if mad == 0:
        return np.zeros_like(x, dtype=bool)
    return 0.6745 * (x - med) / mad > Z


def token_study(got, attentions, layers, out):
    last = got[f"out{layers - 1}"].norm(dim=-1)[:, 1:]  # [N, P]
    masks = torch.tensor(np.stack([modified_z_flags(last[n]) for n in range(N)]))
    out["vit.artifact_mask"] = masks.float()
    cls_mass, entropy = [], []
    for w in attentions:  # [N, H, T, T]
        cls_rows = w[:, :, 0, 1:]  # CLS query over the patches
        cls_mass.append((cls_rows * masks[:, None, :]).sum(-1))
        a = w[:, :, 1:, :].double()  # patch queries over all keys
        ent = torch.where(a > 0, -a * a.log(), torch.zeros_like(a)).sum(-1).mean(-1)
        entropy.append(ent.float())
    out["vit.cls_on_artifacts"] = torch.stack(cls_mass, 1)
    out["vit.entropy"] = torch.stack(entropy, 1)


def unbiased_hsic(k, l):
    """Song et al. 2012, on Gram matrices with the diagonal zeroed."""
    n = k.shape[0]
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    ones = np.ones(n)
    value = np.trace(k @ l) + (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2)) \
        - 2 / (n - 2) * (ones @ k @ l @ ones)
    return value / (n * (n - 3))


def localization(outputs, inputs, batch=4):
    """outputs [N, P, D], inputs [N, P, D']: minibatch CKA of output position i with input position j."""
    outputs, inputs = outputs.double().numpy(), inputs.double().numpy()
    p = outputs.shape[1]
    cross, self_o, self_i = np.zeros((p, p)), np.zeros(p), np.zeros(p)
    for first in range(0, outputs.shape[0], batch):
        def grams(x):
            x = x[first:first + batch]
            x = x - x.mean(0, keepdims=True)
            return [x[:, i] @ x[:, i].T for i in range(p)]
        go, gi = grams(outputs), grams(inputs)
        for i in range(p):
            self_o[i] += unbiased_hsic(go[i], go[i])
            self_i[i] += unbiased_hsic(gi[i], gi[i])
            for j in range(p):
                cross[i, j] += unbiased_hsic(go[i], gi[j])
    return torch.tensor(cross / np.sqrt(np.outer(self_o, self_i))).float()


def cnn_hooks(net, x, out):
    got = {}
    handles = [net.relu.register_forward_hook(lambda m, a, o: got.setdefault("conv1", o)),
               net.maxpool.register_forward_hook(lambda m, a, o: got.__setitem__("maxpool", o))]
    names = []
    for s in range(1, 5):
        for b, block in enumerate(getattr(net, f"layer{s}")):
            name = f"layer{s}.{b}"
            names.append(name)
            handles.append(block.register_forward_pre_hook(
                lambda m, a, name=name: got.__setitem__(name + ".in", a[0].clone())))
            # clone: torchvision adds the shortcut to bn2's output in place
            handles.append(block.bn2.register_forward_hook(
                lambda m, a, o, name=name: got.__setitem__(name + ".main", o.clone())))
            if block.downsample is not None:
                handles.append(block.downsample.register_forward_hook(
                    lambda m, a, o, name=name: got.__setitem__(name + ".skip", o)))
            handles.append(block.register_forward_hook(lambda m, a, o, name=name: got.__setitem__(name, o)))
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    for name in names:
        skip = got.get(name + ".skip", got[name + ".in"])
        out[f"cnn.residual.{name}.skip"] = skip.norm(dim=1).flatten(1)
        out[f"cnn.residual.{name}.branch"] = got[name + ".main"].norm(dim=1).flatten(1)
    for name in ["conv1", "maxpool"] + names:
        out[f"cnn.pooled.{name}"] = got[name].mean((2, 3))
    return got


def probe_reference(gen, out):
    """A four-class Gaussian mixture with some overlap, and torch's L-BFGS logistic
    regression on it under the objective attnviz's probe minimises."""
    classes, dim = 4, 16
    centres = torch.randn(classes, dim, generator=gen) * 1.2

    def draw(n):
        y = torch.randint(0, classes, (n,), generator=gen)
        return centres[y] + torch.randn(n, dim, generator=gen) * 2.0 + 5.0, y

    train_x, train_y = draw(300)
    test_x, test_y = draw(200)
    mean, std = train_x.double().mean(0), train_x.double().std(0, unbiased=False)
    a = ((train_x.double() - mean) / std).float()
    b = ((test_x.double() - mean) / std).float()
    w = torch.zeros(dim, classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, bias], lr=1.0, max_iter=200, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(a @ w + bias, train_y) + 0.5 * 1e-4 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        acc = [float(((x @ w + bias).argmax(1) == y).float().mean()) for x, y in [(a, train_y), (b, test_y)]]
    out.update({"probe.train_x": train_x, "probe.train_y": train_y, "probe.test_x": test_x,
                "probe.test_y": test_y, "probe.accuracy": torch.tensor(acc)})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2021)
    out = {}

    vit = small_vit(gen)
    write_model_dir(os.path.join(args.out, "vit"), timm_keys(vit), SMALL_VIT_CONFIG)
    x = torch.randn(N, 3, 224, 224, generator=gen)
    # Four images get one patch 30 times brighter: a token whose norm stands out, so the
    # artifact rule and the CLS mass on artifacts have something to find.
    for n, (r, c) in enumerate([(2, 3), (7, 7), (11, 1), (0, 13)]):
        x[n, :, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] *= 30
    out["vit.inputs"] = x
    got, attentions = vit_hooks(vit, x, out)
    layers = len(vit.encoder.layers)
    token_study(got, attentions, layers, out)
    out["vit.localization"] = localization(got[f"out{layers - 1}"][:, 1:], got["in0"][:, 1:])

    net = torchvision.models.resnet18()
    perturb_norms(net, gen)
    net.eval()
    torch.save(net.state_dict(), os.path.join(args.out, "tv_resnet18.pth"))
    x = torch.randn(N, 3, 112, 112, generator=gen)
    out["cnn.inputs"] = x
    got = cnn_hooks(net, x, out)
    final = got["layer4.1"]  # [N, 512, 4, 4]
    patches = torch.nn.functional.unfold(x, 28, stride=28).transpose(1, 2)  # [N, 16, 3*28*28]
    out["cnn.localization"] = localization(final.flatten(2).transpose(1, 2), patches)

    probe_reference(gen, out)
    write_safetensors(os.path.join(args.out, "studies.safetensors"), {k: v.contiguous() for k, v in out.items()})


if __name__ == "__main__":
    main()
