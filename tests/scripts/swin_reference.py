#!/usr/bin/env python3
"""torchvision's Swin Transformer (v1), run here at test time: swin_t with random weights
(torch.manual_seed), its state dict, and what it computes, at 224 px and at 160 x 192 (a
size whose last stage's grid, 5 x 6, its 7 x 7 windows do not divide: torchvision pads).

Writes --out/swin_t.pth (torch.save of the state dict, as torchvision's checkpoints are) and
--out/swin_t.<H>x<W>.ref.safetensors: input [1, 3, H, W], logits [1, 1000], and every
block's window attention attn.<b> [windows, heads, 49, 49] after the softmax, taken from
torchvision's own shifted_window_attention by wrapping the softmax it calls.
"""
import argparse
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F
import torchvision.models.swin_transformer as swin

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import write_safetensors  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    model = swin.swin_t().eval()
    with torch.no_grad():  # biases and norms away from their init: nothing is trivial
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    torch.save(model.state_dict(), os.path.join(args.out, "swin_t.pth"))

    captured = []
    softmax = F.softmax

    def recording_softmax(x, dim=None, **kwargs):
        y = softmax(x, dim=dim, **kwargs)
        if x.dim() == 4 and dim == -1:
            captured.append(y.detach().clone())
        return y

    swin.F.softmax = recording_softmax
    for h, w in [(224, 224), (160, 192)]:
        captured.clear()
        x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(h + w))
        with torch.no_grad():
            logits = model(x)
        tensors = OrderedDict([("input", x), ("logits", logits)])
        for b, a in enumerate(captured):
            tensors[f"attn.{b}"] = a
        write_safetensors(os.path.join(args.out, f"swin_t.{h}x{w}.ref.safetensors"), tensors)
    swin.F.softmax = softmax


if __name__ == "__main__":
    main()
