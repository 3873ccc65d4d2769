#!/usr/bin/env python3
"""Reference data for Hugging Face CLIP, SigLIP and DINOv2 vision towers, without transformers.

transformers is not installed here, so each model is built directly as a state dict under
the exact key names its HF class registers, and run by a forward pass written in
torch.nn.functional that follows the HF source step by step. The source read was
huggingface/transformers at these stored file versions:
  models/clip/modeling_clip.py                         000f1ffdbf1ce6190cc8863af9a2fff817590937
  models/clip/configuration_clip.py                    01841b341b64ab547cd2e30f09cb9c74929f50f2
  models/siglip/modeling_siglip.py                     00b206564aa29563b46bfce0511de4a4f1eefc8c
  models/dinov2/modeling_dinov2.py                     015e68769f9823df27f5f7372dc155277e6ff7e6
  models/dinov2_with_registers/modeling_dinov2_with_registers.py  (same commit)
  models/dinov2/configuration_dinov2.py                7667cc2fe20eacc29e6c85d12ee4c7b36eee0f19
  models/dinov2_with_registers/configuration_dinov2_with_registers.py
                                                       053f59efe493c4f815f39f836494a1f2f73fbe0b
  activations.py                                       00e12e7c54598e50e7bef1540db3408f81916de1
The functions named in the comments below are the HF ones each step mirrors.

Writes into --out, per case <case>:
  <case>/model.safetensors   the state dict (with __metadata__ {"format": "pt"}, as save_pretrained)
  <case>/config.json         shaped like save_pretrained's config.json for that class
  <case>.ref.safetensors     vit.input [1,3,H,W], vit.attn.<l> [1,heads,T,T] (eager softmax
                             attention), vit.embedding [1,E] (pooled image embedding),
                             vit.logits [1,classes] where the class has a classifier, and for
                             SigLIP vit.pool_attn [1,heads,1,T] (the pooling head's attention)
  hf_dinov2.native.ref.safetensors   hf_dinov2 again at its trained size 56x56
  cases.json                 what each case holds and which input/outputs its references have
"""
import argparse
import json
import os
from collections import OrderedDict

import torch
import torch.nn.functional as F
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import write_safetensors  # noqa: E402

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
TRANSFORMERS_VERSION = "4.57.1"  # written into config.json as save_pretrained does; not read by anything

D, HEADS, LAYERS = 64, 4, 2          # every vision tower here
CLIP_INTERMEDIATE, CLIP_PATCH, CLIP_IMAGE, CLIP_PROJ = 128, 16, 64, 32
DINO_MLP_RATIO, DINO_PATCH, DINO_IMAGE = 2, 14, 56   # Dinov2MLP hidden = int(64 * 2) = 128
REGISTERS, CLASSES = 4, 10


def write_model_dir(path, tensors, config):
    os.makedirs(path, exist_ok=True)
    write_safetensors(os.path.join(path, "model.safetensors"), tensors, metadata={"format": "pt"})
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")  # PretrainedConfig.to_json_string


class Maker:
    """Perturbed random parameters, all drawn from one seeded generator."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)

    def randn(self, *shape):
        return torch.randn(*shape, generator=self.gen)

    def linear(self, sd, name, out_f, in_f, bias=True):
        sd[name + ".weight"] = self.randn(out_f, in_f) * (1.2 * in_f ** -0.5)
        if bias:
            sd[name + ".bias"] = 0.05 * self.randn(out_f)

    def layer_norm(self, sd, name, dim):
        sd[name + ".weight"] = 1.0 + 0.2 * self.randn(dim)
        sd[name + ".bias"] = 0.1 * self.randn(dim)

    def conv(self, sd, name, out_c, in_c, k, bias=True):
        sd[name + ".weight"] = self.randn(out_c, in_c, k, k) * (in_c * k * k) ** -0.5
        if bias:
            sd[name + ".bias"] = 0.05 * self.randn(out_c)

    def token(self, *shape):
        return 0.5 * self.randn(*shape)

    def layer_scale(self, dim):
        return 0.5 + 0.2 * self.randn(dim)


def layer_norm(x, sd, name, eps):
    return F.layer_norm(x, (x.shape[-1],), sd[name + ".weight"], sd[name + ".bias"], eps=eps)


def linear(x, sd, name):
    return F.linear(x, sd[name + ".weight"], sd.get(name + ".bias"))


def eager_attention(q, k, v, scaling):
    """eager_attention_forward (modeling_clip.py / modeling_dinov2.py): matmul, then scale,
    softmax in float32; q, k, v are [B, heads, T, head_dim]. Returns [B, T, heads*head_dim]
    and the weights."""
    weights = torch.matmul(q, k.transpose(-1, -2)) * scaling
    weights = F.softmax(weights, dim=-1, dtype=torch.float32).to(q.dtype)
    out = torch.matmul(weights, v).transpose(1, 2).contiguous()
    return out.reshape(out.shape[0], out.shape[1], -1), weights


def check_attention(x, sd, q, k, v, o, weights, out):
    """Independent check of the head split and output: torch's own multi-head attention."""
    n, t, d = x.shape
    ref_out, ref_w = F.multi_head_attention_forward(
        x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), d, HEADS,
        torch.cat([sd[q + ".weight"], sd[k + ".weight"], sd[v + ".weight"]]),
        torch.cat([sd[q + ".bias"], sd[k + ".bias"], sd[v + ".bias"]]), None, None, False, 0.0,
        sd[o + ".weight"], sd[o + ".bias"], training=False, need_weights=True, average_attn_weights=False)
    assert torch.allclose(ref_w, weights, atol=1e-5), "attention weights disagree with torch MHA"
    assert torch.allclose(ref_out.transpose(0, 1), out, atol=1e-4), "attention output disagrees with torch MHA"


def split_heads(x):
    """.view(batch, seq, -1, head_dim).transpose(1, 2), as CLIPAttention / Dinov2SelfAttention."""
    n, t, d = x.shape
    return x.view(n, t, -1, d // HEADS).transpose(1, 2)


# ----------------------------------------------------------------------------------- CLIP

def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)  # activations.QuickGELUActivation ("quick_gelu")


def clip_encoder_state(mk, sd, p, dim, inter, layers):
    """CLIPEncoder: p + "layers.<i>." with CLIPAttention (k/v/q/out_proj), CLIPMLP, two LayerNorms."""
    for i in range(layers):
        q = f"{p}layers.{i}."
        for name in ["k_proj", "v_proj", "q_proj", "out_proj"]:
            mk.linear(sd, q + "self_attn." + name, dim, dim)
        mk.layer_norm(sd, q + "layer_norm1", dim)
        mk.linear(sd, q + "mlp.fc1", inter, dim)
        mk.linear(sd, q + "mlp.fc2", dim, inter)
        mk.layer_norm(sd, q + "layer_norm2", dim)


def clip_vision_state(mk, sd):
    """CLIPVisionTransformer under "vision_model." (CLIPVisionModel and CLIPModel alike).
    position_ids is registered with persistent=False in CLIPVisionEmbeddings, so
    save_pretrained does not write it at the commit read."""
    p = "vision_model."
    grid = CLIP_IMAGE // CLIP_PATCH
    sd[p + "embeddings.class_embedding"] = mk.token(D)
    mk.conv(sd, p + "embeddings.patch_embedding", D, 3, CLIP_PATCH, bias=False)  # bias=False in HF
    sd[p + "embeddings.position_embedding.weight"] = mk.token(grid * grid + 1, D)  # nn.Embedding
    mk.layer_norm(sd, p + "pre_layrnorm", D)  # sic
    clip_encoder_state(mk, sd, p + "encoder.", D, CLIP_INTERMEDIATE, LAYERS)
    mk.layer_norm(sd, p + "post_layernorm", D)


def clip_vision_forward(sd, x, eps=1e-5):
    """CLIPVisionTransformer.forward with interpolate_pos_encoding=False (input at image_size).
    Returns last_hidden_state (not normed), pooler_output, attentions."""
    p = "vision_model."
    # CLIPVisionEmbeddings.forward: conv without bias, flatten(2).transpose(1, 2), class first,
    # + position_embedding(position_ids) with position_ids = arange(num_positions)
    patches = F.conv2d(x, sd[p + "embeddings.patch_embedding.weight"], None, stride=CLIP_PATCH)
    patches = patches.flatten(2).transpose(1, 2)
    cls = sd[p + "embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    h = torch.cat([cls, patches], dim=1)
    pos = sd[p + "embeddings.position_embedding.weight"]
    h = h + pos[torch.arange(pos.shape[0])].unsqueeze(0)
    h = layer_norm(h, sd, p + "pre_layrnorm", eps)  # CLIPVisionTransformer.forward
    h, attentions = clip_encoder_forward(sd, h, p + "encoder.", eps, quick_gelu)
    pooled = layer_norm(h[:, 0, :], sd, p + "post_layernorm", eps)  # only the class token is normed
    return h, pooled, attentions


def clip_encoder_forward(sd, h, p, eps, activation):
    """CLIPEncoder / SiglipEncoder (the same layers): returns the last hidden state and every
    layer's attention weights."""
    attentions = []
    for i in range(LAYERS):  # CLIPEncoderLayer.forward / SiglipEncoderLayer.forward
        q = f"{p}layers.{i}."
        residual = h
        y = layer_norm(h, sd, q + "layer_norm1", eps)
        # CLIPAttention.forward: q/k/v projections, heads split, eager attention with
        # scaling = head_dim**-0.5 applied to q@k^T (older releases multiplied q_proj(x) by
        # the scale first: same maths, different rounding), then out_proj
        qs, ks, vs = (split_heads(linear(y, sd, q + "self_attn." + n)) for n in ["q_proj", "k_proj", "v_proj"])
        out, w = eager_attention(qs, ks, vs, (D // HEADS) ** -0.5)
        out = linear(out, sd, q + "self_attn.out_proj")
        check_attention(y, sd, q + "self_attn.q_proj", q + "self_attn.k_proj", q + "self_attn.v_proj",
                        q + "self_attn.out_proj", w, out)
        attentions.append(w)
        h = residual + out
        residual = h
        y = layer_norm(h, sd, q + "layer_norm2", eps)
        y = linear(activation(linear(y, sd, q + "mlp.fc1")), sd, q + "mlp.fc2")  # CLIPMLP / SiglipMLP.forward
        h = residual + y
    return h, attentions


def clip_vision_config_fields():
    """CLIPVisionConfig attributes, as to_dict writes them (model-specific keys always kept)."""
    return {"attention_dropout": 0.0, "hidden_act": "quick_gelu", "hidden_size": D, "image_size": CLIP_IMAGE,
            "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": CLIP_INTERMEDIATE,
            "layer_norm_eps": 1e-5, "model_type": "clip_vision_model", "num_attention_heads": HEADS,
            "num_channels": 3, "num_hidden_layers": LAYERS, "patch_size": CLIP_PATCH,
            "projection_dim": CLIP_PROJ}


TEXT_SIZES = (32, 64, 100, 8)  # width, intermediate, vocabulary, positions of the unused text towers


def text_tower_state(mk, sd):
    """CLIPTextTransformer / SiglipTextTransformer under "text_model." (without SigLIP's head):
    what a vision-only loader must skip."""
    tdim, tinter, vocab, max_pos = TEXT_SIZES
    sd["text_model.embeddings.token_embedding.weight"] = mk.token(vocab, tdim)
    sd["text_model.embeddings.position_embedding.weight"] = mk.token(max_pos, tdim)
    clip_encoder_state(mk, sd, "text_model.encoder.", tdim, tinter, LAYERS)
    mk.layer_norm(sd, "text_model.final_layer_norm", tdim)


def make_hf_clip(out):
    """A full CLIPModel: vision tower + visual_projection, and a text tower, text_projection and
    logit_scale that a vision-only loader must ignore. Embedding = get_image_features."""
    mk = Maker(101)
    sd = OrderedDict()
    tdim, tinter, vocab, max_pos = TEXT_SIZES
    text_tower_state(mk, sd)
    clip_vision_state(mk, sd)
    mk.linear(sd, "visual_projection", CLIP_PROJ, D, bias=False)  # CLIPModel.__init__: bias=False
    mk.linear(sd, "text_projection", CLIP_PROJ, tdim, bias=False)
    sd["logit_scale"] = torch.tensor(2.6592)  # 0-d parameter, logit_scale_init_value
    text_config = {"attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 2, "hidden_act": "quick_gelu",
                   "hidden_size": tdim, "initializer_factor": 1.0, "initializer_range": 0.02,
                   "intermediate_size": tinter, "layer_norm_eps": 1e-5, "max_position_embeddings": max_pos,
                   "model_type": "clip_text_model", "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
                   "pad_token_id": 1, "projection_dim": CLIP_PROJ, "vocab_size": vocab}
    config = {"architectures": ["CLIPModel"], "dtype": "float32", "initializer_factor": 1.0,
              "logit_scale_init_value": 2.6592, "model_type": "clip", "projection_dim": CLIP_PROJ,
              "text_config": text_config, "transformers_version": TRANSFORMERS_VERSION,
              "vision_config": clip_vision_config_fields()}
    write_model_dir(os.path.join(out, "hf_clip"), sd, config)
    x = mk.randn(1, 3, CLIP_IMAGE, CLIP_IMAGE)
    _, pooled, attentions = clip_vision_forward(sd, x)
    embedding = F.linear(pooled, sd["visual_projection.weight"])  # CLIPModel.get_image_features
    write_safetensors(os.path.join(out, "hf_clip.ref.safetensors"), reference(x, attentions, embedding))
    return {"hf_clip": case_info("CLIPModel", x, attentions, embedding, None, 1,
                                 "hidden_act quick_gelu, layer_norm_eps 1e-5, pre_layrnorm before the encoder, "
                                 "patch conv without bias; embedding = visual_projection(post_layernorm("
                                 "last_hidden[:, 0])) (get_image_features); text tower present and unused; "
                                 "no position_ids buffer (persistent=False)")}


def make_hf_clip_vision(out):
    """CLIPVisionModel: only vision_model.*; embedding = pooler_output."""
    mk = Maker(202)
    sd = OrderedDict()
    clip_vision_state(mk, sd)
    config = dict(clip_vision_config_fields(), architectures=["CLIPVisionModel"], dtype="float32",
                  transformers_version=TRANSFORMERS_VERSION)
    write_model_dir(os.path.join(out, "hf_clip_vision"), sd, config)
    x = mk.randn(1, 3, CLIP_IMAGE, CLIP_IMAGE)
    _, pooled, attentions = clip_vision_forward(sd, x)
    write_safetensors(os.path.join(out, "hf_clip_vision.ref.safetensors"), reference(x, attentions, pooled))
    return {"hf_clip_vision": case_info("CLIPVisionModel", x, attentions, pooled, None, 1,
                                        "hidden_act quick_gelu, layer_norm_eps 1e-5; no projection: embedding = "
                                        "pooler_output = post_layernorm(last_hidden[:, 0]) (width 64)")}


# ------------------------------------------------------------------------------------ SigLIP

SIGLIP_INTERMEDIATE, SIGLIP_PATCH, SIGLIP_IMAGE = 128, 16, 64


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")  # activations.PytorchGELUTanh ("gelu_pytorch_tanh")


def siglip_vision_state(mk, sd):
    """SiglipVisionTransformer under "vision_model." (SiglipVisionModel and SiglipModel alike):
    no class embedding, a patch conv WITH bias, position_embedding over the patches only, the
    CLIP encoder layers, post_layernorm, and the attention-pooling head (vision_use_head
    defaults to True). position_ids is persistent=False, so not saved."""
    p = "vision_model."
    grid = SIGLIP_IMAGE // SIGLIP_PATCH
    mk.conv(sd, p + "embeddings.patch_embedding", D, 3, SIGLIP_PATCH)
    sd[p + "embeddings.position_embedding.weight"] = mk.token(grid * grid, D)  # nn.Embedding(num_patches, D)
    clip_encoder_state(mk, sd, p + "encoder.", D, SIGLIP_INTERMEDIATE, LAYERS)
    mk.layer_norm(sd, p + "post_layernorm", D)
    h = p + "head."  # SiglipMultiheadAttentionPoolingHead
    sd[h + "probe"] = mk.token(1, 1, D)
    # torch.nn.MultiheadAttention(D, heads, batch_first=True): packed in_proj (rows q, k, v)
    sd[h + "attention.in_proj_weight"] = mk.randn(3 * D, D) * (1.5 * D ** -0.5)
    sd[h + "attention.in_proj_bias"] = 0.05 * mk.randn(3 * D)
    mk.linear(sd, h + "attention.out_proj", D, D)
    mk.layer_norm(sd, h + "layernorm", D)
    mk.linear(sd, h + "mlp.fc1", SIGLIP_INTERMEDIATE, D)
    mk.linear(sd, h + "mlp.fc2", D, SIGLIP_INTERMEDIATE)


def siglip_pooling_head(sd, h, eps):
    """SiglipMultiheadAttentionPoolingHead.forward, with the REAL torch.nn.MultiheadAttention
    module it uses (loaded with the head's weights). Returns the pooled [B, D] and the
    attention weights [B, heads, 1, T], the latter checked against a softmax recomputed here."""
    p = "vision_model.head."
    mha = torch.nn.MultiheadAttention(D, HEADS, batch_first=True)
    mha.load_state_dict({"in_proj_weight": sd[p + "attention.in_proj_weight"],
                         "in_proj_bias": sd[p + "attention.in_proj_bias"],
                         "out_proj.weight": sd[p + "attention.out_proj.weight"],
                         "out_proj.bias": sd[p + "attention.out_proj.bias"]})
    mha.eval()
    probe = sd[p + "probe"].repeat(h.shape[0], 1, 1)
    out, weights = mha(probe, h, h, need_weights=True, average_attn_weights=False)  # [B,1,D], [B,heads,1,T]
    w_in, b_in = sd[p + "attention.in_proj_weight"], sd[p + "attention.in_proj_bias"]
    q = split_heads(F.linear(probe, w_in[:D], b_in[:D]))
    k = split_heads(F.linear(h, w_in[D:2 * D], b_in[D:2 * D]))
    recomputed = F.softmax(q @ k.transpose(-1, -2) * (D // HEADS) ** -0.5, dim=-1)
    assert torch.allclose(recomputed, weights, atol=1e-6), "pool attention disagrees with torch MHA"
    residual = out
    y = layer_norm(out, sd, p + "layernorm", eps)
    out = residual + linear(gelu_tanh(linear(y, sd, p + "mlp.fc1")), sd, p + "mlp.fc2")
    return out[:, 0], weights


def siglip_vision_forward(sd, x, eps=1e-6):
    """SiglipVisionTransformer.forward with interpolate_pos_encoding=False. Returns
    pooler_output, the layers' attentions and the pool's attention."""
    p = "vision_model."
    # SiglipVisionEmbeddings.forward: conv (padding "valid", with bias), flatten(2).transpose(1, 2),
    # + position_embedding(position_ids); no class token
    h = F.conv2d(x, sd[p + "embeddings.patch_embedding.weight"], sd[p + "embeddings.patch_embedding.bias"],
                 stride=SIGLIP_PATCH).flatten(2).transpose(1, 2)
    h = h + sd[p + "embeddings.position_embedding.weight"].unsqueeze(0)
    h, attentions = clip_encoder_forward(sd, h, p + "encoder.", eps, gelu_tanh)
    h = layer_norm(h, sd, p + "post_layernorm", eps)  # on every token (last_hidden_state)
    pooled, pool_attention = siglip_pooling_head(sd, h, eps)
    return pooled, attentions, pool_attention


def siglip_vision_config_fields():
    """SiglipVisionConfig attributes, as to_dict writes them."""
    return {"attention_dropout": 0.0, "hidden_act": "gelu_pytorch_tanh", "hidden_size": D,
            "image_size": SIGLIP_IMAGE, "intermediate_size": SIGLIP_INTERMEDIATE, "layer_norm_eps": 1e-6,
            "model_type": "siglip_vision_model", "num_attention_heads": HEADS, "num_channels": 3,
            "num_hidden_layers": LAYERS, "patch_size": SIGLIP_PATCH}


def make_hf_siglip(out):
    """A full SiglipModel: vision tower, and a text tower (with its head), logit_scale and
    logit_bias that the image tower's loader must skip. Embedding = get_image_features =
    vision_model(...).pooler_output (SigLIP has no projection)."""
    mk = Maker(606)
    sd = OrderedDict()
    tdim, tinter, vocab, max_pos = TEXT_SIZES
    text_tower_state(mk, sd)
    mk.linear(sd, "text_model.head", D, tdim)  # projection_size: the image embedding's width
    siglip_vision_state(mk, sd)
    sd["logit_scale"] = mk.randn(1)
    sd["logit_bias"] = mk.randn(1)
    text_config = {"attention_dropout": 0.0, "hidden_act": "gelu_pytorch_tanh", "hidden_size": tdim,
                   "intermediate_size": tinter, "layer_norm_eps": 1e-6, "max_position_embeddings": max_pos,
                   "model_type": "siglip_text_model", "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
                   "vocab_size": vocab}
    config = {"architectures": ["SiglipModel"], "dtype": "float32", "initializer_factor": 1.0,
              "model_type": "siglip", "text_config": text_config, "transformers_version": TRANSFORMERS_VERSION,
              "vision_config": siglip_vision_config_fields()}
    return write_siglip_case(out, "hf_siglip", "SiglipModel", mk, sd, config,
                             "hidden_act gelu_pytorch_tanh, layer_norm_eps 1e-6, no class token, patch conv "
                             "with bias, post_layernorm on every token, then the attention-pooling head "
                             "(torch nn.MultiheadAttention, probe query); vit.pool_attn [1,heads,1,T]; "
                             "embedding = pooler_output; text tower, logit_scale, logit_bias unused")


def make_hf_siglip_vision(out):
    """SiglipVisionModel: only vision_model.*; embedding = pooler_output."""
    mk = Maker(707)
    sd = OrderedDict()
    siglip_vision_state(mk, sd)
    config = dict(siglip_vision_config_fields(), architectures=["SiglipVisionModel"], dtype="float32",
                  transformers_version=TRANSFORMERS_VERSION)
    return write_siglip_case(out, "hf_siglip_vision", "SiglipVisionModel", mk, sd, config,
                             "as hf_siglip without the text tower")


def write_siglip_case(out, name, cls, mk, sd, config, notes):
    """The model folder, then the reference of one random input (drawn after the weights)."""
    write_model_dir(os.path.join(out, name), sd, config)
    x = mk.randn(1, 3, SIGLIP_IMAGE, SIGLIP_IMAGE)
    pooled, attentions, pool_attention = siglip_vision_forward(sd, x)
    ref = reference(x, attentions, pooled)
    ref["vit.pool_attn"] = pool_attention
    write_safetensors(os.path.join(out, name + ".ref.safetensors"), ref)
    return {name: case_info(cls, x, attentions, pooled, None, 0, notes)}


# --------------------------------------------------------------------------------- DINOv2

def swiglu_hidden(dim, mlp_ratio):
    """Dinov2SwiGLUFFN.__init__: int(dim * mlp_ratio), then (int(h * 2 / 3) + 7) // 8 * 8."""
    h = int(dim * mlp_ratio)
    return (int(h * 2 / 3) + 7) // 8 * 8


def dinov2_state(mk, prefix, swiglu=False, registers=0):
    """Dinov2Model / Dinov2WithRegistersModel parameters under prefix ("" for the bare model,
    "dinov2." inside Dinov2ForImageClassification)."""
    sd = OrderedDict()
    p = prefix + "embeddings."
    grid = DINO_IMAGE // DINO_PATCH
    sd[p + "cls_token"] = mk.token(1, 1, D)
    sd[p + "mask_token"] = mk.token(1, D)  # [1, D], not [1, 1, D]; only used with bool_masked_pos
    if registers:
        sd[p + "register_tokens"] = mk.token(1, registers, D)
    sd[p + "position_embeddings"] = mk.token(1, grid * grid + 1, D)  # class + patches, no registers
    mk.conv(sd, p + "patch_embeddings.projection", D, 3, DINO_PATCH)
    for i in range(LAYERS):
        q = f"{prefix}encoder.layer.{i}."
        mk.layer_norm(sd, q + "norm1", D)
        for name in ["query", "key", "value"]:
            mk.linear(sd, q + "attention.attention." + name, D, D)
        mk.linear(sd, q + "attention.output.dense", D, D)
        sd[q + "layer_scale1.lambda1"] = mk.layer_scale(D)
        mk.layer_norm(sd, q + "norm2", D)
        if swiglu:
            hidden = swiglu_hidden(D, DINO_MLP_RATIO)
            mk.linear(sd, q + "mlp.weights_in", 2 * hidden, D)
            mk.linear(sd, q + "mlp.weights_out", D, hidden)
        else:
            hidden = int(D * DINO_MLP_RATIO)
            mk.linear(sd, q + "mlp.fc1", hidden, D)
            mk.linear(sd, q + "mlp.fc2", D, hidden)
        sd[q + "layer_scale2.lambda1"] = mk.layer_scale(D)
    mk.layer_norm(sd, prefix + "layernorm", D)
    return sd


def dinov2_interpolate_pos_encoding(pos, num_patches, height, width, antialias):
    """Dinov2Embeddings.interpolate_pos_encoding (antialias=False) and
    Dinov2WithRegistersEmbeddings.interpolate_pos_encoding (antialias=True): no interpolation
    when the patch count matches and height == width; otherwise bicubic, align_corners=False,
    to size=(height // patch, width // patch) (no +0.1 / scale_factor at this commit), in float32."""
    num_positions = pos.shape[1] - 1
    if num_patches == num_positions and height == width:
        return pos
    class_pos, patch_pos = pos[:, :1], pos[:, 1:]
    dim = pos.shape[-1]
    side = int(num_positions ** 0.5)
    patch_pos = patch_pos.reshape(1, side, side, dim).permute(0, 3, 1, 2)
    patch_pos = F.interpolate(patch_pos.to(torch.float32), size=(height // DINO_PATCH, width // DINO_PATCH),
                              mode="bicubic", align_corners=False, antialias=antialias).to(pos.dtype)
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat([class_pos, patch_pos], dim=1)


def dinov2_forward(sd, x, prefix="", swiglu=False, registers=0, eps=1e-6):
    """Dinov2Model.forward / Dinov2WithRegistersModel.forward with bool_masked_pos=None.
    Returns sequence_output (after the final layernorm), pooler_output, attentions."""
    p = prefix + "embeddings."
    _, _, height, width = x.shape
    # Dinov2Embeddings.forward: patch conv, cls first, + interpolated position embeddings ...
    emb = F.conv2d(x, sd[p + "patch_embeddings.projection.weight"], sd[p + "patch_embeddings.projection.bias"],
                   stride=DINO_PATCH).flatten(2).transpose(1, 2)
    emb = torch.cat([sd[p + "cls_token"].expand(x.shape[0], -1, -1), emb], dim=1)
    emb = emb + dinov2_interpolate_pos_encoding(sd[p + "position_embeddings"], emb.shape[1] - 1, height, width,
                                                antialias=registers > 0)
    if registers:  # ... and Dinov2WithRegistersEmbeddings inserts the registers after the class token,
        emb = torch.cat([emb[:, :1], sd[p + "register_tokens"].expand(x.shape[0], -1, -1), emb[:, 1:]], dim=1)
    h = emb  # so registers get no position embedding
    attentions = []
    for i in range(LAYERS):  # Dinov2Layer.forward
        q = f"{prefix}encoder.layer.{i}."
        a = q + "attention.attention."
        y = layer_norm(h, sd, q + "norm1", eps)
        # Dinov2SelfAttention.forward: key, value, query Linear layers, eager attention with
        # scaling = head_dim**-0.5; Dinov2SelfOutput: dense
        ks, vs, qs = (split_heads(linear(y, sd, a + n)) for n in ["key", "value", "query"])
        out, w = eager_attention(qs, ks, vs, (D // HEADS) ** -0.5)
        out = linear(out, sd, q + "attention.output.dense")
        check_attention(y, sd, a + "query", a + "key", a + "value", q + "attention.output.dense", w, out)
        attentions.append(w)
        h = out * sd[q + "layer_scale1.lambda1"] + h  # Dinov2LayerScale, first residual
        y = layer_norm(h, sd, q + "norm2", eps)
        if swiglu:  # Dinov2SwiGLUFFN.forward: chunk(2) of weights_in, silu(x1) * x2, weights_out
            x1, x2 = linear(y, sd, q + "mlp.weights_in").chunk(2, dim=-1)
            y = linear(F.silu(x1) * x2, sd, q + "mlp.weights_out")
        else:  # Dinov2MLP.forward with hidden_act "gelu" (GELUActivation: exact erf gelu)
            y = linear(F.gelu(linear(y, sd, q + "mlp.fc1")), sd, q + "mlp.fc2")
        h = y * sd[q + "layer_scale2.lambda1"] + h  # Dinov2LayerScale, second residual
    seq = layer_norm(h, sd, prefix + "layernorm", eps)  # Dinov2Model.forward: all tokens normed
    return seq, seq[:, 0, :], attentions


def dinov2_config(arch, swiglu=False, registers=0, classes=0):
    """Dinov2Config / Dinov2WithRegistersConfig as save_pretrained writes them (sorted keys)."""
    config = {"apply_layernorm": True, "architectures": [arch], "attention_probs_dropout_prob": 0.0,
              "drop_path_rate": 0.0, "dtype": "float32", "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
              "hidden_size": D, "image_size": DINO_IMAGE, "initializer_range": 0.02, "layer_norm_eps": 1e-6,
              "layerscale_value": 1.0, "mlp_ratio": DINO_MLP_RATIO, "model_type": "dinov2",
              "num_attention_heads": HEADS, "num_channels": 3, "num_hidden_layers": LAYERS,
              "out_features": [f"stage{LAYERS}"], "out_indices": [LAYERS], "patch_size": DINO_PATCH,
              "qkv_bias": True, "reshape_hidden_states": True,
              "stage_names": ["stem"] + [f"stage{i}" for i in range(1, LAYERS + 1)],
              "transformers_version": TRANSFORMERS_VERSION, "use_mask_token": True, "use_swiglu_ffn": swiglu}
    if registers:
        config["model_type"] = "dinov2_with_registers"
        config["num_register_tokens"] = registers
        del config["use_mask_token"]  # Dinov2WithRegistersConfig has none: mask_token always exists
    if classes:
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(classes)}
        config["label2id"] = {f"LABEL_{i}": i for i in range(classes)}
    return config


def make_hf_dinov2(out):
    mk = Maker(303)
    sd = dinov2_state(mk, "")
    write_model_dir(os.path.join(out, "hf_dinov2"), sd, dinov2_config("Dinov2Model"))
    info = {}
    for suffix, (hh, ww) in [("", (70, 84)), (".native", (DINO_IMAGE, DINO_IMAGE))]:
        x = mk.randn(1, 3, hh, ww)
        _, pooled, attentions = dinov2_forward(sd, x)
        write_safetensors(os.path.join(out, f"hf_dinov2{suffix}.ref.safetensors"), reference(x, attentions, pooled))
        info[f"hf_dinov2{suffix}"] = case_info(
            "Dinov2Model", x, attentions, pooled, None, 1,
            "gelu (erf), layer_norm_eps 1e-6, LayerScale lambda1, mask_token unused; "
            + ("70x84 input: 4x4 position grid resampled to 5x6 by bicubic, align_corners=False, "
               "antialias=False, size=(H//14, W//14)" if suffix == "" else "trained size: no interpolation")
            + "; embedding = pooler_output = layernorm(last_hidden)[:, 0]", model_dir="hf_dinov2")
    return info


def make_hf_dinov2_swiglu(out):
    mk = Maker(404)
    sd = dinov2_state(mk, "", swiglu=True)
    write_model_dir(os.path.join(out, "hf_dinov2_swiglu"), sd, dinov2_config("Dinov2Model", swiglu=True))
    x = mk.randn(1, 3, DINO_IMAGE, DINO_IMAGE)
    _, pooled, attentions = dinov2_forward(sd, x, swiglu=True)
    write_safetensors(os.path.join(out, "hf_dinov2_swiglu.ref.safetensors"), reference(x, attentions, pooled))
    hidden = swiglu_hidden(D, DINO_MLP_RATIO)
    return {"hf_dinov2_swiglu": case_info(
        "Dinov2Model", x, attentions, pooled, None, 1,
        f"use_swiglu_ffn: mlp.weights_in [{2 * hidden},{D}] -> chunk(2) -> silu(x1)*x2 -> mlp.weights_out "
        f"[{D},{hidden}]; hidden = (int(int({D}*{DINO_MLP_RATIO})*2/3)+7)//8*8 = {hidden}")}


def make_hf_dinov2_registers(out):
    mk = Maker(505)
    sd = dinov2_state(mk, "", registers=REGISTERS)
    write_model_dir(os.path.join(out, "hf_dinov2_registers"), sd,
                    dinov2_config("Dinov2WithRegistersModel", registers=REGISTERS))
    x = mk.randn(1, 3, 70, 84)
    _, pooled, attentions = dinov2_forward(sd, x, registers=REGISTERS)
    write_safetensors(os.path.join(out, "hf_dinov2_registers.ref.safetensors"), reference(x, attentions, pooled))
    return {"hf_dinov2_registers": case_info(
        "Dinov2WithRegistersModel", x, attentions, pooled, None, 1 + REGISTERS,
        "tokens = [cls, 4 registers, 30 patches]; position embeddings (cls + 16 patches) are added before "
        "the registers are inserted, so registers get none; 70x84 input: bicubic, align_corners=False, "
        "antialias=True (differs from Dinov2Model), size=(H//14, W//14)")}


def make_hf_dinov2_classifier(out):
    mk = Maker(606)
    sd = dinov2_state(mk, "dinov2.")
    mk.linear(sd, "classifier", CLASSES, 2 * D)  # nn.Linear(hidden_size * 2, num_labels)
    write_model_dir(os.path.join(out, "hf_dinov2_classifier"), sd,
                    dinov2_config("Dinov2ForImageClassification", classes=CLASSES))
    x = mk.randn(1, 3, DINO_IMAGE, DINO_IMAGE)
    seq, pooled, attentions = dinov2_forward(sd, x, prefix="dinov2.")
    # Dinov2ForImageClassification.forward: cat(cls, mean of patch tokens) of the normed sequence
    logits = linear(torch.cat([seq[:, 0], seq[:, 1:].mean(dim=1)], dim=1), sd, "classifier")
    write_safetensors(os.path.join(out, "hf_dinov2_classifier.ref.safetensors"),
                      reference(x, attentions, pooled, logits))
    return {"hf_dinov2_classifier": case_info(
        "Dinov2ForImageClassification", x, attentions, pooled, logits, 1,
        "keys under dinov2.*; classifier [10,128] on cat(layernorm(last)[:,0], layernorm(last)[:,1:].mean(1)); "
        "embedding = inner Dinov2Model pooler_output")}


# ------------------------------------------------------------------------------- outputs

def reference(x, attentions, embedding, logits=None):
    out = OrderedDict([("vit.input", x)])
    if logits is not None:
        out["vit.logits"] = logits
    for i, a in enumerate(attentions):
        out[f"vit.attn.{i}"] = a
    out["vit.embedding"] = embedding
    return out


def case_info(cls, x, attentions, embedding, logits, prefix, notes, model_dir=None):
    info = {"class": cls, "input": list(x.shape), "tokens": attentions[0].shape[-1],
            "heads": attentions[0].shape[1], "layers": len(attentions), "prefix_tokens": prefix,
            "embedding_dim": embedding.shape[-1], "notes": notes}
    if logits is not None:
        info["classes"] = logits.shape[-1]
    if model_dir:
        info["model_dir"] = model_dir
    return info


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)  # same reductions on every run and machine: byte-identical output
    torch.manual_seed(0)
    cases = OrderedDict()
    for make in [make_hf_clip, make_hf_clip_vision, make_hf_dinov2, make_hf_dinov2_swiglu,
                 make_hf_dinov2_registers, make_hf_dinov2_classifier, make_hf_siglip, make_hf_siglip_vision]:
        cases.update(make(args.out))
    for name, info in cases.items():
        info.setdefault("model_dir", name)
        info["reference"] = name + ".ref.safetensors"
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        f.write(json.dumps(cases, indent=2) + "\n")
    print("HF tower reference data written to", args.out)


if __name__ == "__main__":
    main()
