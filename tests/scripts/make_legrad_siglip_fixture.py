#!/usr/bin/env python3
"""LeGrad maps of a SigLIP (an attention-pooling head) made by the authors' own code, for tst_legrad.

Runs WalBouss/LeGrad's LeWrapper.compute_legrad_siglip (legrad/wrapper.py at commit a9edb031)
unchanged on a small open_clip CustomTextCLIP whose image tower is open_clip's TimmModel
(timm_pool "map", timm_proj "none") around timm's VisionTransformer built as timm builds its
SigLIP towers (class_token=False, global_pool="map"), and whose text tower is SigLIP's (the
openclip_siglip fixture's configuration). Random weights under fixed seeds, the norms perturbed.
Made once and committed; the tests only read the output.

Needs what make_legrad_fixture.py needs (open_clip v2.23.0, LeGrad, timm, einops from `git
archive`, Debian's python3-opencv, python3-matplotlib, python3-pil) and python3-sentencepiece:

    PYTHONPATH=/path/to/legrad_src:/path/to/timm_src:/path/to/einops_src /usr/bin/python3 \\
        tests/scripts/make_legrad_siglip_fixture.py --open-clip /path/to/open_clip-2.23.0/src/open_clip \\
        --out tests/fixtures/text

timm has no registered SigLIP this small, so open_clip's call to timm.create_model is answered
with timm's own VisionTransformer class at these sizes, and its call to open_clip.get_tokenizer
(for the correction's prompt "a photo of a", a tokenizer it would fetch from the HF hub) with
the fixture's SentencePiece ids, as make_text_tower_fixtures.py makes them; the rest of open_clip
and LeGrad run as they are. The wrapper's patch_size is set to 1 (as in make_legrad_fixture.py),
so the map comes back over the 8 x 8 grid, min-max normalised there. compute_legrad_siglip sums
the scores of all the prompts it is given, so each prompt's map is computed alone.

Writes tests/fixtures/text/legrad_siglip/ (open_clip_pytorch_model.bin, open_clip_config.json:
a 64-px image of 8 x 8 patches, 3 blocks, 2 heads, width 32) and legrad_siglip.ref.safetensors:
  image.input F32 [1, 3, 64, 64]   the image
  text.embeds F32 [P, 32]          open_clip's encode_text of PROMPTS, normalised (LeGrad's input)
  text.neutral F32 [1, 32]         the same of "a photo of a", the correction's prompt
  legrad.last2 F32 [P, 8, 8]       layer_index=-2 (LeWrapper's default), apply_correction=False
  legrad.all F32 [P, 8, 8]         layer_index=0: every block summed, apply_correction=False
  legrad.corrected F32 [P, 8, 8]   layer_index=-2, apply_correction=True (the authors' default)
"""
import argparse
import json
import pathlib
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_legrad_fixture as clip_fixture  # noqa: E402
import make_text_tower_fixtures as towers  # noqa: E402
from make_reference import write_safetensors  # noqa: E402

PROMPTS = ["a photo of a cat", "a drawing of a dog", "tench"]
WIDTH, DEPTH, HEADS, PATCH, IMAGE = 32, 3, 2, 8, 64
TIMM_NAME = "vit_tiny_patch8_siglip_64"  # not a timm model: its name says what it is built as
VISION_CFG = dict(timm_model_name=TIMM_NAME, timm_model_pretrained=False, timm_pool="map", timm_proj="none",
                  image_size=IMAGE, width=WIDTH, head_width=WIDTH // HEADS, patch_size=PATCH)


def tiny_siglip_trunk(model_name, num_classes=0, global_pool="map", pretrained=False, **kwargs):
    """What open_clip's TimmModel asks timm.create_model for, built by timm's own class."""
    from timm.models.vision_transformer import VisionTransformer
    assert model_name == TIMM_NAME and not pretrained
    return VisionTransformer(img_size=IMAGE, patch_size=PATCH, embed_dim=WIDTH, depth=DEPTH, num_heads=HEADS,
                             mlp_ratio=2.0, class_token=False, global_pool=global_pool, num_classes=num_classes,
                             **kwargs)


def build(oc_model):
    return oc_model.CustomTextCLIP(embed_dim=WIDTH, vision_cfg=VISION_CFG, text_cfg=towers.siglip_text_cfg(),
                                   init_logit_bias=-10.0).eval()


def legrad_maps(oc_model, legrad, state, image, embeds, layer_index, correct=False):
    """compute_legrad_siglip of each prompt alone on a fresh model holding `state`: [P, h, w]."""
    maps = []
    for p in range(embeds.shape[0]):
        model = build(oc_model)
        model.load_state_dict(state)
        wrapped = legrad.LeWrapper(model, layer_index=layer_index)
        wrapped.patch_size = 1  # no upsampling: the map over the patch grid
        m = wrapped.compute_legrad_siglip(text_embedding=embeds[p:p + 1], image=image, apply_correction=correct)
        maps.append(m[0, 0].detach())  # [1, 1, h, w] -> [h, w]
    return torch.stack(maps)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--open-clip", required=True, help="open_clip v2.23.0's src/open_clip folder")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    oc_model, _, legrad = clip_fixture.import_legrad(args.open_clip)
    import open_clip
    import open_clip.timm_model as timm_model
    timm_model.timm.create_model = tiny_siglip_trunk
    vocabulary = towers.siglip_text_cfg()["vocab_size"]
    open_clip.get_tokenizer = lambda model_name: (lambda texts: towers.siglip_ids(vocabulary, texts))

    torch.manual_seed(51)
    model = build(oc_model)
    towers.perturb(model, 52)
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    image = torch.randn(1, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(53))
    with torch.no_grad():
        embeds = F.normalize(model.encode_text(towers.siglip_ids(vocabulary, PROMPTS)), dim=-1)
        neutral = F.normalize(model.encode_text(towers.siglip_ids(vocabulary, ["a photo of a"])), dim=-1)

    config = {"model_cfg": {"embed_dim": WIDTH, "quick_gelu": False, "vision_cfg": VISION_CFG,
                            "text_cfg": towers.siglip_text_cfg()},
              "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "resize_mode": "squash"}}
    towers.write_folder(out / "legrad_siglip", state, "open_clip_config.json", config)
    write_safetensors(str(out / "legrad_siglip.ref.safetensors"), OrderedDict([
        ("image.input", image.float()), ("text.embeds", embeds.float()), ("text.neutral", neutral.float()),
        ("legrad.last2", legrad_maps(oc_model, legrad, state, image, embeds, -2).float().contiguous()),
        ("legrad.all", legrad_maps(oc_model, legrad, state, image, embeds, 0).float().contiguous()),
        ("legrad.corrected", legrad_maps(oc_model, legrad, state, image, embeds, -2, True).float().contiguous())]))
    print("wrote", out / "legrad_siglip", "and legrad_siglip.ref.safetensors")


if __name__ == "__main__":
    main()
