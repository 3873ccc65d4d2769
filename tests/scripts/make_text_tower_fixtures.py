#!/usr/bin/env python3
"""Small CLIP and SigLIP models with text towers, and what the real open_clip computes with them.

The models are open_clip's own classes (src/open_clip/model.py CLIP and CustomTextCLIP, whose
text half is transformer.py's TextTransformer), built small through their constructors, their
weights open_clip's random init under a fixed seed with the norms perturbed; the references
are open_clip's encode_text / encode_image. Made once and committed (open_clip is no Debian
package); the tests only read the output. Made with open_clip v2.23.0 (the last release that
runs on Debian's python3-torch 1.13), imported as a bare package from a `git archive` of the
tag (its __init__ wants tqdm and more), and python-ftfy 74dd0452 for its tokenizer:

    PYTHONPATH=/path/to/ftfy_src /usr/bin/python3 tests/scripts/make_text_tower_fixtures.py \\
        --open-clip /path/to/open_clip-2.23.0/src/open_clip --out tests/fixtures/text

Prompts are tokenized by open_clip's SimpleTokenizer with tests/fixtures/text/clip_bpe's
vocabulary (CLIP cases), and for SigLIP by Debian's python3-sentencepiece with
tests/fixtures/text/siglip_spm's model after HF's SiglipTokenizer normalisation
(siglip_tokenizer_reference.py), padded to 64 with the end token.

Cases, each a model folder <case>/ and (but hf_clip_text) <case>.ref.safetensors:
  openclip_clip    CLIP(quick_gelu): causal text tower, the end token's output (argmax), a
                   [W, E] text_projection; open_clip_pytorch_model.bin + open_clip_config.json
  hf_clip_text     the same weights under HF CLIPModel's names (transformers
                   models/clip/modeling_clip.py: vision_model.*, text_model.*,
                   visual_projection, text_projection as linear weights [E, W], q/k/v split);
                   config.json with eos_token_id 2 (the highest id ends a text).
                   It has no references of its own: openclip_clip's hold (the same arithmetic).
  openclip_siglip  CustomTextCLIP with SigLIP's text tower (text_cfg no_causal_mask, pool_type
                   "last", proj_bias, GELU tanh, LayerNorm eps 1e-6) and logit_bias; the text
                   half under "text."
  hf_siglip_text   openclip_siglip's text tower under HF SiglipModel's names (text_model.*,
                   its head = text_projection, logit_scale and logit_bias [1]) beside the
                   image tower of hf_tower_reference.py's SigLIP (written out from HF's code,
                   as tst_vittowers checks it); its image embedding from that script's forward.

The tokenizer files are not copied into the folders (the tests read them from clip_bpe and
siglip_spm), to keep the fixtures small.

<case>.ref.safetensors: text.ids I64 [P, context], text.embeds F32 [P, E] (before
normalisation), image.input F32 [1, 3, S, S], image.embed F32 [1, E], text.scores F32 [P]
(exp(logit_scale) * cosine (+ logit_bias), before softmax or sigmoid); zeroshot.classes F32
[K, E]: open_clip's build_zero_shot_classifier over LABELS and TEMPLATES (each template's
embedding normalised, averaged over the templates, normalised again), and zeroshot.logits F32
[K]: the image's scores against them (hf_siglip_text: its own image against openclip_siglip's
classes, the same text tower).
"""
import argparse
import json
import pathlib
import sys
import types
from collections import OrderedDict

import torch
import torch.nn.functional as F

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import hf_tower_reference as hf  # noqa: E402
import siglip_tokenizer_reference as siglip_tok  # noqa: E402
from make_reference import write_safetensors  # noqa: E402

PROMPTS = ["a photo of a cat", "a photo of a dog.", "A Drawing Of A Goldfish!", "tench"]
# Zero-shot classes: open_clip's build_zero_shot_classifier (zero_shot_classifier.py) over these
LABELS = ["cat", "dog", "goldfish", "tench", "church"]
TEMPLATES = ["a photo of a {}.", "a drawing of a {}.", "itap of my {}."]
FIXTURES = HERE.parent / "fixtures" / "text"


def import_open_clip(path):
    pkg = types.ModuleType("open_clip")
    pkg.__path__ = [path]
    sys.modules["open_clip"] = pkg
    import open_clip.model as model
    import open_clip.tokenizer as tokenizer
    import open_clip.zero_shot_classifier as zero_shot
    return model, tokenizer, zero_shot


def perturb(model, seed):
    """Norms away from 1 and 0, logit scale away from its init: nothing is trivial."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ("ln_" in name or "norm" in name) and p.dim() == 1:
                p.add_(0.2 * torch.randn(p.shape, generator=g) if name.endswith("weight")
                       else 0.1 * torch.randn(p.shape, generator=g))
        model.logit_scale.fill_(2.3)


def save_refs(path, ids, text, image_input, image, scores, zero_shot):
    classes, logits = zero_shot
    write_safetensors(str(path), OrderedDict([
        ("text.ids", ids.to(torch.int64)), ("text.embeds", text.float()), ("image.input", image_input.float()),
        ("image.embed", image.float()), ("text.scores", scores.float()), ("zeroshot.classes", classes.float()),
        ("zeroshot.logits", logits.float())]))


def zero_shot_of(build, model, tokenizer, image, bias=None):
    """open_clip's class embeddings [K, E] and the image's logits against them [K]."""
    weights = build(model, tokenizer, LABELS, TEMPLATES)  # [E, K], each column normalised
    logits = model.logit_scale.exp() * F.normalize(image, dim=-1) @ weights
    return weights.t(), (logits + bias if bias is not None else logits)[0]


def scores_of(image, text, scale, bias=None):
    s = scale.exp() * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
    return (s + bias if bias is not None else s)[0]


def vision_cfg():
    return dict(image_size=32, layers=2, width=32, patch_size=16, head_width=16)


def open_clip_config(embed_dim, text_cfg, quick_gelu):
    return {"model_cfg": {"embed_dim": embed_dim, "quick_gelu": quick_gelu, "vision_cfg": vision_cfg(),
                          "text_cfg": text_cfg},
            "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                               "std": [0.26862954, 0.26130258, 0.27577711]}}


def write_folder(folder, state, config_name, config):
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(OrderedDict((k, v.detach().clone().contiguous()) for k, v in state.items()),
               folder / "open_clip_pytorch_model.bin")
    (folder / config_name).write_text(json.dumps(config, indent=1) + "\n")


def make_openclip_clip(oc_model, oc_tok, oc_zero_shot, out):
    bpe = FIXTURES / "clip_bpe" / "bpe_simple_vocab_16e6.txt.gz"
    tokenizer = oc_tok.SimpleTokenizer(bpe_path=str(bpe))
    text_cfg = dict(context_length=77, vocab_size=len(tokenizer.encoder), width=32, heads=2, layers=2)
    torch.manual_seed(11)
    model = oc_model.CLIP(embed_dim=32, vision_cfg=vision_cfg(), text_cfg=text_cfg, quick_gelu=True).eval()
    perturb(model, 12)
    ids = tokenizer(PROMPTS, context_length=77)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(13))
    with torch.no_grad():
        text, image = model.encode_text(ids), model.encode_image(x)
    scores = scores_of(image, text, model.logit_scale)
    zero_shot = zero_shot_of(oc_zero_shot.build_zero_shot_classifier, model,
                             lambda t: tokenizer(t, context_length=77), image)
    write_folder(out / "openclip_clip", model.state_dict(), "open_clip_config.json",
                 open_clip_config(32, text_cfg, True))
    save_refs(out / "openclip_clip.ref.safetensors", ids, text, x, image, scores, zero_shot)
    return model, text_cfg


def hf_encoder(state, src, dst, layers, d):
    """open_clip resblocks -> HF encoder layers (CLIPEncoderLayer names, q/k/v split)."""
    out = OrderedDict()
    for i in range(layers):
        s, t = f"{src}{i}.", f"{dst}{i}."
        for a, b in [("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"),
                     ("mlp.c_proj", "mlp.fc2"), ("attn.out_proj", "self_attn.out_proj")]:
            out[t + b + ".weight"] = state[s + a + ".weight"]
            out[t + b + ".bias"] = state[s + a + ".bias"]
        for part, (w, b) in zip("qkv", zip(state[s + "attn.in_proj_weight"].split(d),
                                           state[s + "attn.in_proj_bias"].split(d))):
            out[t + f"self_attn.{part}_proj.weight"] = w
            out[t + f"self_attn.{part}_proj.bias"] = b
    return out


def hf_text_tower(state, prefix, layers, d):
    out = OrderedDict()
    out["text_model.embeddings.token_embedding.weight"] = state[prefix + "token_embedding.weight"]
    out["text_model.embeddings.position_embedding.weight"] = state[prefix + "positional_embedding"]
    out.update(hf_encoder(state, prefix + "transformer.resblocks.", "text_model.encoder.layers.", layers, d))
    out["text_model.final_layer_norm.weight"] = state[prefix + "ln_final.weight"]
    out["text_model.final_layer_norm.bias"] = state[prefix + "ln_final.bias"]
    return out


def make_hf_clip_text(model, text_cfg, out):
    state = model.state_dict()
    sd = OrderedDict()
    v = "visual."
    sd["vision_model.embeddings.class_embedding"] = state[v + "class_embedding"]
    sd["vision_model.embeddings.patch_embedding.weight"] = state[v + "conv1.weight"]
    sd["vision_model.embeddings.position_embedding.weight"] = state[v + "positional_embedding"]
    for a, b in [("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")]:
        sd[f"vision_model.{b}.weight"] = state[v + a + ".weight"]
        sd[f"vision_model.{b}.bias"] = state[v + a + ".bias"]
    sd.update(hf_encoder(state, v + "transformer.resblocks.", "vision_model.encoder.layers.", 2, 32))
    sd["visual_projection.weight"] = state[v + "proj"].t()
    sd.update(hf_text_tower(state, "", 2, 32))
    sd["text_projection.weight"] = state["text_projection"].t()
    sd["logit_scale"] = state["logit_scale"]
    text_config = {"hidden_act": "quick_gelu", "hidden_size": 32, "intermediate_size": 128, "layer_norm_eps": 1e-5,
                   "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 2,
                   "num_hidden_layers": 2, "vocab_size": text_cfg["vocab_size"], "bos_token_id": 0,
                   "eos_token_id": 2, "pad_token_id": 1, "projection_dim": 32}
    vision_config = {"hidden_act": "quick_gelu", "hidden_size": 32, "image_size": 32, "intermediate_size": 128,
                     "layer_norm_eps": 1e-5, "model_type": "clip_vision_model", "num_attention_heads": 2,
                     "num_channels": 3, "num_hidden_layers": 2, "patch_size": 16, "projection_dim": 32}
    config = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 32,
              "logit_scale_init_value": 2.6592, "text_config": text_config, "vision_config": vision_config}
    hf.write_model_dir(str(out / "hf_clip_text"), {k: t.detach().clone().contiguous() for k, t in sd.items()}, config)


def siglip_ids(size, prompts=PROMPTS):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(FIXTURES / "siglip_spm" / "spiece.model"))
    assert sp.get_piece_size() == size
    rows = []
    for p in prompts:
        ids = sp.encode(siglip_tok.normalise(p))[:63] + [sp.eos_id()]
        rows.append(ids + [sp.eos_id()] * (64 - len(ids)))
    return torch.tensor(rows)


def siglip_text_cfg():
    return dict(context_length=64, vocab_size=1000, width=32, heads=2, layers=2, no_causal_mask=True,
                pool_type="last", proj_bias=True, norm_kwargs={"eps": 1e-6}, act_kwargs={"approximate": "tanh"})


def make_openclip_siglip(oc_model, oc_zero_shot, out):
    torch.manual_seed(21)
    model = oc_model.CustomTextCLIP(embed_dim=hf.D, vision_cfg=vision_cfg(), text_cfg=siglip_text_cfg(),
                                    init_logit_bias=-10.0).eval()
    perturb(model, 22)
    with torch.no_grad():
        model.logit_bias.fill_(-1.5)
    ids = siglip_ids(1000)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(23))
    with torch.no_grad():
        text, image = model.encode_text(ids), model.encode_image(x)
    scores = scores_of(image, text, model.logit_scale, model.logit_bias)
    build = oc_zero_shot.build_zero_shot_classifier
    zero_shot = zero_shot_of(build, model, lambda t: siglip_ids(1000, t), image, model.logit_bias)
    write_folder(out / "openclip_siglip", model.state_dict(), "open_clip_config.json",
                 open_clip_config(hf.D, siglip_text_cfg(), False))
    save_refs(out / "openclip_siglip.ref.safetensors", ids, text, x, image, scores, zero_shot)
    return model, ids, text, zero_shot[0]


def make_hf_siglip_text(model, ids, text, classes, out):
    state = model.state_dict()
    sd = hf_text_tower(state, "text.", 2, 32)
    sd["text_model.head.weight"] = state["text.text_projection.weight"]
    sd["text_model.head.bias"] = state["text.text_projection.bias"]
    sd["logit_scale"] = state["logit_scale"].reshape(1)
    sd["logit_bias"] = state["logit_bias"].reshape(1)
    mk = hf.Maker(31)
    hf.siglip_vision_state(mk, sd)
    x = mk.randn(1, 3, hf.SIGLIP_IMAGE, hf.SIGLIP_IMAGE)
    image, _, _ = hf.siglip_vision_forward(sd, x)  # pooler_output = get_image_features
    scores = scores_of(image, text, sd["logit_scale"][0], sd["logit_bias"][0])
    logits = sd["logit_scale"][0].exp() * F.normalize(image, dim=-1) @ classes.t() + sd["logit_bias"][0]
    text_config = {"hidden_act": "gelu_pytorch_tanh", "hidden_size": 32, "intermediate_size": 128,
                   "layer_norm_eps": 1e-6, "max_position_embeddings": 64, "model_type": "siglip_text_model",
                   "num_attention_heads": 2, "num_hidden_layers": 2, "vocab_size": 1000, "projection_size": hf.D}
    config = {"architectures": ["SiglipModel"], "model_type": "siglip", "text_config": text_config,
              "vision_config": hf.siglip_vision_config_fields()}
    hf.write_model_dir(str(out / "hf_siglip_text"), {k: t.detach().clone().contiguous() for k, t in sd.items()},
                       config)
    save_refs(out / "hf_siglip_text.ref.safetensors", ids, text, x, image, scores, (classes, logits[0]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--open-clip", required=True, help="open_clip v2.23.0's src/open_clip folder")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    oc_model, oc_tok, oc_zero_shot = import_open_clip(args.open_clip)
    clip, text_cfg = make_openclip_clip(oc_model, oc_tok, oc_zero_shot, out)
    make_hf_clip_text(clip, text_cfg, out)
    siglip, ids, text, classes = make_openclip_siglip(oc_model, oc_zero_shot, out)
    make_hf_siglip_text(siglip, ids, text, classes, out)
    print("wrote", ", ".join(sorted(p.name for p in out.iterdir() if p.name.endswith(".ref.safetensors"))))


if __name__ == "__main__":
    main()
