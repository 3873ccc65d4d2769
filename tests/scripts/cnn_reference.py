#!/usr/bin/env python3
"""Reference data for the CNN families attnviz re-implements, from torchvision (not our code).

Usage: /usr/bin/python3 tests/scripts/cnn_reference.py --out DIR [--cases a,b] [--with-convnext-tiny] [--no-rf]

1. Parity cases. Every model is built with the real torchvision class or builder (random
   init, weights=None, num_classes=10), then made non-trivial where torchvision's init is
   trivial: norm affine terms 1+0.2*randn / 0.1*randn, BatchNorm running_mean 0.1*randn and
   running_var 0.5+rand, zero-initialised conv/linear biases 0.05*randn, ConvNeXt layer_scale
   0.5+0.2*randn (instead of 1e-6). Per case:
     DIR/<case>.pth               plain torch.save(model.state_dict())
     DIR/<case>.ref.safetensors   cnn.input [1,3,128,160], cnn.logits [1,10],
                                  cnn.features.<stage> (forward-hook output of that module)
   and DIR/cnn_cases.json = {case: {"stages": [...], "input": [1,3,128,160], "params": n,
   "stage_shapes": {stage: shape}}}.
   The ResNet stage "conv1" is the output of the stem after bn1 + relu (hook on `relu`).
   MobileNet stages are the last features.<i> at each resolution plus the last index,
   found by running the shapes (see resolution_stages).

2. Receptive fields measured by input gradients (the idea of rf_reference.py), written to
   DIR/cnn_rf_boxes.json = {"input_size": S, case: {stage: {"row", "col", "box": [x0,y0,x1,y1]}}}:
   for the centre unit (row = H//2, col = W//2) of each stage, the box of the non-zero support
   of d(sum over channels of that unit)/d(input), clipped to the SxS input (S = 640). The
   models are changed so that this support is exactly the theoretical field; see rf_model().
   Fields are measured only for the RF_CASES that are among the selected cases.

convnext_tiny (28M params, 111 MB of weights) is written only with --with-convnext-tiny or
when named in --cases. Everything is seeded per case (crc32 of the case name).
"""
import argparse
import json
import os
import time
import zlib
from collections import OrderedDict

import torch
import torchvision
from torch import nn
from torchvision.models import convnext as tv_convnext
from torchvision.models.resnet import Bottleneck
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import write_safetensors  # noqa: E402

INPUT = [1, 3, 128, 160]
CLASSES = 10
RF_SIZE = 640

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def perturb(model, gen):
    """Non-trivial norms (BatchNorm2d, LayerNorm and its subclass LayerNorm2d), biases and
    ConvNeXt layer scales, so that a re-implementation that skips any of them is caught."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=gen))
            if isinstance(m, tv_convnext.CNBlock):
                m.layer_scale.copy_(0.5 + 0.2 * torch.randn(m.layer_scale.shape, generator=gen))


# ---------------------------------------------------------------- model builders

def resnext():
    return torchvision.models.ResNet(Bottleneck, [1, 1, 2, 1], groups=32, width_per_group=4, num_classes=CLASSES)


def wide_resnet():
    return torchvision.models.ResNet(Bottleneck, [1, 1, 1, 1], width_per_group=128, num_classes=CLASSES)


def small_vgg(batch_norm):
    """torchvision's VGG class and make_layers with VGG-11's layout ("A") at 1/8 of its
    widths, and the classifier's Linear layers shrunk in place (indices 0, 3, 6 kept):
    the keys and module order of vgg11[_bn] at a fraction of its 133M parameters."""
    from torchvision.models.vgg import VGG, make_layers
    layout = [8, "M", 16, "M", 32, 32, "M", 64, 64, "M", 64, 64, "M"]
    net = VGG(make_layers(layout, batch_norm=batch_norm), num_classes=CLASSES)
    net.classifier[0] = nn.Linear(64 * 7 * 7, 64)
    net.classifier[3] = nn.Linear(64, 64)
    net.classifier[6] = nn.Linear(64, CLASSES)
    return net


def small_convnext():
    cfg = tv_convnext.CNBlockConfig
    setting = [cfg(32, 64, 1), cfg(64, 128, 1), cfg(128, 256, 2), cfg(256, None, 1)]
    return tv_convnext.ConvNeXt(block_setting=setting, num_classes=CLASSES)


def resolution_stages(model):
    """features.<i> for each i whose successor reduces the spatial size, plus the last index.
    Found by running the 128x160 probe through model.features module by module."""
    x = torch.zeros(INPUT, dtype=next(model.parameters()).dtype)
    sizes = []
    with torch.no_grad():
        for module in model.features:
            x = module(x)
            sizes.append(tuple(x.shape[2:]))
    last = len(sizes) - 1
    stages = [f"features.{i}" for i in range(last)
              if sizes[i + 1][0] < sizes[i][0] or sizes[i + 1][1] < sizes[i][1]]
    return stages + [f"features.{last}"]


def maxpool_stages(model):
    return [f"features.{i}" for i, m in enumerate(model.features) if isinstance(m, nn.MaxPool2d)]


def every_feature(model):
    return [f"features.{i}" for i in range(len(model.features))]


RESNET_STAGES = [("conv1", "relu"), "maxpool", "layer1", "layer2", "layer3", "layer4"]
REGNET_STAGES = ["stem"] + [f"trunk_output.block{i}" for i in range(1, 5)]
CONVNEXT_STAGES = ["features.0", "features.1", "features.3", "features.5", "features.7"]
DENSENET_STAGES = ["features.relu0", "features.pool0", "features.denseblock1", "features.denseblock2",
                   "features.denseblock3", "features.norm5"]

M = torchvision.models
# name: (builder, stages) with stages a list of names or (stage name, module name) pairs,
# or a function of the model returning module names.
CASES = OrderedDict([
    ("tv_resnext", (resnext, RESNET_STAGES)),
    ("tv_wide_resnet", (wide_resnet, RESNET_STAGES)),
    ("tv_vgg11_bn", (lambda: small_vgg(True), maxpool_stages)),
    ("tv_vgg11", (lambda: small_vgg(False), maxpool_stages)),
    ("tv_densenet121", (lambda: M.densenet121(num_classes=CLASSES), DENSENET_STAGES)),
    ("tv_mobilenet_v2", (lambda: M.mobilenet_v2(num_classes=CLASSES), resolution_stages)),
    ("tv_mobilenet_v3_large", (lambda: M.mobilenet_v3_large(num_classes=CLASSES), resolution_stages)),
    ("tv_mobilenet_v3_small", (lambda: M.mobilenet_v3_small(num_classes=CLASSES), resolution_stages)),
    ("tv_efficientnet_b0", (lambda: M.efficientnet_b0(num_classes=CLASSES), every_feature)),
    ("tv_efficientnet_v2_s", (lambda: M.efficientnet_v2_s(num_classes=CLASSES), every_feature)),
    ("tv_regnet_y_400mf", (lambda: M.regnet_y_400mf(num_classes=CLASSES), REGNET_STAGES)),
    ("tv_regnet_x_400mf", (lambda: M.regnet_x_400mf(num_classes=CLASSES), REGNET_STAGES)),
    ("tv_convnext", (small_convnext, CONVNEXT_STAGES)),
    ("tv_convnext_tiny", (lambda: M.convnext_tiny(num_classes=CLASSES), CONVNEXT_STAGES)),
])

RF_CASES = ["tv_resnext", "tv_convnext", "tv_efficientnet_b0", "tv_densenet121", "tv_mobilenet_v3_large",
            "tv_regnet_y_400mf", "tv_vgg11"]


def case_seed(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def stage_pairs(model, stages):
    """[(stage name, module name)] in forward order."""
    if callable(stages):
        stages = stages(model)
    return [s if isinstance(s, tuple) else (s, s) for s in stages]


def hook_stages(model, pairs, outputs):
    """Record each stage module's output. Cloned: later in-place ops (DenseNet's final
    F.relu(inplace=True) on norm5's output, in-place ReLUs) must not change what is kept."""
    modules = dict(model.named_modules())
    handles = []
    for stage, module_name in pairs:
        def hook(module, inputs, output, stage=stage):
            if stage in outputs:
                raise RuntimeError(f"stage {stage} ran twice")
            outputs[stage] = output.clone()
        handles.append(modules[module_name].register_forward_hook(hook))
    return handles


# ---------------------------------------------------------------- parity references

def make_case(name, out_dir):
    builder, stages = CASES[name]
    seed = case_seed(name)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = builder()
    perturb(model, gen)
    model.eval()
    pairs = stage_pairs(model, stages)
    x = torch.randn(INPUT, generator=gen)
    outputs = OrderedDict()
    handles = hook_stages(model, pairs, outputs)
    with torch.no_grad():
        logits = model(x)
    for h in handles:
        h.remove()
    names = [s for s, _ in pairs]
    if list(outputs) != names:
        raise RuntimeError(f"{name}: hooks fired as {list(outputs)}, expected {names}")
    for stage, t in outputs.items():
        if not torch.isfinite(t).all():
            raise RuntimeError(f"{name}: non-finite values in {stage}")
    torch.save(model.state_dict(), os.path.join(out_dir, f"{name}.pth"))
    tensors = OrderedDict([("cnn.input", x), ("cnn.logits", logits)])
    for stage in names:
        tensors[f"cnn.features.{stage}"] = outputs[stage]
    write_safetensors(os.path.join(out_dir, f"{name}.ref.safetensors"), tensors)
    return {"stages": names, "input": list(INPUT), "params": sum(p.numel() for p in model.parameters()),
            "stage_shapes": {s: list(t.shape) for s, t in outputs.items()}}


# ---------------------------------------------------------------- receptive fields

def replace_modules(model, predicate, factory):
    """Swap every submodule m with predicate(m) for factory(m) in its parent."""
    targets = [name for name, m in model.named_modules() if name and predicate(m)]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, factory(getattr(parent, child)))


def rf_model(name, dtype):
    """The model with gradient support = theoretical receptive field:
    - conv (and ConvNeXt's pointwise Linear) weights positive: abs + 1e-3, then each output
      channel scaled to sum 1 (a per-channel scale leaves the support unchanged and keeps
      activations near 1, so no activation saturates or overflows); biases zero;
    - MaxPool2d -> AvgPool2d with the same kernel/stride/padding/ceil_mode;
    - BatchNorm2d, LayerNorm2d and LayerNorm -> identity (a LayerNorm over channels of an
      almost constant vector would zero the gradient);
    - SqueezeExcitation -> identity (convention: SE gating does not widen the field);
    - ConvNeXt layer_scale = 1; StochasticDepth/Dropout are identities in eval anyway.
    Activations are kept: with positive inputs ReLU, SiLU, GELU and Hardswish all have a
    positive derivative (no ReLU6 or Hardsigmoid is left in these models once SE is gone).
    Evaluated in float32: the far corners of a deep field get a product of one kernel tap
    per layer, which could in principle underflow, but at S=640 float64 gives exactly the
    same boxes for every case here (checked) at five times the run time."""
    torch.manual_seed(case_seed(name) + 1)
    model = CASES[name][0]().eval()
    pairs = stage_pairs(model, CASES[name][1])  # before MaxPool2d is swapped out (VGG stages)
    replace_modules(model, lambda m: isinstance(m, nn.MaxPool2d),
                    lambda m: nn.AvgPool2d(m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode))
    replace_modules(model, lambda m: isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)), lambda m: nn.Identity())
    replace_modules(model, lambda m: isinstance(m, torchvision.ops.SqueezeExcitation), lambda m: nn.Identity())
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight.abs() + 1e-3
                m.weight.copy_(w / w.flatten(1).sum(1).view(-1, *([1] * (w.dim() - 1))))
                if m.bias is not None:
                    m.bias.zero_()
            if isinstance(m, tv_convnext.CNBlock):
                m.layer_scale.fill_(1.0)
    left = [type(m).__name__ for m in model.modules() if isinstance(m, (nn.ReLU6, nn.Hardsigmoid, nn.Sigmoid))]
    if left:
        raise RuntimeError(f"{name}: saturating activations left in the field model: {left}")
    return model.to(dtype).eval(), pairs


def rf_boxes(name, size, dtype=torch.float32):
    model, pairs = rf_model(name, dtype)
    outputs = OrderedDict()
    hook_stages(model, pairs, outputs)
    x = torch.ones(1, 3, size, size, dtype=dtype, requires_grad=True)
    model(x)
    if list(outputs) != [s for s, _ in pairs] or not pairs:
        raise RuntimeError(f"{name}: field hooks fired as {list(outputs)}, expected {pairs}")
    boxes = OrderedDict()
    for stage, _ in pairs:
        out = outputs[stage]
        row, col = out.shape[2] // 2, out.shape[3] // 2
        (grad,) = torch.autograd.grad(out[0, :, row, col].sum(), x, retain_graph=True)
        if not torch.isfinite(grad).all():
            raise RuntimeError(f"{name}/{stage}: non-finite input gradient")
        support = grad[0].abs().sum(0) > 0
        ys = support.any(1).nonzero().flatten()
        xs = support.any(0).nonzero().flatten()
        boxes[stage] = {"row": row, "col": col, "box": [int(xs[0]), int(ys[0]), int(xs[-1]), int(ys[-1])]}
    return boxes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--cases", help="comma-separated cases to write (default: all but tv_convnext_tiny)")
    parser.add_argument("--with-convnext-tiny", action="store_true",
                        help="also write tv_convnext_tiny (about 111 MB of weights)")
    parser.add_argument("--no-rf", action="store_true", help="skip cnn_rf_boxes.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)

    names = [n for n in CASES if n != "tv_convnext_tiny" or args.with_convnext_tiny]
    if args.cases:
        names = [n.strip() for n in args.cases.split(",") if n.strip()]
        unknown = [n for n in names if n not in CASES]
        if unknown:
            parser.error(f"unknown cases {unknown}; known: {list(CASES)}")

    manifest = OrderedDict()
    for name in names:
        start = time.time()
        manifest[name] = make_case(name, args.out)
        print(f"{name}: {len(manifest[name]['stages'])} stages, {manifest[name]['params']} params,"
              f" {time.time() - start:.1f}s", flush=True)
    with open(os.path.join(args.out, "cnn_cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    if not args.no_rf:
        result = OrderedDict([("input_size", RF_SIZE)])
        for name in RF_CASES:
            if name not in names:
                continue
            start = time.time()
            result[name] = rf_boxes(name, RF_SIZE)
            print(f"rf {name}: {time.time() - start:.1f}s", flush=True)
        with open(os.path.join(args.out, "cnn_rf_boxes.json"), "w") as f:
            json.dump(result, f, indent=1)
    print("CNN reference data written to", args.out)


if __name__ == "__main__":
    main()
