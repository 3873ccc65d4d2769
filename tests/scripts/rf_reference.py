#!/usr/bin/env python3
"""Receptive fields of torchvision ResNets measured by input gradients, independently
of attnviz's layer arithmetic: max-pool replaced by average-pool, every conv weight
made positive, batch norm the identity, so that the gradient of one output unit is
non-zero exactly on the pixels that unit sees. Writes --out/rf_boxes.json with, per
model and layer, the centre unit and its box [x0, y0, x1, y1] (clipped to the input),
and the models' weights (tv_resnet18.pth) where the tests need a checkpoint."""
import argparse
import json
import os

import torch
import torchvision

SIZE = 640


def measured_boxes(net):
    net.maxpool = torch.nn.AvgPool2d(3, 2, 1)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.weight.data = m.weight.data.abs() + 1e-3
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_parameters()
            m.reset_running_stats()
    net.eval()
    outputs = {}
    for name in ["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"]:
        getattr(net, name).register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
    x = torch.ones(1, 3, SIZE, SIZE, requires_grad=True)
    net(x)
    boxes = {}
    for name, out in outputs.items():
        row, col = out.shape[2] // 2, out.shape[3] // 2
        (grad,) = torch.autograd.grad(out[0, :, row, col].sum(), x, retain_graph=True)
        support = grad[0].abs().sum(0) > 0
        ys = support.any(1).nonzero().flatten()
        xs = support.any(0).nonzero().flatten()
        boxes[name] = {"row": row, "col": col, "box": [int(xs[0]), int(ys[0]), int(xs[-1]), int(ys[-1])]}
    return boxes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    resnet18 = torchvision.models.resnet18()
    torch.save(resnet18.state_dict(), os.path.join(args.out, "tv_resnet18.pth"))
    result = {"input_size": SIZE,
              "resnet18": measured_boxes(resnet18),
              "resnet50": measured_boxes(torchvision.models.resnet50())}
    with open(os.path.join(args.out, "rf_boxes.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
