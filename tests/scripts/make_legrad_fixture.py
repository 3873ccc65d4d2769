#!/usr/bin/env python3
"""LeGrad maps made by the authors' own code, for tst_legrad.

LeGrad (Bousselham et al., ICCV 2025) is defined by its authors' repository WalBouss/LeGrad;
this script runs that code unchanged (legrad/wrapper.py LeWrapper.compute_legrad_clip at
commit a9edb031) on a small open_clip CLIP built through open_clip's own constructor, its
weights open_clip's random init under a fixed seed with the norms perturbed. Made once and
committed (neither open_clip nor LeGrad is a Debian package); the tests only read the output.

Needs open_clip v2.23.0 (LeGrad pins open_clip_torch<=2.23.0), imported as a bare package as
make_text_tower_fixtures.py does, and what LeGrad imports: timm (for a function it calls only
when the image size changes), einops, and Debian's python3-opencv, python3-matplotlib and
python3-pil. Made with einops ccb89f2 and timm aa4b5850, both pure Python from `git archive`:

    PYTHONPATH=/path/to/legrad_src:/path/to/timm_src:/path/to/einops_src /usr/bin/python3 \\
        tests/scripts/make_legrad_fixture.py --open-clip /path/to/open_clip-2.23.0/src/open_clip \\
        --out tests/fixtures/text

The one change to LeGrad's behaviour: the wrapper's patch_size is set to 1, so that its
bilinear upsampling (F.interpolate with scale_factor=patch_size) is the identity and the map
comes back over the patch grid, min-max normalised there, as attnviz returns it.

Writes tests/fixtures/text/legrad_clip/ (open_clip_pytorch_model.bin, open_clip_config.json:
a 64-px image of 8 x 8 patches, 3 blocks, 2 heads) and legrad_clip.ref.safetensors:
  image.input F32 [1, 3, 64, 64]   the image
  text.embeds F32 [P, E]           open_clip's encode_text of PROMPTS, normalised (LeGrad's input)
  legrad.last2 F32 [P, 8, 8]       compute_legrad_clip with LeWrapper's default layer_index=-2
  legrad.all F32 [P, 8, 8]         with layer_index=0: every block summed
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
import make_text_tower_fixtures as towers  # noqa: E402
from make_reference import write_safetensors  # noqa: E402

PROMPTS = ["a photo of a cat", "a drawing of a dog", "tench"]
VISION = dict(image_size=64, layers=3, width=32, patch_size=8, head_width=16)


def import_legrad(open_clip_path):
    model, tokenizer, _ = towers.import_open_clip(open_clip_path)
    import open_clip
    import open_clip.constants as constants
    open_clip.OPENAI_DATASET_MEAN = constants.OPENAI_DATASET_MEAN  # what LeGrad's utils import from the package
    open_clip.OPENAI_DATASET_STD = constants.OPENAI_DATASET_STD
    import legrad
    return model, tokenizer, legrad


def legrad_maps(oc_model, legrad, state, image, text, layer_index):
    """compute_legrad_clip of a fresh model holding `state`, wrapped at `layer_index`: [P, h, w]."""
    model = oc_model.CLIP(embed_dim=32, vision_cfg=VISION, text_cfg=text["cfg"], quick_gelu=True).eval()
    model.load_state_dict(state)
    wrapped = legrad.LeWrapper(model, layer_index=layer_index)
    wrapped.patch_size = 1  # no upsampling: the map over the patch grid
    maps = wrapped.compute_legrad_clip(text_embedding=text["embeds"], image=image)  # [1, P, h, w]
    return maps[0].detach()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--open-clip", required=True, help="open_clip v2.23.0's src/open_clip folder")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    oc_model, oc_tok, legrad = import_legrad(args.open_clip)

    tokenizer = oc_tok.SimpleTokenizer(bpe_path=str(towers.FIXTURES / "clip_bpe" / "bpe_simple_vocab_16e6.txt.gz"))
    text_cfg = dict(context_length=77, vocab_size=len(tokenizer.encoder), width=32, heads=2, layers=2)
    torch.manual_seed(41)
    model = oc_model.CLIP(embed_dim=32, vision_cfg=VISION, text_cfg=text_cfg, quick_gelu=True).eval()
    towers.perturb(model, 42)
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(43))
    with torch.no_grad():
        embeds = F.normalize(model.encode_text(tokenizer(PROMPTS, context_length=77)), dim=-1)
    text = {"cfg": text_cfg, "embeds": embeds}

    config = {"model_cfg": {"embed_dim": 32, "quick_gelu": True, "vision_cfg": VISION, "text_cfg": text_cfg},
              "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                                 "std": [0.26862954, 0.26130258, 0.27577711]}}
    towers.write_folder(out / "legrad_clip", state, "open_clip_config.json", config)
    (out / "legrad_clip" / "open_clip_config.json").write_text(json.dumps(config, indent=1) + "\n")
    write_safetensors(str(out / "legrad_clip.ref.safetensors"), OrderedDict([
        ("image.input", image.float()), ("text.embeds", embeds.float()),
        ("legrad.last2", legrad_maps(oc_model, legrad, state, image, text, -2).float().contiguous()),
        ("legrad.all", legrad_maps(oc_model, legrad, state, image, text, 0).float().contiguous())]))
    print("wrote", out / "legrad_clip", "and legrad_clip.ref.safetensors")


if __name__ == "__main__":
    main()
