#!/usr/bin/env python3
"""Receptive fields of torchvision ResNets measured by input gradients, independently
of attnviz's layer arithmetic: max-pool replaced by average-pool, every conv weight
made positive, batch norm the identity, so that the gradient of one output unit is
non-zero exactly on the pixels that unit sees. Writes --out/rf_boxes.json with, per
model and layer, the centre unit and its box [x0, y0, x1, y1] (clipped to the input),
and the models' weights (tv_resnet18.pth, tv_resnet_k5.pth) where the tests need a
checkpoint.

resnet_k5 is a torchvision ResNet of BasicBlocks, one per stage, whose conv2 is 5x5
(padding 2) in every block and whose layer3.0.conv1 is 5x5 too (stride 2, padding 2):
kernels a field computation that assumes 3x3 would get wrong. For it every conv's
output is measured, not only the stage outputs."""
import argparse
import json
import os

import torch
import torchvision

SIZE = 640


def resnet_k5():
    net = torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1])
    for stage in [net.layer1, net.layer2, net.layer3, net.layer4]:
        for block in stage:
            width = block.conv2.out_channels
            block.conv2 = torch.nn.Conv2d(width, width, 5, stride=1, padding=2, bias=False)
    conv1 = net.layer3[0].conv1
    net.layer3[0].conv1 = torch.nn.Conv2d(conv1.in_channels, conv1.out_channels, 5, stride=2, padding=2, bias=False)
    return net


def measured_boxes(net, every_conv=False):
    net.maxpool = torch.nn.AvgPool2d(3, 2, 1)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.weight.data = m.weight.data.abs() + 1e-3
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_parameters()
            m.reset_running_stats()
    net.eval()
    outputs = {}
    names = ["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    if every_conv:
        names += [name for name, m in net.named_modules() if isinstance(m, torch.nn.Conv2d) and "." in name]
    modules = dict(net.named_modules())
    for name in names:
        modules[name].register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
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
    k5 = resnet_k5()
    torch.save(k5.state_dict(), os.path.join(args.out, "tv_resnet_k5.pth"))
    result = {"input_size": SIZE,
              "resnet18": measured_boxes(resnet18),
              "resnet50": measured_boxes(torchvision.models.resnet50()),
              "resnet_k5": measured_boxes(k5, every_conv=True)}
    with open(os.path.join(args.out, "rf_boxes.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
