#!/usr/bin/env python3
"""Small parity fixtures for timm CNNs, made with the real timm library (not our code).

Needs timm, which the README does not install and which is no Debian package: these fixtures
were made once and are committed; CI only reads them. Made with timm from
huggingface/pytorch-image-models commit aa4b5850c1543fa488abf260f18390eda46cf85d
(timm 1.0.29.dev0, pure Python, imported from a `git archive` of that commit) on Debian's
python3-torch 1.13.1 / python3-torchvision 0.14.1:

    PYTHONPATH=/path/to/timm_src /usr/bin/python3 tests/scripts/make_timm_fixtures.py --out tests/fixtures/timm

Every model is a real timm class built through its own entrypoint (or, for EfficientNet, the
generator the `efficientnet_b0` entrypoint calls) and made small only through constructor
arguments. Weights are timm's random init under a fixed seed, then perturbed so that nothing is
trivial: every norm weight 1+0.2*randn and bias 0.1*randn, BN running_mean 0.1*randn and
running_var 0.5+rand, every conv/linear bias 0.05*randn, ConvNeXt `gamma` 0.5+0.2*randn.
num_classes is 10. Output is byte-identical from run to run.

Writes into --out, for each case:
  <case>/model.safetensors   the model's state_dict (float32, BN running stats and the int64
                             num_batches_tracked as in hub files; __metadata__ {"format": "pt"})
  <case>/config.json         written by timm's own timm.models._hub.save_config_for_hf, as on
                             the HF hub ("architecture", "num_classes", "num_features",
                             "pretrained_cfg"); no "model_args", as in hub files, so the small
                             sizes are only in the weights (and in cases.json "build")
  <case>.ref.safetensors     float32 cnn.input [1,3,97,129] (odd sizes: ceil-mode avg-down and
                             non-square shapes), cnn.logits [1,10], and cnn.features.<stage>:
                             the output of the module named <stage> (a forward hook, cloned)
  cases.json                 {case: {"stages", "architecture", "input", "params",
                             "stage_shapes", "build"}}

Cases (stage names are module names; "conv1" of the ResNet is module act1, i.e. after bn1+ReLU):
  timm_resnet_d          resnet50d (Bottleneck, deep stem, avg-down), layers (1,1,1,1),
                         stem_width 4, channels (4,8,16,32); conv1 maxpool layer1..layer4
  timm_convnext          convnext_tiny (nn.Linear MLP), depths (1,1,2,1), dims (8,16,32,64);
                         stem stages.0..stages.3
  timm_convnext_convmlp  convnext_atto (conv_mlp=True: 1x1 conv MLP, LayerNorm2d in blocks),
                         same sizes and stages
  timm_efficientnet      efficientnet_b0 arch via _gen_efficientnet with channel_multiplier 0.125
                         and depth_multiplier 0.5 (the entrypoint fixes both multipliers itself,
                         so it cannot take them); 7 stages; bn1 blocks.0..blocks.6 bn2
Each model.safetensors is reloaded into a freshly built model (strict) and must give equal logits
and stage outputs. Widths are tiny so that the whole folder stays under 3 MB (about 2.3 MB).
"""
import argparse
import json
import os
import sys
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn

import timm
from timm.models._hub import save_config_for_hf
from timm.models.convnext import ConvNeXtBlock
from timm.models.efficientnet import _gen_efficientnet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import read_safetensors, write_safetensors  # noqa: E402

TIMM_COMMIT = "aa4b5850c1543fa488abf260f18390eda46cf85d"
CLASSES = 10
INPUT = [1, 3, 97, 129]


def perturb(model, gen):
    """Non-trivial norms (BatchNorm2d and its subclass BatchNormAct2d, LayerNorm and its subclass
    LayerNorm2d), BN statistics, conv/linear biases and ConvNeXt layer scales."""
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
            if isinstance(m, ConvNeXtBlock) and m.gamma is not None:
                m.gamma.copy_(0.5 + 0.2 * torch.randn(m.gamma.shape, generator=gen))


# ---------------------------------------------------------------- cases
# (builder name, kwargs) as recorded in cases.json; BUILDERS turns them into a model.

def build_create_model(name, **kwargs):
    return timm.create_model(name, pretrained=False, **kwargs)


def build_gen_efficientnet(name, **kwargs):
    return _gen_efficientnet(name, pretrained=False, **kwargs)


BUILDERS = {"timm.create_model": build_create_model,
            "timm.models.efficientnet._gen_efficientnet": build_gen_efficientnet}

CNX_STAGES = ["stem", "stages.0", "stages.1", "stages.2", "stages.3"]
CASES = OrderedDict([
    ("timm_resnet_d", dict(
        seed=101, builder="timm.create_model", name="resnet50d",
        kwargs=dict(num_classes=CLASSES, layers=[1, 1, 1, 1], stem_width=4, channels=[4, 8, 16, 32]),
        # stem_width*2 = 8 != 4*4 = 16: layer1.0 keeps its (pool-less) avg-down shortcut, as in resnet50d
        must_have=["layer1.0.downsample.1.weight", "layer2.0.downsample.2.running_var"],
        stages=OrderedDict([("conv1", "act1"), ("maxpool", "maxpool"), ("layer1", "layer1"),
                            ("layer2", "layer2"), ("layer3", "layer3"), ("layer4", "layer4")]))),
    ("timm_convnext", dict(
        seed=102, builder="timm.create_model", name="convnext_tiny",
        kwargs=dict(num_classes=CLASSES, depths=[1, 1, 2, 1], dims=[8, 16, 32, 64]),
        must_have=["stages.1.blocks.0.gamma", "stages.2.blocks.1.mlp.fc2.bias"],
        stages=OrderedDict((s, s) for s in CNX_STAGES))),
    ("timm_convnext_convmlp", dict(
        seed=103, builder="timm.create_model", name="convnext_atto",
        kwargs=dict(num_classes=CLASSES, depths=[1, 1, 2, 1], dims=[8, 16, 32, 64], conv_mlp=True),
        must_have=["stages.1.blocks.0.gamma", "stages.2.blocks.1.mlp.fc2.bias"],
        stages=OrderedDict((s, s) for s in CNX_STAGES))),
    ("timm_efficientnet", dict(
        seed=104, builder="timm.models.efficientnet._gen_efficientnet", name="efficientnet_b0",
        kwargs=dict(num_classes=CLASSES, channel_multiplier=0.125, depth_multiplier=0.5),
        must_have=["blocks.0.0.conv_pw.weight", "blocks.6.0.conv_pwl.weight", "conv_head.weight"],
        stages=OrderedDict((s, s) for s in ["bn1"] + ["blocks.%d" % i for i in range(7)] + ["bn2"]))),
])


def build(case):
    """timm's random init under the case seed; eval mode; not yet perturbed."""
    torch.manual_seed(case["seed"])
    model = BUILDERS[case["builder"]](case["name"], **case["kwargs"])
    return model.eval()


def run(model, x, stages):
    """Logits and the cloned output of each stage module."""
    modules = dict(model.named_modules())
    feats, handles = OrderedDict(), []
    for stage, module_name in stages.items():
        def hook(_m, _inp, out, stage=stage):
            feats[stage] = out.detach().clone()
        handles.append(modules[module_name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return logits, feats


def make_case(out_dir, case_name, case):
    model = build(case)
    gen = torch.Generator().manual_seed(case["seed"] * 1000 + 1)
    perturb(model, gen)
    x = torch.randn(INPUT, generator=torch.Generator().manual_seed(case["seed"] * 1000 + 2))
    logits, feats = run(model, x, case["stages"])
    assert list(logits.shape) == [1, CLASSES], logits.shape

    case_dir = out_dir / case_name
    case_dir.mkdir(parents=True, exist_ok=True)
    sd = model.state_dict()
    missing = [k for k in case["must_have"] if k not in sd]
    assert not missing, "%s: expected keys missing: %s" % (case_name, missing)
    for k, v in sd.items():
        assert v.dtype == torch.float32 or k.endswith("num_batches_tracked"), (k, v.dtype)
    write_safetensors(case_dir / "model.safetensors", sd, metadata={"format": "pt"})
    save_config_for_hf(model, case_dir / "config.json")

    ref = OrderedDict([("cnn.input", x), ("cnn.logits", logits)])
    for stage, f in feats.items():
        ref["cnn.features." + stage] = f
    write_safetensors(out_dir / (case_name + ".ref.safetensors"), ref)

    # Reload into a fresh model (different seed, so nothing carries over) and compare.
    fresh_case = dict(case, seed=case["seed"] + 50000)
    fresh = build(fresh_case)
    fresh.load_state_dict(read_safetensors(case_dir / "model.safetensors"), strict=True)
    logits2, feats2 = run(fresh, x, case["stages"])
    assert torch.equal(logits, logits2), "%s: reloaded logits differ" % case_name
    for stage in feats:
        assert torch.equal(feats[stage], feats2[stage]), "%s: reloaded %s differs" % (case_name, stage)

    with open(case_dir / "config.json") as f:
        architecture = json.load(f)["architecture"]
    return OrderedDict([
        ("stages", list(case["stages"])),
        ("architecture", architecture),
        ("input", INPUT),
        ("params", sum(p.numel() for p in model.parameters())),
        ("stage_shapes", OrderedDict((s, list(f.shape)) for s, f in feats.items())),
        ("build", OrderedDict([("builder", case["builder"]), ("name", case["name"]),
                               ("kwargs", case["kwargs"]), ("seed", case["seed"]),
                               ("stage_modules", case["stages"]),
                               ("timm_version", timm.__version__), ("timm_commit", TIMM_COMMIT)])),
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder, e.g. tests/fixtures/timm")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one summation order, the same on every run
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = OrderedDict()
    for case_name, case in CASES.items():
        cases[case_name] = make_case(out_dir, case_name, case)
        print("%-22s %-16s params %7d  reload ok" % (case_name, cases[case_name]["architecture"],
                                                    cases[case_name]["params"]))
    with open(out_dir / "cases.json", "w") as f:
        json.dump(cases, f, indent=2)
        f.write("\n")
    total = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    print("total %d bytes in %s" % (total, out_dir))
    if total >= 3 * 1000 * 1000:
        sys.exit("fixtures exceed 3 MB")


if __name__ == "__main__":
    main()
