#!/usr/bin/env python3
"""Reference deletion and insertion curves (Petsiuk et al. 2018, RISE), computed the way
RISE's `evaluation.py` does it: one forward pass per step of a torchvision model, the
next `step` pixels of the saliency order copied from the finish image into the start
image through a numpy view, the class probability read after a softmax, and the area
taken as (sum - first/2 - last/2) / steps.

The blurred substrate is RISE's `gkern(11, 5)`: scipy's gaussian_filter of a centred
delta (σ = 5, truncated at 4σ, 'reflect' boundary) put on the diagonal of a [C, C, 11, 11]
kernel and applied with conv2d, padding 5. scipy is not a dependency here, so the 1-D
filter is written out with numpy's 'symmetric' padding, which is scipy's 'reflect'.

Differences from RISE kept on purpose, so that the comparison is exact: the saliency
order breaks ties in row-major order (a stable sort of the negated map; RISE's
np.argsort leaves ties to numpy's quicksort).

Writes into --out:
  tv_resnet18_64.pth        torchvision resnet18 with non-trivial BN statistics
  faithfulness.safetensors
    input [1,3,64,64]; top [1] (the predicted class); second [1]
    saliency.full [64,64]    random, no ties
    saliency.grid [8,8]      resized bilinearly (align_corners=False) to 64 x 64 first
    <case>.probabilities [n+1], <case>.auc [1] for the cases in CASES
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import perturb_norms, write_safetensors  # noqa: E402

SIZE = 64
# name: (saliency, mode, substrate, pixels per step, class)
CASES = {
    "full.deletion.blur": ("full", "del", "blur", 128, "top"),
    "full.insertion.blur": ("full", "ins", "blur", 128, "top"),
    "full.deletion.zero": ("full", "del", "zero", 128, "top"),
    "grid.deletion.blur": ("grid", "del", "blur", 410, "second"),
    "grid.insertion.zero": ("grid", "ins", "zero", 410, "second"),
}


def gaussian_filter1d_of_delta(length, sigma):
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    delta = np.zeros(length)
    delta[length // 2] = 1.0
    padded = np.pad(delta, radius, mode="symmetric")
    return np.array([np.dot(taps, padded[i:i + 2 * radius + 1]) for i in range(length)])


def gkern(channels, klen=11, nsig=5):
    k1 = gaussian_filter1d_of_delta(klen, nsig)
    k = np.outer(k1, k1)
    kern = np.zeros((channels, channels, klen, klen))
    for c in range(channels):
        kern[c, c] = k
    return torch.from_numpy(kern.astype("float32"))


def blur(x):
    return F.conv2d(x, gkern(x.shape[1]), padding=11 // 2)


def causal_curve(model, img, explanation, klass, mode, substrate, step):
    """RISE's CausalMetric.single_run, one forward pass per step."""
    hw = img.shape[2] * img.shape[3]
    n_steps = (hw + step - 1) // step
    substrate_fn = blur if substrate == "blur" else torch.zeros_like
    if mode == "del":
        start, finish = img.clone(), substrate_fn(img)
    else:
        start, finish = substrate_fn(img), img.clone()
    scores = np.empty(n_steps + 1)
    salient_order = np.argsort(-explanation.reshape(-1, hw), axis=1, kind="stable")
    for i in range(n_steps + 1):
        with torch.no_grad():
            pred = torch.softmax(model(start), dim=1)
        scores[i] = pred[0, klass].item()
        if i < n_steps:
            coords = salient_order[:, step * i:step * (i + 1)]
            start.numpy().reshape(1, img.shape[1], hw)[0, :, coords] = finish.numpy().reshape(1, img.shape[1], hw)[0, :, coords]
    return scores, (scores.sum() - scores[0] / 2 - scores[-1] / 2) / (scores.shape[0] - 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(13)

    net = torchvision.models.resnet18()
    perturb_norms(net, gen)
    net.fc.weight.data = 0.3 * torch.randn(net.fc.weight.shape, generator=gen)
    net.eval()
    torch.save(net.state_dict(), os.path.join(args.out, "tv_resnet18_64.pth"))

    x = torch.randn(1, 3, SIZE, SIZE, generator=gen)
    with torch.no_grad():
        top, second = [int(i) for i in net(x)[0].topk(2).indices]
    saliency = {"full": torch.rand(SIZE, SIZE, generator=gen), "grid": torch.rand(8, 8, generator=gen)}
    full_size = {
        "full": saliency["full"],
        "grid": F.interpolate(saliency["grid"][None, None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[0, 0],
    }
    classes = {"top": top, "second": second}
    out = {"input": x, "top": torch.tensor([top]), "second": torch.tensor([second]),
           "saliency.full": saliency["full"], "saliency.grid": saliency["grid"]}
    for name, (which, mode, substrate, step, klass) in CASES.items():
        scores, auc = causal_curve(net, x, full_size[which].numpy(), classes[klass], mode, substrate, step)
        out[name + ".probabilities"] = torch.from_numpy(scores)
        out[name + ".auc"] = torch.tensor([auc], dtype=torch.float64)
    write_safetensors(os.path.join(args.out, "faithfulness.safetensors"), {k: v.contiguous() for k, v in out.items()})
    print("faithfulness reference written to", args.out, "classes", top, second)


if __name__ == "__main__":
    main()
