#!/usr/bin/env python3
"""Integrated gradients made by Captum itself, for tst_integratedgradients.

Captum's IntegratedGradients.attribute (pytorch/captum at faac0877, pure Python, imported from a
`git archive`; it needs Debian's python3-tqdm) with its default approximation ("gausslegendre")
at 64 steps, on two committed timm fixtures rebuilt by timm itself (commit aa4b5850, as
make_timm_fixtures.py and make_vit_tower_fixtures.py build them) with their committed weights:

  cnn  tests/fixtures/timm/timm_resnet_d   (resnet50d, small)
  vit  tests/fixtures/vit/timm_deit3       (deit3_small_patch16_224, small)

Each explains class 3 of a fixed random input [1, 3, 64, 64] from two baselines:
  black  (0 - mean) / std per channel, mean and std from the fixture's config.json
  blur   torchvision's gaussian_blur of the input with sigma = 64 / 16 = 4 px and 25 taps
         (2 ceil(3 sigma) + 1) along each axis

    PYTHONPATH=/path/to/captum_src:/path/to/timm_src /usr/bin/python3 tests/scripts/make_ig_fixture.py \\
        --out tests/fixtures/attribution/integrated_gradients.ref.safetensors

Writes F32: <m>.input [1, 3, 64, 64], <m>.baseline.<b> [1, 3, 64, 64], <m>.attr.<b> [1, 3, 64, 64]
(Captum's attributions), <m>.delta.<b> [1] (Captum's convergence delta) for m in cnn, vit and b in
black, blur.
"""
import argparse
import json
import pathlib
import sys
from collections import OrderedDict

import torch
import torchvision.transforms.functional as TF
from captum.attr import IntegratedGradients

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from attribution_models import SIDE, models_and_inputs  # noqa: E402
from make_reference import write_safetensors  # noqa: E402

CLASS, STEPS = 3, 64


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = OrderedDict()
    for key, folder, model, x in models_and_inputs(60):
        config = json.loads((folder / "config.json").read_text())["pretrained_cfg"]
        black = ((0.0 - torch.tensor(config["mean"])) / torch.tensor(config["std"])).view(1, 3, 1, 1).expand_as(x)
        blur = TF.gaussian_blur(x, kernel_size=[25, 25], sigma=[SIDE / 16, SIDE / 16])
        out[f"{key}.input"] = x
        for baseline_name, baseline in [("black", black.contiguous()), ("blur", blur)]:
            attr, delta = IntegratedGradients(model).attribute(
                x, baselines=baseline, target=CLASS, n_steps=STEPS, method="gausslegendre",
                internal_batch_size=16, return_convergence_delta=True)
            out[f"{key}.baseline.{baseline_name}"] = baseline
            out[f"{key}.attr.{baseline_name}"] = attr.detach()
            out[f"{key}.delta.{baseline_name}"] = delta.detach().float().reshape(1)
            print(key, baseline_name, "sum", attr.sum().item(), "delta", delta.item())
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(args.out, OrderedDict((k, v.float().contiguous()) for k, v in out.items()))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
