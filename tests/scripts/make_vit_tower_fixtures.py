#!/usr/bin/env python3
"""Small ViT parity fixtures (attention maps + embeddings) made with the REAL open_clip and timm.

Needs the open_clip and timm sources, which the README does not install and which are no Debian
packages: these fixtures were made once and are committed; CI only reads them. Made on Debian's
python3-torch 1.13.1 / python3-torchvision 0.14.1 with pure-Python `git archive`s of
  timm       huggingface/pytorch-image-models aa4b5850c1543fa488abf260f18390eda46cf85d (1.0.29.dev0)
  open_clip  mlfoundations/open_clip          89fb801f1e6087880e951fc8354b8a2077b79c6d (4.2.0.dev0)
(`git archive HEAD timm | tar -x -C TIMM_SRC`, `git archive HEAD src/open_clip | tar -x -C
OPENCLIP_SRC`), run as

    PYTHONPATH=TIMM_SRC:OPENCLIP_SRC/src /usr/bin/python3 \
        tests/scripts/make_vit_tower_fixtures.py --out tests/fixtures/vit

How open_clip is imported on torch 1.13 (no vision-tower module is stubbed; one flag is set):
  * open_clip/__init__.py is NOT run: it imports loss.py, which uses `torch.compiler` (torch >= 2),
    and tokenizer.py, which needs ftfy/regex. An empty package object whose __path__ is the
    source folder is put in sys.modules["open_clip"], then the real submodules open_clip.model,
    .transformer, .layers, .constants, .transform are imported from it unchanged.
  * open_clip.push_to_hf_hub (for its own save_config_for_hf) imports `.factory` (-> loss.py) and
    `.tokenizer` at module level; while it is imported, those two modules are placeholder
    sys.modules entries (neither is used by save_config_for_hf nor by the vision tower) and the
    placeholders are removed right after. huggingface_hub/safetensors are optional there (try/except).
  * open_clip's own Attention module (it no longer uses nn.MultiheadAttention; the checkpoint keys
    are still in_proj_weight/in_proj_bias/out_proj.*) calls F.scaled_dot_product_attention(...,
    scale=) when `use_sdpa` is true; torch 1.13 has no SDPA, so every open_clip Attention gets
    use_sdpa=False, i.e. the module's own explicit path (q*scale @ k^T, softmax, @v, out_proj).
  * timm's Attention picks its explicit path by itself on torch 1.13 (fused_attn is False).

Every model is built by the library (open_clip.model.CLIP from a model_cfg dict; timm.create_model
with an architecture name) and made small only through constructor arguments. Weights are the
library's random init under a fixed seed, then perturbed so that nothing is trivial: every
LayerNorm weight 1+0.2*randn and bias 0.1*randn, every linear/conv bias (and open_clip's
in_proj_bias) 0.05*randn, layer-scale gammas 0.5+0.2*randn, cls/reg tokens and position
embeddings 0.5*randn (for the later cases also: BEiT layer scales gamma_1/gamma_2 as gammas, BEiT
q_bias/v_bias 0.05*randn, BEiT relative_position_bias_table 0.5*randn, SigLIP attn_pool.latent
0.5*randn; for these three cases it is checked that no parameter keeps its init). Also every
linear/conv weight is redrawn as randn/sqrt(fan_in) and the
attention input projections (timm attn.qkv.weight, open_clip attn.in_proj_weight, SigLIP
attn_pool.q.weight and attn_pool.kv.weight) as
1.5*randn/sqrt(fan_in): timm's ViT init (trunc_normal std 0.02) otherwise gives attention
uniform to 1e-3 and an MLP too small for GELU vs QuickGELU to matter. (open_clip's visual.proj,
text_projection and token_embedding keep the library init.) torch.set_num_threads(1); output
is byte-identical from run to run.

Writes into --out:
  <case>.ref.safetensors  float32: vit.input [1,3,H,W] (randn); vit.attn.<l> [1,heads,T,T] for
                          every block l: softmax(q k^T * scale) recomputed from the block's own
                          projection weights on the block's own norm output, asserted to give the
                          attention module's output after attn@v and the output projection (and,
                          for open_clip, equal within 1e-6 to torch nn.MultiheadAttention's
                          need_weights=True, average_attn_weights=False on the same weights);
                          vit.embedding [1,E]: open_clip model.encode_image(x) (unnormalised) or
                          timm model.forward_head(model.forward_features(x), pre_logits=True).
                          timm_dinov2_reg also has vit.pos_embed_resampled [1,30,64]: the position
                          embedding timm actually added at the 5x6 grid. With a classifier head
                          (timm_deit3, timm_beit): also vit.logits [1,10] = model(x) (vit.embedding
                          is still the pre-logits vector). timm_beit: also vit.rel_bias.<l>
                          [heads,T,T] (the relative position bias added to the logits in block l;
                          vit.attn.<l> is softmax(q k^T * scale + bias)) and vit.rel_pos_index
                          [T,T] int64 (timm's relative_position_index, rebuilt by hand and checked).
                          timm_siglip: also vit.pool_attn [1,heads,1,T]: the attention-pool head's
                          softmax (latent query vs all tokens), recomputed and checked.
  openclip_vit/open_clip_pytorch_model.bin    torch.save(model.state_dict()) of the whole CLIP
                          (text tower included, so loaders must ignore non-visual keys)
  openclip_vit/open_clip_config.json          open_clip's push_to_hf_hub.save_config_for_hf:
                          {"model_cfg": {...}, "preprocess_cfg": {mean, std, interpolation, resize_mode}}
  openclip_vit_safetensors/open_clip_model.safetensors + open_clip_config.json  ONLY with
                          --with-safetensors-copy (it brings the total to about 4.8 MB, over the
                          4.5 MB budget, so it is not committed): the same weights under open_clip's
                          HF_SAFE_WEIGHTS_NAME (preferred over the .bin by pretrained.py and
                          factory.py); it reuses openclip_vit.ref.safetensors
  timm_<x>/model.safetensors + config.json    timm state_dict ({"format": "pt"} metadata) and
                          timm's own timm.models._hub.save_config_for_hf (no "model_args", as on
                          the hub); pretrained_cfg_overlay sets input_size to the small build size
                          (and num_classes 0 for the CLIP tower, whose default tag says 512;
                          num_classes 10 for timm_deit3 and timm_beit)
  cases.json              {case: {"input", "tokens", "heads", "depth", "prefix_tokens",
                          "embedding_dim", "classes", "notes", "reference", "files", "build"}};
                          the three later cases also have "outputs" {ref tensor: shape} and, in
                          "build", "block_keys" (blocks.0.*) and "other_keys" (all but blocks.*)

Cases: openclip_vit (CLIP, QuickGELU, 64x64, patch 16), [openclip_vit_safetensors (same weights)],
timm_clip (vit_base_patch16_clip_quickgelu_224: norm_pre, no patch bias, QuickGELU, 64x64),
timm_dinov2_reg (vit_small_patch14_reg4_dinov2: 4 registers, no_embed_class, LayerScale, trained
at 56x56 = 4x4 grid, run at 70x84 = 5x6 grid with dynamic_img_size), timm_dinov2
(vit_small_patch14_dinov2 at its trained 56x56), timm_deit3 (deit3_small_patch16_224: LayerScale,
no_embed_class, 10-class head), timm_beit (beit_base_patch16_224: timm's Beit class, relative
position bias per block, q_bias/v_bias, gamma_1/gamma_2, no absolute pos_embed, mean-pooled with
fc_norm, 10-class head), timm_siglip (vit_base_patch16_siglip_224: no class token, attention-pool
'map' head, num_classes 0); these three at 64x64, patch 16, mlp_ratio 0.5 (about 1.43 MB
together). All width 64, 4 heads, depth 2.
Every written checkpoint is reloaded into a freshly built model (strict=True, other seed) and must
reproduce the reference exactly.
Also timm_beit_80x96 (added later with --only-beit-resized, from the committed timm_beit weights):
timm_beit's checkpoint loaded by timm into a Beit built at 80x96 (a 5x6 grid) through
timm.models.beit.checkpoint_filter_fn, which resizes the relative position bias tables; its
reference has the resized tables (vit.rel_table.<l>) besides what timm_beit's has.
"""
import argparse
import json
import os
import sys
import types
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

import timm
from timm.layers import AttentionPoolLatent, resample_abs_pos_embed
from timm.models import beit as timm_beit
from timm.models.beit import Beit
from timm.models._hub import save_config_for_hf as timm_save_config_for_hf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import read_safetensors, write_safetensors  # noqa: E402

TIMM_COMMIT = "aa4b5850c1543fa488abf260f18390eda46cf85d"
OPENCLIP_COMMIT = "89fb801f1e6087880e951fc8354b8a2077b79c6d"


# ---------------------------------------------------------------- open_clip import

def import_open_clip():
    """The real open_clip submodules without running the package __init__ (see docstring)."""
    src = None
    for p in sys.path:
        if p and os.path.isfile(os.path.join(p, "open_clip", "model.py")):
            src = os.path.join(os.path.abspath(p), "open_clip")
            break
    if src is None:
        sys.exit("open_clip source not found on PYTHONPATH (e.g. OPENCLIP_SRC/src)")
    pkg = types.ModuleType("open_clip")
    pkg.__path__ = [src]
    pkg.__file__ = os.path.join(src, "__init__.py")
    sys.modules["open_clip"] = pkg
    import open_clip.model as oc_model
    import open_clip.transformer as oc_transformer
    import open_clip.layers as oc_layers
    import open_clip.constants as oc_constants
    import open_clip.transform as oc_transform
    with open(os.path.join(src, "version.py")) as f:
        version = f.read().split("=")[1].strip().strip("'\"")
    # push_to_hf_hub: placeholders for .factory/.tokenizer only while it is imported
    placeholders = {}
    for name, attrs in [("open_clip.factory", ["create_model_from_pretrained", "get_model_config", "get_tokenizer"]),
                        ("open_clip.tokenizer", ["HFTokenizer", "SigLipTokenizer"])]:
        assert name not in sys.modules
        mod = types.ModuleType(name)
        for a in attrs:
            setattr(mod, a, None)
        placeholders[name] = mod
        sys.modules[name] = mod
    try:
        import open_clip.push_to_hf_hub as oc_hub
    finally:
        for name in placeholders:
            del sys.modules[name]
    return types.SimpleNamespace(model=oc_model, transformer=oc_transformer, layers=oc_layers,
                                 constants=oc_constants, transform=oc_transform, hub=oc_hub,
                                 version=version, src=src)


OC = import_open_clip()


# ---------------------------------------------------------------- safetensors

# ---------------------------------------------------------------- perturbation

EMBED_LEAVES = ("cls_token", "reg_token", "pos_embed", "class_embedding", "positional_embedding")


# 2.74 MB for the first four cases (3 MB budget), 1.43 MB more for timm_deit3/timm_beit/timm_siglip
BUDGET_BYTES = 4500 * 1000
QKV_GAIN = 1.5  # attention input projections: logits of std ~QKV_GAIN**2, so maps are far from uniform


def perturb(model, gen, kept=None):
    """LayerNorms, linear/conv weights and biases (+ open_clip's in_proj_weight/in_proj_bias,
    BEiT's q_bias/v_bias), layer-scale gammas, cls/reg tokens and position embeddings (+ BEiT's
    relative_position_bias_table, the SigLIP pool latent); in named_parameters order.
    Returns counts per kind; names left as initialised are appended to `kept` if given."""
    ln_w, ln_b, weights, biases = set(), set(), set(), set()
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            ln_w.add(id(m.weight))
            ln_b.add(id(m.bias))
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            weights.add(id(m.weight))
            if m.bias is not None:
                biases.add(id(m.bias))
    counts = OrderedDict((k, 0) for k in ("ln", "weight", "qkv_weight", "bias", "gamma", "embed"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if id(p) in ln_w:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
                counts["ln"] += 1
            elif id(p) in ln_b:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif (leaf == "in_proj_weight" or name.endswith("attn.qkv.weight")
                  or name in ("attn_pool.q.weight", "attn_pool.kv.weight")):
                fan_in = p[0].numel()
                p.copy_(QKV_GAIN / fan_in ** 0.5 * torch.randn(p.shape, generator=gen))
                counts["qkv_weight"] += 1
            elif id(p) in weights:
                fan_in = p[0].numel()
                p.copy_(1.0 / fan_in ** 0.5 * torch.randn(p.shape, generator=gen))
                counts["weight"] += 1
            elif id(p) in biases or leaf == "in_proj_bias":
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
                counts["bias"] += 1
            elif leaf in ("q_bias", "v_bias"):  # BEiT: qkv Linear has no bias; k bias is a zero buffer
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
                counts["bias"] += 1
            elif leaf in ("gamma", "gamma_1", "gamma_2"):  # timm LayerScale / BEiT block layer scale
                p.copy_(0.5 + 0.2 * torch.randn(p.shape, generator=gen))
                counts["gamma"] += 1
            elif leaf in EMBED_LEAVES:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
                counts["embed"] += 1
            # kinds only the later cases have: their counters appear only when used (the
            # earlier cases' "perturbed" entries in cases.json stay as they were)
            elif leaf == "relative_position_bias_table":  # BEiT
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
                counts["rel_pos_bias_table"] = counts.get("rel_pos_bias_table", 0) + 1
            elif name == "attn_pool.latent":  # SigLIP attention-pool query
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
                counts["latent"] = counts.get("latent", 0) + 1
            elif kept is not None:
                kept.append(name)
    return counts


# ---------------------------------------------------------------- open_clip

OPENCLIP_MODEL_CFG = OrderedDict([
    ("embed_dim", 32),
    ("quick_gelu", True),
    ("vision_cfg", OrderedDict([("image_size", 64), ("layers", 2), ("width", 64), ("head_width", 16),
                                ("patch_size", 16)])),
    ("text_cfg", OrderedDict([("context_length", 8), ("vocab_size", 64), ("width", 32), ("heads", 2),
                              ("layers", 1)])),
])
OPENCLIP_PRETRAINED_PP = OrderedDict([
    ("mean", OC.constants.OPENAI_DATASET_MEAN), ("std", OC.constants.OPENAI_DATASET_STD),
    ("interpolation", "bicubic"), ("resize_mode", "shortest")])
OPENCLIP_SEED = 201


def build_openclip(seed):
    torch.manual_seed(seed)
    cfg = json.loads(json.dumps(OPENCLIP_MODEL_CFG))  # plain dicts, as factory would pass them
    model = OC.model.CLIP(**cfg)
    n = 0
    for m in model.modules():
        if isinstance(m, OC.transformer.Attention):
            m.use_sdpa = False  # torch 1.13 has no F.scaled_dot_product_attention
            n += 1
    assert n == 3, n  # 2 vision blocks + 1 text block
    # preprocess cfg exactly as factory.create_model does it for a hub model
    pp = OC.transform.merge_preprocess_dict(asdict(OC.transform.PreprocessCfg()), OPENCLIP_PRETRAINED_PP)
    pp["size"] = model.visual.image_size
    OC.model.set_model_preprocess_cfg(model, pp)
    return model.eval()


def openclip_reference(model, x):
    """Attention maps of every visual block and encode_image, from the library's modules."""
    visual = model.visual
    assert visual.attn_pool is None and not visual.final_ln_after_pool and visual.pool_type == "tok"
    attns = []
    with torch.no_grad():
        t = visual._embeds(x)  # conv1, [cls]+patches, + positional_embedding, ln_pre
        for blk in visual.transformer.resblocks:
            assert isinstance(blk, OC.transformer.ResidualAttentionBlock)
            a = blk.attn
            assert isinstance(a.ln_q, nn.Identity) and isinstance(a.ln_k, nn.Identity)
            assert a.logit_scale is None and a.head_scale is None and isinstance(a.ln_inner, nn.Identity)
            y = blk.ln_1(t)
            n, l, c = y.shape
            q, k, v = F.linear(y, a.in_proj_weight, a.in_proj_bias).chunk(3, dim=-1)
            q, k, v = (z.reshape(n, l, a.num_heads, a.head_dim).transpose(1, 2) for z in (q, k, v))
            w = ((q * a.scale) @ k.transpose(-1, -2)).softmax(dim=-1)
            out = a.out_proj((w @ v).transpose(1, 2).reshape(n, l, c))
            module_out = blk.attention(q_x=y)
            assert torch.allclose(out, module_out, rtol=0, atol=1e-6), (out - module_out).abs().max()
            # the same weights in torch's own nn.MultiheadAttention (what open_clip used before)
            mha = nn.MultiheadAttention(c, a.num_heads, batch_first=True).eval()
            mha.in_proj_weight.copy_(a.in_proj_weight)
            mha.in_proj_bias.copy_(a.in_proj_bias)
            mha.out_proj.load_state_dict(a.out_proj.state_dict())
            mout, mw = mha(y, y, y, need_weights=True, average_attn_weights=False)
            assert torch.allclose(w, mw, rtol=0, atol=1e-6), (w - mw).abs().max()
            assert torch.allclose(out, mout, rtol=0, atol=1e-5), (out - mout).abs().max()
            attns.append(w.clone())
            t = blk(t)
        pooled, _ = visual._pool(t)  # ln_post on all tokens, then token 0
        emb_manual = pooled @ visual.proj
        emb = model.encode_image(x)
    assert torch.equal(emb, emb_manual)
    return attns, emb


def openclip_state_dict(model):
    sd = model.state_dict()
    for k, v in sd.items():
        assert v.dtype == torch.float32, (k, v.dtype)
    return sd


def make_openclip(out_dir, with_safetensors):
    x = torch.randn([1, 3, 64, 64], generator=torch.Generator().manual_seed(OPENCLIP_SEED * 1000 + 2))
    model = build_openclip(OPENCLIP_SEED)
    counts = perturb(model, torch.Generator().manual_seed(OPENCLIP_SEED * 1000 + 1))
    attns, emb = openclip_reference(model, x)
    sd = openclip_state_dict(model)
    visual_keys = [k for k in sd if k.startswith("visual.")]

    case_dir = out_dir / "openclip_vit"
    case_dir.mkdir(parents=True, exist_ok=True)
    bin_path = case_dir / OC.constants.HF_WEIGHTS_NAME
    # as open_clip's save_for_hf: torch.save(model.state_dict(), <dir>/open_clip_pytorch_model.bin)
    torch.save(sd, bin_path)
    OC.hub.save_config_for_hf(model, case_dir / OC.constants.HF_CONFIG_NAME,
                              model_config=json.loads(json.dumps(OPENCLIP_MODEL_CFG)))

    ref = OrderedDict([("vit.input", x)])
    for i, w in enumerate(attns):
        ref["vit.attn.%d" % i] = w
    ref["vit.embedding"] = emb
    write_safetensors(out_dir / "openclip_vit.ref.safetensors", ref)

    def check_reload(loaded_sd, what):
        fresh = build_openclip(OPENCLIP_SEED + 50000)
        fresh.load_state_dict(loaded_sd, strict=True)
        attns2, emb2 = openclip_reference(fresh, x)
        assert torch.equal(emb, emb2), "openclip: reloaded %s embedding differs" % what
        for a1, a2 in zip(attns, attns2):
            assert torch.equal(a1, a2), "openclip: reloaded %s attention differs" % what

    check_reload(torch.load(bin_path, map_location="cpu", weights_only=True), "bin")

    files = [str(bin_path.relative_to(out_dir)), str((case_dir / OC.constants.HF_CONFIG_NAME).relative_to(out_dir))]
    st_files = None
    if with_safetensors:
        st_dir = out_dir / "openclip_vit_safetensors"
        st_dir.mkdir(parents=True, exist_ok=True)
        st_path = st_dir / OC.constants.HF_SAFE_WEIGHTS_NAME
        # as safetensors.torch.save_file(state_dict, path) in open_clip's save_for_hf: no metadata,
        # tensors laid out sorted by name (all F32)
        write_safetensors(st_path, OrderedDict(sorted(sd.items())))
        with open(case_dir / OC.constants.HF_CONFIG_NAME, "rb") as f:
            cfg_bytes = f.read()
        with open(st_dir / OC.constants.HF_CONFIG_NAME, "wb") as f:
            f.write(cfg_bytes)
        check_reload(read_safetensors(st_path), "safetensors")
        st_files = [str(st_path.relative_to(out_dir)), str((st_dir / OC.constants.HF_CONFIG_NAME).relative_to(out_dir))]

    tokens = attns[0].shape[-1]
    notes = ("open_clip CLIP (full model: text tower keys present, a loader must keep only visual.*). "
             "Visual: conv1 (no bias, patch 16) -> [class_embedding]+patches -> +positional_embedding -> ln_pre "
             "-> resblocks (ln_1, attn in_proj/out_proj, ln_2, mlp.c_fc, QuickGELU x*sigmoid(1.702x), "
             "mlp.c_proj; no layer scale) -> ln_post on ALL tokens -> take token 0 -> @ proj [64,32] "
             "(no bias) = encode_image (unnormalised). LayerNorm eps 1e-5 everywhere. Batch-first "
             "open_clip Attention (in_proj_weight [192,64] rows q,k,v; scale 16**-0.5 applied to q), "
             "run with use_sdpa=False (torch 1.13).")
    build = OrderedDict([("library", "open_clip"), ("open_clip_version", OC.version),
                         ("open_clip_commit", OPENCLIP_COMMIT), ("builder", "open_clip.model.CLIP(**model_cfg)"),
                         ("model_cfg", OPENCLIP_MODEL_CFG), ("seed", OPENCLIP_SEED),
                         ("perturbed", counts), ("visual_keys", OrderedDict((k, list(sd[k].shape)) for k in visual_keys))])
    case = OrderedDict([
        ("input", list(x.shape)), ("tokens", tokens), ("heads", attns[0].shape[1]), ("depth", len(attns)),
        ("prefix_tokens", 1), ("embedding_dim", emb.shape[-1]), ("classes", None), ("notes", notes),
        ("reference", "openclip_vit.ref.safetensors"), ("files", files), ("build", build)])
    cases = OrderedDict([("openclip_vit", case)])
    if with_safetensors:
        case2 = OrderedDict(case)
        case2["notes"] = ("Same weights and config as openclip_vit, as open_clip_model.safetensors "
                          "(open_clip constants.HF_SAFE_WEIGHTS_NAME, preferred over the .bin by "
                          "pretrained.py/factory.py). No own reference: use openclip_vit.ref.safetensors.")
        case2["files"] = st_files
        case2["build"] = OrderedDict([("same_as", "openclip_vit")])
        cases["openclip_vit_safetensors"] = case2
    return cases


# ---------------------------------------------------------------- timm

TIMM_CASES = OrderedDict([
    ("timm_clip", dict(
        seed=301, name="vit_base_patch16_clip_quickgelu_224", input=[1, 3, 64, 64],
        kwargs=OrderedDict([("embed_dim", 64), ("depth", 2), ("num_heads", 4), ("img_size", 64),
                            ("num_classes", 0)]),
        overlay=OrderedDict([("input_size", (3, 64, 64)), ("num_classes", 0)]),
        must_have=["norm_pre.weight", "norm_pre.bias", "blocks.1.attn.qkv.bias"],
        must_not_have=["patch_embed.proj.bias", "blocks.0.ls1.gamma", "reg_token", "head.weight"])),
    ("timm_dinov2_reg", dict(
        seed=302, name="vit_small_patch14_reg4_dinov2", input=[1, 3, 70, 84],
        kwargs=OrderedDict([("embed_dim", 64), ("depth", 2), ("num_heads", 4), ("img_size", 56),
                            ("num_classes", 0), ("dynamic_img_size", True)]),
        overlay=OrderedDict([("input_size", (3, 56, 56))]),
        must_have=["reg_token", "blocks.0.ls1.gamma", "blocks.1.ls2.gamma", "patch_embed.proj.bias"],
        must_not_have=["norm_pre.weight", "head.weight"])),
    ("timm_dinov2", dict(
        seed=303, name="vit_small_patch14_dinov2", input=[1, 3, 56, 56],
        kwargs=OrderedDict([("embed_dim", 64), ("depth", 2), ("num_heads", 4), ("img_size", 56),
                            ("num_classes", 0)]),
        overlay=OrderedDict([("input_size", (3, 56, 56))]),
        must_have=["blocks.0.ls1.gamma", "blocks.1.ls2.gamma", "patch_embed.proj.bias"],
        must_not_have=["reg_token", "norm_pre.weight", "head.weight"])),
    # The cases below have mlp_ratio 0.5 (MLP hidden 32, fc1/fc2 not square) to keep them under 1.5 MB
    # together; every parameter of theirs is perturbed (checked), and they record more than the cases above.
    ("timm_deit3", dict(
        seed=304, name="deit3_small_patch16_224", input=[1, 3, 64, 64], family="vit",
        kwargs=OrderedDict([("embed_dim", 64), ("depth", 2), ("num_heads", 4), ("mlp_ratio", 0.5), ("img_size", 64),
                            ("num_classes", 10)]),
        overlay=OrderedDict([("input_size", (3, 64, 64)), ("num_classes", 10)]),
        must_have=["blocks.0.ls1.gamma", "blocks.1.ls2.gamma", "patch_embed.proj.bias", "head.weight", "head.bias",
                   "norm.weight"],
        must_not_have=["reg_token", "norm_pre.weight", "fc_norm.weight", "dist_token", "head_dist.weight"])),
    ("timm_beit", dict(
        seed=305, name="beit_base_patch16_224", input=[1, 3, 64, 64], family="beit",
        kwargs=OrderedDict([("embed_dim", 64), ("depth", 2), ("num_heads", 4), ("mlp_ratio", 0.5), ("img_size", 64),
                            ("num_classes", 10)]),
        overlay=OrderedDict([("input_size", (3, 64, 64)), ("num_classes", 10)]),
        must_have=["blocks.0.attn.relative_position_bias_table", "blocks.1.attn.q_bias", "blocks.1.attn.v_bias",
                   "blocks.0.gamma_1", "blocks.0.gamma_2", "fc_norm.weight", "head.weight", "cls_token"],
        must_not_have=["pos_embed", "blocks.0.attn.relative_position_index", "blocks.0.attn.k_bias",
                       "blocks.0.attn.qkv.bias", "rel_pos_bias.relative_position_bias_table", "norm.weight"])),
    ("timm_siglip", dict(
        seed=306, name="vit_base_patch16_siglip_224", input=[1, 3, 64, 64], family="vit",
        kwargs=OrderedDict([("embed_dim", 64), ("depth", 2), ("num_heads", 4), ("mlp_ratio", 0.5), ("img_size", 64),
                            ("num_classes", 0)]),
        overlay=OrderedDict([("input_size", (3, 64, 64))]),
        must_have=["pos_embed", "norm.weight", "attn_pool.latent", "attn_pool.q.weight", "attn_pool.kv.weight",
                   "attn_pool.proj.weight", "attn_pool.norm.weight", "attn_pool.mlp.fc1.weight"],
        must_not_have=["cls_token", "reg_token", "norm_pre.weight", "fc_norm.weight", "head.weight",
                       "blocks.0.ls1.gamma"])),
])


def build_timm(case, seed):
    torch.manual_seed(seed)
    model = timm.create_model(case["name"], pretrained=False,
                              pretrained_cfg_overlay=dict(case["overlay"]), **case["kwargs"])
    return model.eval()


def timm_reference(model, x):
    """Attention maps of every block (recomputed from each block's qkv on its norm1 output and
    checked against the module), pre-logits embedding, and extra reference tensors: vit.logits
    (with a classifier head) and vit.pool_attn (attention-pool head, recomputed and checked)."""
    attns = []
    extra = OrderedDict()
    with torch.no_grad():
        t = model.patch_embed(x)
        t = model._pos_embed(t)
        t = model.patch_drop(t)
        t = model.norm_pre(t)
        for blk in model.blocks:
            a = blk.attn
            assert not a.fused_attn and a.gate is None
            assert isinstance(a.q_norm, nn.Identity) and isinstance(a.k_norm, nn.Identity)
            assert isinstance(a.norm, nn.Identity)
            y = blk.norm1(t)
            b, n, c = y.shape
            qkv = a.qkv(y).reshape(b, n, 3, a.num_heads, a.head_dim).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            w = ((q * a.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            out = a.proj((w @ v).transpose(1, 2).reshape(b, n, a.attn_dim))
            module_out = a(y)
            assert torch.allclose(out, module_out, rtol=0, atol=1e-6), (out - module_out).abs().max()
            attns.append(w.clone())
            t = blk(t)
        feats_manual = model.norm(t)
        feats = model.forward_features(x)
        assert torch.equal(feats, feats_manual)
        emb = model.forward_head(feats, pre_logits=True)
        if model.attn_pool is not None:
            extra["vit.pool_attn"] = attention_pool_reference(model, feats, emb)
        if model.num_classes:
            logits = model.forward_head(feats)
            assert torch.equal(logits, model(x))
            manual = F.linear(emb, model.head.weight, model.head.bias)
            assert torch.allclose(logits, manual, rtol=0, atol=1e-6), (logits - manual).abs().max()
            extra["vit.logits"] = logits
        else:
            assert torch.equal(emb, model(x))  # num_classes 0: head is Identity
    return attns, emb, extra


def attention_pool_reference(model, feats, emb):
    """timm AttentionPoolLatent ('map' pooling, SigLIP): the latent query's softmax attention over the
    tokens [1,heads,1,N], recomputed from the head's own weights; its whole forward is checked."""
    ap = model.attn_pool
    assert isinstance(ap, AttentionPoolLatent)
    assert not ap.fused_attn and ap.pos_embed is None and ap.latent_len == 1 and ap.pool == "token"
    assert isinstance(ap.q_norm, nn.Identity) and isinstance(ap.k_norm, nn.Identity) and ap.mlp is not None
    assert isinstance(model.fc_norm, nn.Identity) and not model.pool_include_prefix
    tokens = feats[:, model.num_prefix_tokens:]
    b, n, c = tokens.shape
    q = ap.q(ap.latent.expand(b, -1, -1)).reshape(b, 1, ap.num_heads, ap.head_dim).transpose(1, 2)
    k, v = ap.kv(tokens).reshape(b, n, 2, ap.num_heads, ap.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    w = ((q * ap.scale) @ k.transpose(-2, -1)).softmax(dim=-1)  # [b, heads, 1, n]
    y = ap.proj((w @ v).transpose(1, 2).reshape(b, 1, c))
    y = y + ap.mlp(ap.norm(y))
    pooled = y[:, 0]
    assert torch.allclose(pooled, emb, rtol=0, atol=1e-6), (pooled - emb).abs().max()
    assert torch.equal(ap(tokens), emb)
    return w.clone()


def beit_relative_position_index(wh, ww):
    """BEiT's relative_position_index rebuilt by hand (as the C++ side has to: it is a non-persistent
    buffer, absent from the checkpoint); checked against timm's gen_relative_position_index."""
    m = (2 * wh - 1) * (2 * ww - 1)  # table rows for patch pairs; rows m, m+1, m+2 are the cls entries
    n = wh * ww + 1
    idx = torch.zeros(n, n, dtype=torch.int64)
    for i in range(wh * ww):
        yi, xi = divmod(i, ww)
        for j in range(wh * ww):
            yj, xj = divmod(j, ww)
            idx[1 + i, 1 + j] = (yi - yj + wh - 1) * (2 * ww - 1) + (xi - xj + ww - 1)
    idx[0, 1:] = m      # cls query -> patch key  (num_relative_distance - 3)
    idx[1:, 0] = m + 1  # patch query -> cls key  (num_relative_distance - 2)
    idx[0, 0] = m + 2   # cls -> cls              (num_relative_distance - 1)
    return idx


def beit_reference(model, x):
    """timm Beit: attention maps softmax(q k^T * scale + relative position bias) recomputed from each
    block's qkv weight, q_bias/v_bias (k bias zero) and bias table (index rebuilt by hand), checked
    against the module; pre-logits embedding; extra: vit.logits, vit.rel_bias.<l>, vit.rel_pos_index."""
    assert isinstance(model, Beit) and model.pos_embed is None and model.rel_pos_bias is None
    assert model.global_pool == "avg" and isinstance(model.norm, nn.Identity)
    attns = []
    extra = OrderedDict()
    with torch.no_grad():
        t = model.patch_embed(x)
        t = torch.cat((model.cls_token.expand(t.shape[0], -1, -1), t), dim=1)  # no absolute pos embed
        index = None
        for l, blk in enumerate(model.blocks):
            a = blk.attn
            assert not a.fused_attn and not a.qkv_bias_separate and a.qkv.bias is None
            assert blk.gamma_1 is not None and isinstance(blk.mlp.norm, nn.Identity)
            assert torch.equal(a.k_bias, torch.zeros_like(a.k_bias))
            y = blk.norm1(t)
            b, n, c = y.shape
            wh, ww = a.window_size
            assert n == wh * ww + 1
            idx = beit_relative_position_index(wh, ww)
            assert torch.equal(idx, a.relative_position_index)
            index = idx if index is None else index
            assert torch.equal(idx, index)
            bias = a.relative_position_bias_table[idx.reshape(-1)].reshape(n, n, -1).permute(2, 0, 1)
            assert torch.equal(bias.unsqueeze(0), a._get_rel_pos_bias())
            qkv_bias = torch.cat((a.q_bias, torch.zeros_like(a.q_bias), a.v_bias))
            qkv = F.linear(y, a.qkv.weight, qkv_bias).reshape(b, n, 3, a.num_heads, -1).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            w = ((q * a.scale) @ k.transpose(-2, -1) + bias).softmax(dim=-1)
            out = a.proj((w @ v).transpose(1, 2).reshape(b, n, c))
            module_out = a(y)
            assert torch.allclose(out, module_out, rtol=0, atol=1e-6), (out - module_out).abs().max()
            attns.append(w.clone())
            extra["vit.rel_bias.%d" % l] = bias.contiguous().clone()
            t1 = t + blk.gamma_1 * module_out  # the block: layer scale gamma_1/gamma_2 on both branches
            t2 = t1 + blk.gamma_2 * blk.mlp(blk.norm2(t1))
            t = blk(t)
            assert torch.equal(t, t2)
        feats = model.forward_features(x)
        assert torch.equal(feats, t)  # norm is Identity with global_pool 'avg'
        emb = model.forward_head(feats, pre_logits=True)
        pooled = model.fc_norm(feats[:, model.num_prefix_tokens:].mean(dim=1))
        assert torch.equal(emb, pooled)
        logits = model.forward_head(feats)
        assert torch.equal(logits, model(x))
        manual = F.linear(emb, model.head.weight, model.head.bias)
        assert torch.allclose(logits, manual, rtol=0, atol=1e-6), (logits - manual).abs().max()
    extra["vit.logits"] = logits
    extra["vit.rel_pos_index"] = index
    return attns, emb, extra


REFERENCES = {"vit": timm_reference, "beit": beit_reference}


def make_timm(out_dir, case_name, case):
    model = build_timm(case, case["seed"])
    kept = []
    counts = perturb(model, torch.Generator().manual_seed(case["seed"] * 1000 + 1), kept)
    new_case = "family" in case  # the cases added later (timm_deit3, timm_beit, timm_siglip)
    assert not (new_case and kept), "%s: parameters left as initialised: %s" % (case_name, kept)
    x = torch.randn(case["input"], generator=torch.Generator().manual_seed(case["seed"] * 1000 + 2))
    reference = REFERENCES[case.get("family", "vit")]
    attns, emb, extra = reference(model, x)

    case_dir = out_dir / case_name
    case_dir.mkdir(parents=True, exist_ok=True)
    sd = model.state_dict()
    for k in case["must_have"]:
        assert k in sd, "%s: expected key missing: %s" % (case_name, k)
    for k in case["must_not_have"]:
        assert k not in sd, "%s: unexpected key: %s" % (case_name, k)
    for k, v in sd.items():
        assert v.dtype == torch.float32, (k, v.dtype)
    write_safetensors(case_dir / "model.safetensors", sd, metadata={"format": "pt"})
    timm_save_config_for_hf(model, case_dir / "config.json")

    ref = OrderedDict([("vit.input", x)])
    for i, w in enumerate(attns):
        ref["vit.attn.%d" % i] = w
    ref["vit.embedding"] = emb
    ref.update(extra)
    assert ("vit.logits" in ref) == bool(case["kwargs"]["num_classes"])

    dynamic = getattr(model, "dynamic_img_size", False)
    gh, gw = model.patch_embed.dynamic_feat_size(x.shape[-2:]) if dynamic else model.patch_embed.grid_size
    extra_notes = ""
    if tuple(model.patch_embed.grid_size) != (gh, gw):
        # what _pos_embed added at this grid (no_embed_class: pos_embed has no prefix rows)
        assert model.no_embed_class
        with torch.no_grad():
            pos = resample_abs_pos_embed(model.pos_embed, new_size=(gh, gw), old_size=model.patch_embed.grid_size,
                                         num_prefix_tokens=0)
            plain = F.interpolate(model.pos_embed.reshape(1, *model.patch_embed.grid_size, -1).permute(0, 3, 1, 2),
                                  size=(gh, gw), mode="bicubic", align_corners=False, antialias=False)
            plain = plain.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)
            # check that this is what the model adds: patches + pos, prefix tokens concatenated after
            t = model.patch_embed(x)
            expect = torch.cat([model.cls_token, model.reg_token, t.reshape(1, gh * gw, -1) + pos], dim=1)
            assert torch.equal(model._pos_embed(t), expect)
        ref["vit.pos_embed_resampled"] = pos
        extra_notes = (" Position embedding resampled by timm resample_abs_pos_embed from the trained "
                       "%dx%d grid to %dx%d: F.interpolate(mode='bicubic', antialias=True, align_corners=False) "
                       "on the [1,C,h,w] grid, float32; antialias=True changes the result even when upsampling "
                       "(PyTorch's antialiased bicubic: a=-0.5 kernel, weights renormalised at borders; plain "
                       "bicubic: a=-0.75, clamped taps): max |diff| vs antialias=False here %.3g. The result is "
                       "stored as vit.pos_embed_resampled."
                       % (model.patch_embed.grid_size[0], model.patch_embed.grid_size[1], gh, gw,
                          (pos - plain).abs().max().item()))
    write_safetensors(out_dir / (case_name + ".ref.safetensors"), ref)

    # Reload into a fresh model (different seed, so nothing carries over) and compare.
    fresh = build_timm(case, case["seed"] + 50000)
    fresh.load_state_dict(read_safetensors(case_dir / "model.safetensors"), strict=True)
    attns2, emb2, extra2 = reference(fresh, x)
    assert torch.equal(emb, emb2), "%s: reloaded embedding differs" % case_name
    for a1, a2 in zip(attns, attns2):
        assert torch.equal(a1, a2), "%s: reloaded attention differs" % case_name
    assert list(extra) == list(extra2)
    for k in extra:
        assert torch.equal(extra[k], extra2[k]), "%s: reloaded %s differs" % (case_name, k)

    with open(case_dir / "config.json") as f:
        architecture = json.load(f)["architecture"]
    if new_case:
        return new_timm_case(model, case_name, case, x, attns, emb, ref, counts, architecture)
    eps = sorted({m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)})
    act = type(model.blocks[0].mlp.act).__name__
    order = "[cls" + (", reg x%d" % model.num_reg_tokens if model.num_reg_tokens else "") + ", patches row-major]"
    pos_note = ("no_embed_class=True: pos_embed [1,%d,64] covers patches only, added to patches, then cls/reg "
                "concatenated (cls and reg get no position embedding)" % model.pos_embed.shape[1]
                if model.no_embed_class else
                "no_embed_class=False: pos_embed [1,%d,64] has a cls row first; concat then add"
                % model.pos_embed.shape[1])
    assert architecture == case["name"]
    notes = ("timm %s (config.json architecture). Token order %s. %s. patch_embed.proj %s bias; norm_pre %s; LayerScale %s; "
             "MLP act %s%s; LayerNorm eps %s; final norm on all tokens, then token 0 (global_pool 'token'), "
             "fc_norm Identity, no head (num_classes 0): vit.embedding = forward_head(..., pre_logits=True)."
             "%s" % (architecture, order, pos_note,
                     "with" if model.patch_embed.proj.bias is not None else "without",
                     "present" if not isinstance(model.norm_pre, nn.Identity) else "absent",
                     "ls1/ls2.gamma" if not isinstance(model.blocks[0].ls1, nn.Identity) else "absent",
                     act, " (x*sigmoid(1.702x))" if act == "QuickGELU" else " (exact erf GELU)",
                     eps, extra_notes))
    build = OrderedDict([("library", "timm"), ("timm_version", timm.__version__), ("timm_commit", TIMM_COMMIT),
                         ("builder", "timm.create_model"), ("name", case["name"]), ("kwargs", case["kwargs"]),
                         ("pretrained_cfg_overlay", case["overlay"]), ("seed", case["seed"]),
                         ("perturbed", counts)])
    return OrderedDict([
        ("input", list(x.shape)), ("tokens", attns[0].shape[-1]), ("heads", attns[0].shape[1]),
        ("depth", len(attns)), ("prefix_tokens", model.num_prefix_tokens), ("embedding_dim", emb.shape[-1]),
        ("classes", None), ("notes", notes), ("reference", case_name + ".ref.safetensors"),
        ("files", [case_name + "/model.safetensors", case_name + "/config.json"]), ("build", build)])


def new_timm_case(model, case_name, case, x, attns, emb, ref, counts, architecture):
    """cases.json entry (notes checked against the built model) for timm_deit3, timm_beit, timm_siglip."""
    assert architecture == case["name"]
    eps = sorted({m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)})
    acts = sorted({"%s(approximate=%r)" % (type(m).__name__, m.approximate) for m in model.modules()
                   if isinstance(m, nn.GELU)})
    assert eps == [1e-6] and acts == ["GELU(approximate='none')"], (eps, acts)
    assert all(isinstance(m, (nn.GELU, nn.Identity, nn.Dropout)) or "act" not in n
               for n, m in model.named_modules())
    common = ("patch_embed.proj conv %dx%d stride %d with bias, patches flattened row-major; every LayerNorm eps 1e-6; "
              "MLP fc1 [%d,64] -> GELU exact erf (nn.GELU approximate='none') -> fc2 (mlp_ratio 0.5 here)"
              % (model.patch_embed.patch_size + model.patch_embed.patch_size[:1] + (model.blocks[0].mlp.fc1.out_features,)))
    tokens = attns[0].shape[-1]
    with torch.no_grad():
        t = model.patch_embed(x)
        if case_name == "timm_deit3":
            assert model.no_embed_class and model.pos_embed.shape[1] == tokens - 1
            assert torch.equal(model._pos_embed(t), torch.cat([model.cls_token, t + model.pos_embed], dim=1))
            notes = ("timm %s (config.json architecture; plain timm VisionTransformer built by timm.models.deit). "
                     "Token order [cls, patches row-major]. no_embed_class=True: pos_embed [1,%d,64] covers the "
                     "patches only, added to the patches, then cls concatenated in front (cls gets no position "
                     "embedding). %s. Blocks: x = x + ls1.gamma * attn(norm1(x)); x = x + ls2.gamma * mlp(norm2(x)) "
                     "(LayerScale, init_values 1e-6 in the registry, perturbed here); attn.qkv with bias, rows "
                     "[q;k;v], head-major within each; scale 16**-0.5 on q. norm_pre absent. Final norm on all "
                     "tokens, token 0 (global_pool 'token'), fc_norm Identity, head Linear(64,10): vit.logits = "
                     "model(x); vit.embedding (also stored) = forward_head(..., pre_logits=True) = the normed cls token."
                     % (architecture, model.pos_embed.shape[1], common))
        elif case_name == "timm_siglip":
            assert not model.has_class_token and model.num_prefix_tokens == 0 and not model.no_embed_class
            assert model.pos_embed.shape[1] == tokens
            assert torch.equal(model._pos_embed(t), t + model.pos_embed)
            ap = model.attn_pool
            assert type(ap.mlp.act) is nn.GELU and ap.mlp.act.approximate == "none" and ap.norm.eps == 1e-6
            notes = ("timm %s (config.json architecture). No class token, no prefix tokens: tokens = the %d patches "
                     "row-major, + pos_embed [1,%d,64] (patches only). %s. Blocks: x = x + attn(norm1(x)); "
                     "x = x + mlp(norm2(x)) (no layer scale); attn.qkv with bias. norm_pre absent. Final norm on "
                     "all tokens, then global_pool 'map': timm AttentionPoolLatent (timm/layers/attention_pool.py) "
                     "on ALL tokens: q = attn_pool.q(latent) [1,1,64] split in 4 heads of 16; k,v = attn_pool.kv(x) "
                     "[1,N,128] with rows [k (64); v (64)], head-major within each; a = softmax(q*16**-0.5 @ k^T) "
                     "[1,4,1,N] (stored as vit.pool_attn); y = attn_pool.proj(concat_heads(a @ v)); "
                     "y = y + attn_pool.mlp(attn_pool.norm(y)) (fc1 [%d,64], exact GELU, fc2; norm eps 1e-6); "
                     "output y[:,0]. fc_norm Identity, num_classes 0 (head Identity): vit.embedding = "
                     "forward_head(..., pre_logits=True) = the attention-pool output. timm builds the SigLIP tower "
                     "with exact-erf GELU in the blocks and the pool MLP (big_vision and HF transformers' "
                     "SiglipVisionModel use the tanh approximation, gelu_pytorch_tanh)."
                     % (architecture, tokens, model.pos_embed.shape[1], common, ap.mlp.fc1.out_features))
        elif case_name == "timm_beit":
            wh, ww = model.patch_embed.grid_size
            rows = (2 * wh - 1) * (2 * ww - 1) + 3
            assert model.blocks[0].attn.relative_position_bias_table.shape == (rows, 4)
            notes = ("timm %s (config.json architecture; timm.models.beit.Beit, not VisionTransformer). Token order "
                     "[cls, patches row-major]; NO absolute position embedding (use_abs_pos_emb=False: no pos_embed "
                     "key), no shared rel_pos_bias. %s. Blocks: x = x + gamma_1 * attn(norm1(x)); x = x + gamma_2 * "
                     "mlp(norm2(x)) (blocks.<l>.gamma_1/gamma_2, init_values 0.1 in the registry, perturbed here). "
                     "Attention: attn.qkv.weight [192,64] has NO bias key; the qkv bias is cat(attn.q_bias, zeros "
                     "(k_bias is a non-persistent zero buffer, not in the checkpoint), attn.v_bias); rows [q;k;v], "
                     "head-major within each; attn = softmax(q*16**-0.5 @ k^T + B) with B[h,i,j] = "
                     "attn.relative_position_bias_table[relative_position_index[i,j], h] (table [%d,4] = "
                     "(2*%d-1)*(2*%d-1)+3 rows, one column per head; B stored as vit.rel_bias.<l> [4,%d,%d]). "
                     "relative_position_index [%d,%d] is a non-persistent buffer (NOT in the checkpoint; also "
                     "stored as vit.rel_pos_index, int64): for patch tokens i=1+(yi*%d+xi), j=1+(yj*%d+xj): "
                     "(yi-yj+%d-1)*(2*%d-1) + (xi-xj+%d-1); row 0 (cls query -> patch keys) = %d; column 0 "
                     "(patch queries -> cls key) = %d; [0,0] (cls -> cls) = %d. Head: global_pool 'avg': mean of "
                     "the patch tokens (cls excluded), fc_norm LayerNorm, head Linear(64,10); norm is Identity (no "
                     "norm.* keys, the final norm is fc_norm after pooling). vit.logits = model(x); vit.embedding "
                     "(also stored) = forward_head(..., pre_logits=True) = fc_norm(mean of patch tokens)."
                     % (architecture, common, rows, wh, ww, tokens, tokens, tokens, tokens, ww, ww, wh, ww, ww,
                        rows - 3, rows - 2, rows - 1))
        else:
            raise AssertionError(case_name)
    sd = model.state_dict()
    build = OrderedDict([("library", "timm"), ("timm_version", timm.__version__), ("timm_commit", TIMM_COMMIT),
                         ("builder", "timm.create_model"), ("name", case["name"]), ("kwargs", case["kwargs"]),
                         ("pretrained_cfg_overlay", case["overlay"]), ("seed", case["seed"]),
                         ("perturbed", counts),
                         ("block_keys", OrderedDict((k, list(v.shape)) for k, v in sd.items()
                                                    if k.startswith("blocks.0."))),
                         ("other_keys", OrderedDict((k, list(v.shape)) for k, v in sd.items()
                                                    if not k.startswith("blocks.")))])
    classes = case["kwargs"]["num_classes"] or None
    return OrderedDict([
        ("input", list(x.shape)), ("tokens", tokens), ("heads", attns[0].shape[1]),
        ("depth", len(attns)), ("prefix_tokens", model.num_prefix_tokens), ("embedding_dim", emb.shape[-1]),
        ("classes", classes), ("notes", notes), ("reference", case_name + ".ref.safetensors"),
        ("files", [case_name + "/model.safetensors", case_name + "/config.json"]),
        ("outputs", OrderedDict((k, list(v.shape)) for k, v in ref.items())), ("build", build)])


# ---------------------------------------------------------------- main

BEIT_RESIZED = dict(seed=307, size=(80, 96))  # a 5x6 grid for weights trained on 4x4


def make_timm_beit_resized(out_dir):
    """timm_beit's weights at another input size, as timm runs them: a Beit built at img_size 80x96
    (window 5x6) loading the 4x4 checkpoint through timm.models.beit.checkpoint_filter_fn, which
    resizes every relative_position_bias_table with timm.layers.resize_rel_pos_bias_table (no scipy
    here: UniLM's geometric-progression source positions, linear RegularGridInterpolator; the three
    class-token rows are kept). Reference as for timm_beit, plus vit.rel_table.<l>: the resized tables."""
    h, w = BEIT_RESIZED["size"]
    case = TIMM_CASES["timm_beit"]
    kwargs = OrderedDict(case["kwargs"], img_size=(h, w))
    torch.manual_seed(BEIT_RESIZED["seed"])
    model = timm.create_model(case["name"], pretrained=False, **kwargs).eval()
    sd = read_safetensors(out_dir / "timm_beit" / "model.safetensors")
    filtered = timm_beit.checkpoint_filter_fn(sd, model)
    model.load_state_dict(filtered, strict=True)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(BEIT_RESIZED["seed"] * 1000 + 2))
    attns, emb, extra = beit_reference(model, x)
    ref = OrderedDict([("vit.input", x)])
    for i, a in enumerate(attns):
        ref["vit.attn.%d" % i] = a
    ref["vit.embedding"] = emb
    ref.update(extra)
    for i, blk in enumerate(model.blocks):
        table = blk.attn.relative_position_bias_table.detach().clone()
        assert table.shape == ((2 * h // 16 - 1) * (2 * w // 16 - 1) + 3, 4), table.shape
        assert torch.equal(table[-3:], sd["blocks.%d.attn.relative_position_bias_table" % i][-3:])
        ref["vit.rel_table.%d" % i] = table
    name = "timm_beit_%dx%d" % (h, w)
    write_safetensors(out_dir / (name + ".ref.safetensors"), ref)
    notes = ("timm_beit's checkpoint run at %dx%d (grid %dx%d; trained 4x4): timm.create_model(%r, img_size=(%d, %d), "
             "same kwargs) + checkpoint_filter_fn, which resizes each relative_position_bias_table [52,4] to [%d,4] by "
             "resize_rel_pos_bias_table (torch path, TIMM_USE_SCIPY_INTERP unset): per head, the (2*4-1)^2 table "
             "sampled at UniLM's geometric-progression offsets (q by bisection in [1.01, 1.5] so that the sum of "
             "src//2 terms reaches dst//2), linearly interpolated (timm RegularGridInterpolator) at integer offsets "
             "-dst//2..dst//2 per axis; the 3 class-token rows kept. Stored: vit.rel_table.<l> (resized tables), "
             "vit.rel_bias.<l>, vit.rel_pos_index [31,31], vit.attn.<l>, vit.logits, vit.embedding."
             % (h, w, h // 16, w // 16, case["name"], h, w, (2 * h // 16 - 1) * (2 * w // 16 - 1) + 3))
    build = OrderedDict([("library", "timm"), ("timm_version", timm.__version__), ("timm_commit", TIMM_COMMIT),
                         ("builder", "timm.create_model + timm.models.beit.checkpoint_filter_fn"),
                         ("name", case["name"]), ("kwargs", OrderedDict(kwargs, img_size=[h, w])),
                         ("weights", "timm_beit/model.safetensors"), ("seed", BEIT_RESIZED["seed"])])
    return name, OrderedDict([
        ("input", list(x.shape)), ("tokens", attns[0].shape[-1]), ("heads", attns[0].shape[1]),
        ("depth", len(attns)), ("prefix_tokens", 1), ("embedding_dim", emb.shape[-1]), ("classes", 10),
        ("notes", notes), ("reference", name + ".ref.safetensors"), ("files", ["timm_beit/model.safetensors"]),
        ("outputs", OrderedDict((k, list(v.shape)) for k, v in ref.items())), ("build", build)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder, e.g. tests/fixtures/vit")
    parser.add_argument("--with-safetensors-copy", action="store_true",
                        help="also write the openclip_vit_safetensors case (about 0.68 MB more: the "
                             "total is then about 4.8 MB, over the 4.5 MB budget, so it is off by default)")
    parser.add_argument("--only-beit-resized", action="store_true",
                        help="only (re)make the timm_beit_80x96 reference from the timm_beit weights already in "
                             "--out, and add it to its cases.json (how that case was added: the other cases' "
                             "checks are exact to 1e-6 on the machine that made them, not on every CPU)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one summation order, the same on every run
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.only_beit_resized:
        with open(out_dir / "cases.json") as f:
            cases = json.load(f, object_pairs_hook=OrderedDict)
    else:
        cases = make_openclip(out_dir, with_safetensors=args.with_safetensors_copy)
        for case_name, case in TIMM_CASES.items():
            cases[case_name] = make_timm(out_dir, case_name, case)
    name, info = make_timm_beit_resized(out_dir)
    cases[name] = info
    for case_name, case in cases.items():
        print("%-26s input %-16s tokens %3d heads %d depth %d prefix %d emb %d  reload ok"
              % (case_name, case["input"], case["tokens"], case["heads"], case["depth"],
                 case["prefix_tokens"], case["embedding_dim"]))
    with open(out_dir / "cases.json", "w") as f:
        json.dump(cases, f, indent=2)
        f.write("\n")
    total = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    print("total %d bytes in %s" % (total, out_dir))
    if total >= BUDGET_BYTES:
        if args.with_safetensors_copy:
            print("warning: fixtures exceed %.1f MB (--with-safetensors-copy)" % (BUDGET_BYTES / 1e6))
        else:
            sys.exit("fixtures exceed %.1f MB" % (BUDGET_BYTES / 1e6))


if __name__ == "__main__":
    main()
