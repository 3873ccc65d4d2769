#!/usr/bin/env python3
"""SmoothGrad and occlusion made by Captum itself, for tst_perturbation.

Captum (pytorch/captum at faac0877, pure Python, imported from a `git archive`; it needs
Debian's python3-tqdm) on the two committed timm fixtures that make_ig_fixture.py uses,
rebuilt by timm itself (commit aa4b5850) with their committed weights:

  cnn  tests/fixtures/timm/timm_resnet_d   (resnet50d, small)
  vit  tests/fixtures/vit/timm_deit3       (deit3_small_patch16_224, small)

Each explains class 3 of a fixed random input [1, 3, 64, 64]:
  smoothgrad  NoiseTunnel(Saliency).attribute(nt_type="smoothgrad", nt_samples=8,
              nt_samples_batch_size=3, stdevs=0.15 * (max x - min x)); the noise Captum drew
              (torch.normal, wrapped to record it) is written beside, so the test feeds the
              same noise to attnviz
  occlusion   Occlusion.attribute(sliding_window_shapes=(3, w, w), strides=(3, s, s),
              baselines=0) for (w, s) = (12, 8) (windows cut at the border) and (16, 16)

    PYTHONPATH=/path/to/captum_src:/path/to/timm_src /usr/bin/python3 \\
        tests/scripts/make_perturbation_fixture.py \\
        --out tests/fixtures/attribution/perturbation.ref.safetensors

Writes F32: <m>.input [1, 3, 64, 64], <m>.smoothgrad.noise [8, 3, 64, 64],
<m>.smoothgrad [1, 3, 64, 64], <m>.occlusion.<w>x<s> [1, 3, 64, 64] for m in cnn, vit.
"""
import argparse
import pathlib
import sys
from collections import OrderedDict

import torch
from captum.attr import NoiseTunnel, Occlusion, Saliency

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from attribution_models import SIDE, models_and_inputs  # noqa: E402
from make_reference import write_safetensors  # noqa: E402

CLASS, SAMPLES, LEVEL = 3, 8, 0.15
PATCHES = [(12, 8), (16, 16)]


def recorded_noise(call):
    """Runs call() with torch.normal wrapped; returns its result and every draw, concatenated."""
    draws, normal = [], torch.normal

    def recording(*args, **kwargs):
        out = normal(*args, **kwargs)
        draws.append(out.detach().clone())
        return out

    torch.normal = recording
    try:
        result = call()
    finally:
        torch.normal = normal
    return result, torch.cat(draws)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = OrderedDict()
    for i, (key, _, model, x) in enumerate(models_and_inputs(70)):
        out[f"{key}.input"] = x
        torch.manual_seed(80 + i)
        sigma = LEVEL * (x.max() - x.min()).item()
        smooth, noise = recorded_noise(lambda: NoiseTunnel(Saliency(model)).attribute(
            x, nt_type="smoothgrad", nt_samples=SAMPLES, nt_samples_batch_size=3, stdevs=sigma, target=CLASS))
        assert noise.shape == (SAMPLES, 3, SIDE, SIDE), noise.shape
        out[f"{key}.smoothgrad.noise"] = noise
        out[f"{key}.smoothgrad"] = smooth.detach()
        print(key, "smoothgrad sigma", sigma, "max", smooth.max().item())
        for window, stride in PATCHES:
            occluded = Occlusion(model).attribute(
                x, sliding_window_shapes=(3, window, window), strides=(3, stride, stride), baselines=0,
                target=CLASS, perturbations_per_eval=16)
            out[f"{key}.occlusion.{window}x{stride}"] = occluded.detach()
            print(key, f"occlusion {window}x{stride}", "min", occluded.min().item(), "max", occluded.max().item())
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(args.out, OrderedDict((k, v.float().contiguous()) for k, v in out.items()))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
