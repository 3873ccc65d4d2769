#!/usr/bin/env python3
"""Generic attention of a CLIP prompt, made by Chefer et al.'s own CLIP notebook, for tst_texttowers.

Chefer, Gur & Wolf's generic attention explainability (ICCV 2021) explains CLIP's image-text
score in their repository's CLIP_explainability.ipynb (hila-chefer/Transformer-MM-
Explainability, commit 58eaea8): `interpret(image, texts, model, device, start_layer)` takes
the gradient of each image's logit for its own prompt with respect to every block's attention
probabilities, on their copy of OpenAI's CLIP (CLIP/clip/model.py, which keeps them). This
script runs that function as the notebook defines it (its cell is read from the .ipynb and
executed) on their CLIP model built by their `build_model` from the weights of a small open_clip
v2.23.0 CLIP (open_clip's keys are OpenAI's), made here with open_clip's constructor and random
init, norms perturbed. Made once and committed; the tests only read the output:

    PYTHONPATH=/path/to/ftfy_src /usr/bin/python3 tests/scripts/make_clip_explainability_fixture.py \\
        --open-clip /path/to/open_clip-2.23.0/src/open_clip \\
        --chefer /path/to/Transformer-MM-Explainability --out tests/fixtures/text

What differs from running the notebook: it runs on the CPU, so `Tensor.cuda` (which the
function calls on its one-hot tensor) is the identity here, and the model computes in float32
as their `clip.load` leaves it on a CPU (its weights rounded to float16 by their
`build_model`, which are the weights committed). Their `build_model` gives a block width // 64 heads, so
the model is 128 wide (2 heads) in the image tower and 64 (1 head) in the text tower.

Writes tests/fixtures/text/chefer_clip/ (open_clip_pytorch_model.bin, open_clip_config.json:
48 px, 6 x 6 patches of 8 px, 2 blocks) and chefer_clip.ref.safetensors:
  image.input F32 [1, 3, 48, 48]
  text.embeds F32 [P, E]        open_clip's encode_text of PROMPTS (before normalisation)
  generic.last F32 [P, 6, 6]    interpret's image_relevance with start_layer=-1 (the notebook's
                                default: the last block only)
  generic.all F32 [P, 6, 6]     with start_layer=0 (every block)
"""
import argparse
import json
import pathlib
import sys
import types
from collections import OrderedDict

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_text_tower_fixtures as towers  # noqa: E402
from make_reference import write_safetensors  # noqa: E402

PROMPTS = ["a photo of a cat", "a drawing of a dog", "tench"]
VISION = dict(image_size=48, layers=2, width=128, patch_size=8, head_width=64)


def chefer_modules(repo):
    """Their CLIP/clip/model.py as a module (its package's __init__ wants torchvision and
    downloads), and the notebook's interpret function."""
    pkg = types.ModuleType("chefer_clip")
    pkg.__path__ = [str(pathlib.Path(repo) / "CLIP" / "clip")]
    sys.modules["chefer_clip"] = pkg
    import chefer_clip.model as model
    notebook = json.loads((pathlib.Path(repo) / "CLIP_explainability.ipynb").read_text())
    cell = next("".join(c["source"]) for c in notebook["cells"] if "def interpret(" in "".join(c["source"]))
    scope = {"torch": torch, "np": __import__("numpy"), "start_layer": -1, "start_layer_text": -1}
    exec(cell, scope)  # noqa: S102 - the notebook's own definition, run as it stands
    return model, scope["interpret"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--open-clip", required=True, help="open_clip v2.23.0's src/open_clip folder")
    parser.add_argument("--chefer", required=True, help="a checkout of hila-chefer/Transformer-MM-Explainability")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    oc_model, oc_tok, _ = towers.import_open_clip(args.open_clip)
    chefer_model, interpret = chefer_modules(args.chefer)
    torch.Tensor.cuda = lambda self, *a, **k: self  # the notebook's one .cuda(), on a CPU

    tokenizer = oc_tok.SimpleTokenizer(bpe_path=str(towers.FIXTURES / "clip_bpe" / "bpe_simple_vocab_16e6.txt.gz"))
    text_cfg = dict(context_length=77, vocab_size=len(tokenizer.encoder), width=64, heads=1, layers=1)
    torch.manual_seed(51)
    model = oc_model.CLIP(embed_dim=32, vision_cfg=VISION, text_cfg=text_cfg, quick_gelu=True).eval()
    towers.perturb(model, 52)
    # Their build_model makes the model float16 before it loads the weights, rounding them;
    # .float() then gives float32 compute. The committed weights are those rounded ones, so
    # that both sides compute with the same numbers.
    theirs = chefer_model.build_model(OrderedDict(model.state_dict())).float().eval()
    model.load_state_dict(theirs.state_dict())
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    ids = tokenizer(PROMPTS, context_length=77)
    image = torch.randn(1, 3, 48, 48, generator=torch.Generator().manual_seed(53))
    with torch.no_grad():
        embeds = model.encode_text(ids)
    maps = {}
    for key, start in [("generic.last", -1), ("generic.all", 0)]:
        _, relevance = interpret(image, ids, theirs, "cpu", start_layer=start)  # [P, patches]
        maps[key] = relevance.detach().reshape(len(PROMPTS), 6, 6).float().contiguous()

    config = {"model_cfg": {"embed_dim": 32, "quick_gelu": True, "vision_cfg": VISION, "text_cfg": text_cfg},
              "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                                 "std": [0.26862954, 0.26130258, 0.27577711]}}
    towers.write_folder(out / "chefer_clip", state, "open_clip_config.json", config)
    write_safetensors(str(out / "chefer_clip.ref.safetensors"), OrderedDict(
        [("image.input", image.float()), ("text.embeds", embeds.float())] + list(maps.items())))
    print("wrote", out / "chefer_clip", "and chefer_clip.ref.safetensors")


if __name__ == "__main__":
    main()
