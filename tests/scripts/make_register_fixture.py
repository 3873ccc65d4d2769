#!/usr/bin/env python3
"""A small timm ViT with a planted high-norm artifact, and the test-time register of Jiang et
al. (NeurIPS 2025) run on it by the authors' own code.

The model is timm's VisionTransformer (vit_small_patch16_224 at embed_dim 32, depth 3, 2 heads,
mlp_ratio 2, 64x64 px: 16 patches, 5 classes) under a fixed seed, with one mechanism planted
by hand so that its artifact is known:
  * block 0, MLP unit PLANTED_NEURON fires only at patch ARTIFACT_PATCH: the patch's position
    embedding gets +TRIGGER on coordinate 0, fc1's row reads coordinate 0 of norm2's output
    (weight 2, bias -6), and fc2's column writes 60 * e_1 into the residual stream, so that
    the patch's token leaves the last block with a norm of 207 to 267 (the others 0.1 to 8);
  * blocks 1 and 2, head 0: keys read coordinate 1 of norm1's output (weight 3) and every
    query has a bias of 3 on the same channel, so that head 0 of every token, the CLS token's
    included, attends almost only to the high-norm token, as in Darcet et al.'s figures;
  * the head's weights are scaled up (N(0, 0.5)) so that the logits are not all near zero.
No other weight is touched.

The reference is the authors' repository nickjiang2378/test-time-registers at commit
860df43515c8d8e9e90952af25a46c26e4469570 (`git archive` of its shared/ folder on PYTHONPATH),
run through the extension point its custom_model/ folder describes: a HookManager subclass
naming timm's modules (blocks[l].attn.attn_drop for the attention after softmax, blocks[l] for
a layer's output, blocks[l].mlp.act for the MLP units), and a run_model that appends the extra
tokens (zeros, after the position embedding, as its CLIP code does) with a forward hook on
timm's patch_drop. Its find_register_neurons ranks the units (detect_outliers_layer -1,
register_norm_threshold NORM_THRESHOLD, apply_sparsity_filter True as register_neurons.ipynb
does); its filter_layers keeps blocks 0..HIGHEST_BLOCK; its intervene_register_neurons
(normal_values "zero", scale 1, one register) moves the top TOP_K units to the register.
shared/utils.py imports matplotlib for its plots, which are not used: the module is stubbed.

    PYTHONPATH=/path/to/timm_src:/path/to/test-time-registers /usr/bin/python3 \\
        tests/scripts/make_register_fixture.py --out tests/fixtures/registers

Writes into --out:
  planted_vit/model.safetensors, planted_vit/config.json   (timm's save_config_for_hf, with
                                                            num_heads 2 added for attnviz)
  registers.ref.safetensors:
    inputs [N,3,64,64]            the images as the model reads them (ToTensor, normalised)
    ranked.block, ranked.neuron   I64 [RANKED]: the units find_register_neurons ranks first
    ranked.score [RANKED]         within blocks 0..HIGHEST_BLOCK, and their scores
    logits.without, logits.with   [N,5]: the model's logits, without and with the register
    cls.without [N,H,1+P]         every head's CLS row of the last block's attention
    cls.with [N,H,1+P+1]          ... with the register, in the authors' order: CLS, patches,
                                  register
    norms.without [N,1+P], norms.with [N,1+P+1]   token norms after the last block
  registers.json: the constants below and the build.
"""
import argparse
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

# shared/utils.py imports matplotlib (for plots this script does not draw).
for name in ("matplotlib", "matplotlib.pyplot", "mpl_toolkits", "mpl_toolkits.axes_grid1"):
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules["mpl_toolkits.axes_grid1"].make_axes_locatable = None

import timm  # noqa: E402
from timm.models._hub import save_config_for_hf  # noqa: E402
from PIL import Image  # noqa: E402
from shared.algorithms import find_register_neurons  # noqa: E402
from shared.hook_manager import HookManager, HookMode  # noqa: E402
from shared.utils import filter_layers  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_reference import write_safetensors  # noqa: E402

SEED = 27
SIDE = 64
IMAGES = 4
ARTIFACT_PATCH = 5           # row 1, column 1 of the 4x4 grid
PLANTED_NEURON = 5
TRIGGER = 8.0
NORM_THRESHOLD = 30.0
HIGHEST_BLOCK = 1
TOP_K = 1
RANKED = 5
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


def planted_vit():
    torch.manual_seed(SEED)
    model = timm.create_model("vit_small_patch16_224", pretrained=False, embed_dim=32, depth=3, num_heads=2,
                              mlp_ratio=2, img_size=SIDE, num_classes=5,
                              pretrained_cfg_overlay=dict(input_size=(3, SIDE, SIDE), crop_pct=1.0, mean=MEAN,
                                                          std=STD, num_classes=5)).eval()
    with torch.no_grad():
        model.pos_embed[0, 1 + ARTIFACT_PATCH, 0] += TRIGGER
        mlp = model.blocks[0].mlp
        mlp.fc1.weight[PLANTED_NEURON].zero_()
        mlp.fc1.weight[PLANTED_NEURON, 0] = 2.0
        mlp.fc1.bias[PLANTED_NEURON] = -6.0
        mlp.fc2.weight[:, PLANTED_NEURON].zero_()
        mlp.fc2.weight[1, PLANTED_NEURON] = 60.0
        dim, head_dim = 32, 16
        for b in model.blocks[1:]:
            b.attn.qkv.weight[dim, 1] += 3.0   # head 0's first key channel reads coordinate 1
            b.attn.qkv.bias[0] = 3.0           # head 0's first query channel: 3 for every token
        model.head.weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(SEED + 1))
    for b in model.blocks:
        b.attn.fused_attn = False  # the attention after softmax passes attn_drop, where it is logged
    return model


class TimmHooks(HookManager):
    """The authors' HookManager, told where timm keeps what it logs and edits."""

    def attn_post_softmax_component(self, layer):
        return self.model.blocks[layer].attn.attn_drop

    def layer_output_component(self, layer):
        return self.model.blocks[layer]

    def neuron_activation_component(self, layer):
        return self.model.blocks[layer].mlp.act

    def num_layers(self):
        return len(self.model.blocks)


def run_model(model, image, num_registers=None):
    """The model's logits; with num_registers, that many zero tokens appended after the
    position embedding (patch_drop runs right after it in timm)."""
    def append(module, inputs, output):
        zeros = output.new_zeros(output.shape[0], num_registers, output.shape[2])
        return torch.cat([output, zeros], 1)
    hook = model.patch_drop.register_forward_hook(append) if num_registers else None
    try:
        with torch.no_grad():
            return model(image)
    finally:
        if hook:
            hook.remove()


def to_input(image):
    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
    return ((x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)).unsqueeze(0)


def write_images(folder):
    gen = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(IMAGES):
        pixels = gen.integers(0, 256, size=(SIDE, SIDE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return sorted(folder.glob("*.png"))


def observe(model, hooks, x, neurons=None):
    """logits, the last block's CLS attention rows and token norms, with the authors' hooks."""
    hooks.reinit(mode=HookMode.ANALYSIS)
    if neurons:
        hooks.intervene_register_neurons(num_registers=1, neurons_to_ablate=neurons, normal_values="zero", scale=1)
    hooks.finalize()
    logits = run_model(model, x, 1 if neurons else None)
    attention = torch.from_numpy(hooks.get_attention_maps())  # [L, H, T, T] for the one image
    outputs = torch.from_numpy(hooks.get_layer_outputs())     # [L, T, D]
    hooks.reinit()
    return logits[0], attention[-1, :, 0, :], outputs[-1].norm(dim=-1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = Path(parser.parse_args().out)
    model = planted_vit()
    (out / "planted_vit").mkdir(parents=True, exist_ok=True)
    write_safetensors(out / "planted_vit" / "model.safetensors", model.state_dict(), {"format": "pt"})
    save_config_for_hf(model, out / "planted_vit" / "config.json")
    # timm's hub config does not say a ViT's heads; attnviz reads num_heads from it.
    config = json.load(open(out / "planted_vit" / "config.json"))
    config["num_heads"] = 2
    json.dump(config, open(out / "planted_vit" / "config.json", "w"), indent=2)

    scratch = out / "_images"
    files = write_images(scratch)
    inputs = torch.cat([to_input(Image.open(f)) for f in files])
    hooks = TimmHooks(model)
    state = dict(model=model, preprocess=lambda image: to_input(image)[0], run_model=run_model,
                 hook_manager=hooks, num_layers=len(model.blocks),
                 num_neurons_per_layer=model.blocks[0].mlp.fc1.out_features)
    ranked = find_register_neurons(state, str(scratch), register_norm_threshold=NORM_THRESHOLD,
                                   detect_outliers_layer=-1, device="cpu", processed_image_cnt=IMAGES,
                                   apply_sparsity_filter=True)
    for f in files:
        f.unlink()
    scratch.rmdir()
    kept = filter_layers(ranked, highest_layer=HIGHEST_BLOCK)
    neurons = {}
    for layer, neuron, _ in kept[:TOP_K]:
        neurons.setdefault(layer, []).append(neuron)
    assert neurons == {0: [PLANTED_NEURON]}, neurons

    ref = {"inputs": inputs,
           "ranked.block": torch.tensor([k[0] for k in kept[:RANKED]], dtype=torch.int64),
           "ranked.neuron": torch.tensor([k[1] for k in kept[:RANKED]], dtype=torch.int64),
           "ranked.score": torch.tensor([k[2] for k in kept[:RANKED]], dtype=torch.float32)}
    rows = {"logits.without": [], "logits.with": [], "cls.without": [], "cls.with": [], "norms.without": [],
            "norms.with": []}
    for x in inputs:
        for tag, chosen in (("without", None), ("with", neurons)):
            logits, cls, norms = observe(model, hooks, x.unsqueeze(0), chosen)
            rows["logits." + tag].append(logits)
            rows["cls." + tag].append(cls)
            rows["norms." + tag].append(norms)
    ref.update({k: torch.stack(v).float() for k, v in rows.items()})
    write_safetensors(out / "registers.ref.safetensors", ref)
    cls_without = ref["cls.without"][:, :, 1 + ARTIFACT_PATCH].mean().item()
    cls_with = ref["cls.with"][:, :, 1 + ARTIFACT_PATCH].mean().item()
    print("CLS mass on the artifact, mean of heads and images: %.4f without, %.4f with; on the register %.4f"
          % (cls_without, cls_with, ref["cls.with"][:, :, -1].mean().item()))
    print("artifact norm %.2f without, %.2f with; register norm %.2f" % (
        ref["norms.without"][:, 1 + ARTIFACT_PATCH].mean(), ref["norms.with"][:, 1 + ARTIFACT_PATCH].mean(),
        ref["norms.with"][:, -1].mean()))
    change = (ref["logits.with"] - ref["logits.without"]).norm(dim=1) / ref["logits.without"].norm(dim=1)
    same = (ref["logits.with"].argmax(1) == ref["logits.without"].argmax(1)).float().mean().item()
    print("logits: relative change max %.4f, top-1 agreement %.2f" % (change.max().item(), same))
    print("ranked:", kept[:RANKED])
    json.dump({"seed": SEED, "side": SIDE, "images": IMAGES, "artifact_patch": ARTIFACT_PATCH,
               "planted_neuron": PLANTED_NEURON, "norm_threshold": NORM_THRESHOLD,
               "highest_block": HIGHEST_BLOCK, "top_k": TOP_K, "ranked": RANKED, "mean": MEAN, "std": STD,
               "cls_on_artifact": {"without": cls_without, "with": cls_with},
               "build": {"timm": timm.__version__, "torch": torch.__version__,
                         "test_time_registers_commit": "860df43515c8d8e9e90952af25a46c26e4469570"}},
              open(out / "registers.json", "w"), indent=2)


if __name__ == "__main__":
    main()
