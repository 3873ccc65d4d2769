#!/usr/bin/env python3
"""A random-weight CLIP ViT-B/16 in open_clip's layout, for scripts/benchmark-prompts.sh.

Writes OUT/open_clip_pytorch_model.bin and OUT/open_clip_config.json with ViT-B-16's shapes
(image tower: width 768, 12 blocks, patch 16, 224 px; text tower: width 512, 12 blocks, 8 heads,
context 77, vocabulary 49,408; embedding 512; QuickGELU), and copies the test vocabulary
(tests/fixtures/text/clip_bpe, 1,500 merges) beside it: the ids are not CLIP's, their count and
the arithmetic are. Plain torch: the keys are open_clip's (src/open_clip/model.py, CLIP).
"""
import json
import pathlib
import shutil
import sys
from collections import OrderedDict

import torch

WIDTH, LAYERS, PATCH, IMAGE = 768, 12, 16, 224
TEXT_WIDTH, TEXT_LAYERS, CONTEXT, VOCAB, EMBED = 512, 12, 77, 49408, 512


def blocks(sd, prefix, width, layers, gen):
    for i in range(layers):
        p = f"{prefix}transformer.resblocks.{i}."
        for name, shape in [("ln_1.weight", [width]), ("ln_1.bias", [width]), ("attn.in_proj_weight", [3 * width, width]),
                            ("attn.in_proj_bias", [3 * width]), ("attn.out_proj.weight", [width, width]),
                            ("attn.out_proj.bias", [width]), ("ln_2.weight", [width]), ("ln_2.bias", [width]),
                            ("mlp.c_fc.weight", [4 * width, width]), ("mlp.c_fc.bias", [4 * width]),
                            ("mlp.c_proj.weight", [width, 4 * width]), ("mlp.c_proj.bias", [width])]:
            sd[p + name] = (1.0 if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") else 0.0) + \
                0.02 * torch.randn(shape, generator=gen)


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    rand = lambda *shape: 0.02 * torch.randn(list(shape), generator=gen)
    sd = OrderedDict()
    sd["visual.class_embedding"] = rand(WIDTH)
    sd["visual.positional_embedding"] = rand((IMAGE // PATCH) ** 2 + 1, WIDTH)
    sd["visual.proj"] = rand(WIDTH, EMBED)
    sd["visual.conv1.weight"] = rand(WIDTH, 3, PATCH, PATCH)
    for n in ["visual.ln_pre", "visual.ln_post"]:
        sd[n + ".weight"], sd[n + ".bias"] = 1 + rand(WIDTH), rand(WIDTH)
    blocks(sd, "visual.", WIDTH, LAYERS, gen)
    sd["positional_embedding"] = rand(CONTEXT, TEXT_WIDTH)
    sd["text_projection"] = rand(TEXT_WIDTH, EMBED)
    sd["logit_scale"] = torch.tensor(4.6052)
    blocks(sd, "", TEXT_WIDTH, TEXT_LAYERS, gen)
    sd["token_embedding.weight"] = rand(VOCAB, TEXT_WIDTH)
    sd["ln_final.weight"], sd["ln_final.bias"] = 1 + rand(TEXT_WIDTH), rand(TEXT_WIDTH)
    torch.save(sd, out / "open_clip_pytorch_model.bin")
    config = {"model_cfg": {"embed_dim": EMBED, "quick_gelu": True,
                            "vision_cfg": {"image_size": IMAGE, "layers": LAYERS, "width": WIDTH, "patch_size": PATCH},
                            "text_cfg": {"context_length": CONTEXT, "vocab_size": VOCAB, "width": TEXT_WIDTH,
                                         "heads": 8, "layers": TEXT_LAYERS}},
              "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                                 "std": [0.26862954, 0.26130258, 0.27577711]}}
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=1) + "\n")
    root = pathlib.Path(__file__).resolve().parents[1]
    shutil.copy(root / "tests/fixtures/text/clip_bpe/bpe_simple_vocab_16e6.txt.gz", out)


if __name__ == "__main__":
    main()
