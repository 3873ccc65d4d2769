#!/usr/bin/env python3
"""Reference models and outputs for the parity tests, from torchvision (not our code).

Writes into --out:
  tv_vit_b_16.pth             torchvision vit_b_16, random init, plain torch.save(state_dict)
  tv_vit_b_16.ref.safetensors vit.input [1,3,224,224], vit.logits, vit.attn.<l> [1,H,T,T]
  tv_resnet50.pth             torchvision resnet50 with non-trivial BN statistics
  tv_resnet50.ref.safetensors cnn.input, cnn.logits, cnn.features.<conv1|maxpool|layer1..4>
  timm_vit/                   a small ViT renamed to timm keys (model.safetensors + config.json)
  timm_vit.ref.safetensors    at 224x224, and timm_vit.nonsquare.ref.safetensors at 160x256
                              (position embedding resampled bicubically as timm does)
  hf_vit.nonsquare.ref.safetensors  the same 160x256 input resampled as HF does (no antialias)
  deit_distilled/             a small DeiT-style ViT with dist_token + head_dist (timm keys)
  hf_vit/                     the small ViT under HF transformers names (separate q/k/v)
  dino_teacher.pth            {"teacher": {"backbone.*": ..., "head.*": ...}} without classifier;
                              its reference holds vit.embedding (the normed CLS token) for logits
  timm_vit_reg/               timm features torchvision lacks: 4 register tokens, LayerScale,
                              pos_embed over patches only (no_embed_class), average pooling
                              with fc_norm; reference forward written out below in PyTorch ops
  tv_vit_s_8_480.pth          a torchvision VisionTransformer shaped as DINO's ViT-S/8 (12 blocks,
                              6 heads, width 384) at 480x480 px: 3601 tokens
  tv_vit_s_8_480.ref.safetensors  vit.input, vit.logits, vit.attn_cls.<l> [1,H,T]: every block's
                              CLS row (the whole matrices would be 3.7 GB)
  tv_vit_s_8_480.query.safetensors  vit.attn_query.<l> [1,H,T]: the row of the patch at
                              (S8_QUERY_ROW, S8_QUERY_COL) in every block
Attention is recorded with need_weights=True, average_attn_weights=False on each
block's own MultiheadAttention, fed the block's ln_1 output.
"""
import argparse
import json
import os
import struct
from collections import OrderedDict

import torch
import torch.nn.functional as F
import torchvision

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def read_safetensors(path):
    """Reads back what write_safetensors wrote (F32 and I64 tensors, by name)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    back = {v: k for k, v in DTYPES.items()}
    out = OrderedDict()
    for name, info in header.items():
        begin, end = info["data_offsets"]
        data = bytearray(blob[8 + n + begin:8 + n + end])
        out[name] = torch.frombuffer(data, dtype=back[info["dtype"]]).reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors, metadata=None):
    """Minimal safetensors writer: 8-byte little-endian header length, JSON header (with
    `metadata` as __metadata__ when given), raw data. Shared by the reference scripts."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def perturb_norms(model, gen):
    """Make LayerNorm/BatchNorm affine terms and BN statistics non-trivial."""
    for m in model.modules():
        if isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm2d)):
            m.weight.data = 1.0 + 0.2 * torch.randn(m.weight.shape, generator=gen)
            m.bias.data = 0.1 * torch.randn(m.bias.shape, generator=gen)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean = 0.1 * torch.randn(m.running_mean.shape, generator=gen)
            m.running_var = 0.5 + torch.rand(m.running_var.shape, generator=gen)


def vit_tokens_and_attention(vit, x, extra_prefix=None, pos=None):
    """torchvision ViT layers run by hand so attention weights can be recorded.
    x: [1,C,H,W]. Returns final normed tokens [1,T,D] and a list of [1,H,T,T]."""
    # torchvision's _process_input insists on its training size; its conv is all it does
    tokens = vit.conv_proj(x).flatten(2).transpose(1, 2)
    prefix = [vit.class_token.expand(1, -1, -1)] + (extra_prefix or [])
    tokens = torch.cat(prefix + [tokens], dim=1)
    tokens = tokens + (vit.encoder.pos_embedding if pos is None else pos)
    attentions = []
    for layer in vit.encoder.layers:
        y = layer.ln_1(tokens)
        _, w = layer.self_attention(y, y, y, need_weights=True, average_attn_weights=False)
        attentions.append(w)
        tokens = layer(tokens)
    return vit.encoder.ln(tokens), attentions


# config.json of small_vit()'s model folder under timm's keys (written by write_model_dir).
SMALL_VIT_CONFIG = {"architecture": "vit_tiny_patch16_224", "num_classes": 10,
                    "model_args": {"embed_dim": 192, "depth": 4, "num_heads": 3, "patch_size": 16}}


def small_vit(gen, num_classes=10, seq_extra=0, image_size=224):
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
    vit = torchvision.models.VisionTransformer(image_size=image_size, patch_size=16, num_layers=4, num_heads=3,
                                               hidden_dim=192, mlp_dim=768, num_classes=num_classes)
    if seq_extra:
        seq = vit.seq_length + seq_extra
        vit.encoder.pos_embedding = torch.nn.Parameter(torch.randn(1, seq, 192, generator=gen) * 0.02)
    vit.heads.head.weight.data = 0.05 * torch.randn(vit.heads.head.weight.shape, generator=gen)
    vit.heads.head.bias.data = 0.1 * torch.randn(vit.heads.head.bias.shape, generator=gen)
    perturb_norms(vit, gen)
    return vit.eval()


def timm_keys(vit):
    sd = vit.state_dict()
    out = OrderedDict()
    out["cls_token"] = sd["class_token"]
    out["pos_embed"] = sd["encoder.pos_embedding"]
    out["patch_embed.proj.weight"] = sd["conv_proj.weight"]
    out["patch_embed.proj.bias"] = sd["conv_proj.bias"]
    for i in range(len(vit.encoder.layers)):
        p, q = f"encoder.layers.encoder_layer_{i}.", f"blocks.{i}."
        for a, b in [("ln_1", "norm1"), ("self_attention.out_proj", "attn.proj"), ("ln_2", "norm2"),
                     ("mlp.0", "mlp.fc1"), ("mlp.3", "mlp.fc2")]:
            out[q + b + ".weight"] = sd[p + a + ".weight"]
            out[q + b + ".bias"] = sd[p + a + ".bias"]
        out[q + "attn.qkv.weight"] = sd[p + "self_attention.in_proj_weight"]
        out[q + "attn.qkv.bias"] = sd[p + "self_attention.in_proj_bias"]
    out["norm.weight"] = sd["encoder.ln.weight"]
    out["norm.bias"] = sd["encoder.ln.bias"]
    out["head.weight"] = sd["heads.head.weight"]
    out["head.bias"] = sd["heads.head.bias"]
    return out


def hf_keys(timm):
    out = OrderedDict()
    d = timm["cls_token"].shape[-1]
    out["vit.embeddings.cls_token"] = timm["cls_token"]
    out["vit.embeddings.position_embeddings"] = timm["pos_embed"]
    out["vit.embeddings.patch_embeddings.projection.weight"] = timm["patch_embed.proj.weight"]
    out["vit.embeddings.patch_embeddings.projection.bias"] = timm["patch_embed.proj.bias"]
    i = 0
    while f"blocks.{i}.norm1.weight" in timm:
        p, q = f"blocks.{i}.", f"vit.encoder.layer.{i}."
        for a, b in [("norm1", "layernorm_before"), ("attn.proj", "attention.output.dense"),
                     ("norm2", "layernorm_after"), ("mlp.fc1", "intermediate.dense"), ("mlp.fc2", "output.dense")]:
            out[q + b + ".weight"] = timm[p + a + ".weight"]
            out[q + b + ".bias"] = timm[p + a + ".bias"]
        for j, name in enumerate(["query", "key", "value"]):
            out[q + f"attention.attention.{name}.weight"] = timm[p + "attn.qkv.weight"][j * d:(j + 1) * d]
            out[q + f"attention.attention.{name}.bias"] = timm[p + "attn.qkv.bias"][j * d:(j + 1) * d]
        i += 1
    out["vit.layernorm.weight"] = timm["norm.weight"]
    out["vit.layernorm.bias"] = timm["norm.bias"]
    out["classifier.weight"] = timm["head.weight"]
    out["classifier.bias"] = timm["head.bias"]
    return out


def reference(role, x, logits, attentions=(), features=()):
    out = OrderedDict([(f"{role}.input", x)])
    if logits is not None:
        out[f"{role}.logits"] = logits
    for i, a in enumerate(attentions):
        out[f"{role}.attn.{i}"] = a
    for name, f in features:
        out[f"{role}.features.{name}"] = f
    return out


def write_model_dir(path, tensors, config):
    os.makedirs(path, exist_ok=True)
    write_safetensors(os.path.join(path, "model.safetensors"), tensors)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def make_vit_b_16(out, gen):
    vit = torchvision.models.vit_b_16()
    vit.heads.head.weight.data = 0.02 * torch.randn(vit.heads.head.weight.shape, generator=gen)
    vit.heads.head.bias.data = 0.1 * torch.randn(vit.heads.head.bias.shape, generator=gen)
    perturb_norms(vit, gen)
    vit.eval()
    torch.save(vit.state_dict(), os.path.join(out, "tv_vit_b_16.pth"))
    x = torch.randn(1, 3, 224, 224, generator=gen)
    tokens, attentions = vit_tokens_and_attention(vit, x)
    logits = vit(x)
    assert torch.allclose(logits, vit.heads(tokens[:, 0]), atol=1e-5)  # manual run == torchvision's
    write_safetensors(os.path.join(out, "tv_vit_b_16.ref.safetensors"), reference("vit", x, logits, attentions))


# The patch whose attention row tv_vit_s_8_480.query.safetensors holds (tst_modelparity reads it).
S8_QUERY_ROW, S8_QUERY_COL = 17, 41


def make_vit_s_8_480(out, gen):
    vit = torchvision.models.VisionTransformer(image_size=480, patch_size=8, num_layers=12, num_heads=6,
                                               hidden_dim=384, mlp_dim=1536)
    vit.heads.head.weight.data = 0.02 * torch.randn(vit.heads.head.weight.shape, generator=gen)
    perturb_norms(vit, gen)
    vit.eval()
    torch.save(vit.state_dict(), os.path.join(out, "tv_vit_s_8_480.pth"))
    x = torch.randn(1, 3, 480, 480, generator=gen)
    # One block's [1, H, T, T] at a time (311 MB here), as DINO's script keeps only one.
    query = 1 + S8_QUERY_ROW * 60 + S8_QUERY_COL
    cls_rows, query_rows = OrderedDict(), OrderedDict()
    tokens = torch.cat([vit.class_token, vit.conv_proj(x).flatten(2).transpose(1, 2)], dim=1)
    tokens = tokens + vit.encoder.pos_embedding
    for i, layer in enumerate(vit.encoder.layers):
        y = layer.ln_1(tokens)
        _, w = layer.self_attention(y, y, y, need_weights=True, average_attn_weights=False)
        cls_rows[f"vit.attn_cls.{i}"] = w[:, :, 0].clone()
        query_rows[f"vit.attn_query.{i}"] = w[:, :, query].clone()
        del w
        tokens = layer(tokens)
    logits = vit(x)
    assert torch.allclose(logits, vit.heads(vit.encoder.ln(tokens)[:, 0]), atol=1e-5)  # manual run == torchvision's
    write_safetensors(os.path.join(out, "tv_vit_s_8_480.ref.safetensors"),
                      OrderedDict([("vit.input", x), ("vit.logits", logits)] + list(cls_rows.items())))
    write_safetensors(os.path.join(out, "tv_vit_s_8_480.query.safetensors"), query_rows)


def make_resnet50(out, gen):
    net = torchvision.models.resnet50()
    perturb_norms(net, gen)
    net.fc.weight.data = 0.02 * torch.randn(net.fc.weight.shape, generator=gen)
    net.eval()
    torch.save(net.state_dict(), os.path.join(out, "tv_resnet50.pth"))
    feats = []
    for name in ["relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]:
        getattr(net, name).register_forward_hook(
            lambda m, i, o, name=name: feats.append(("conv1" if name == "relu" else name, o)))
    x = torch.randn(1, 3, 224, 224, generator=gen)
    logits = net(x)
    write_safetensors(os.path.join(out, "tv_resnet50.ref.safetensors"), reference("cnn", x, logits, features=feats))


def resampled_pos(vit, gh, gw, prefix, antialias=True):
    """timm's resample_abs_pos_embed antialiases; HF's interpolate_pos_encoding does not."""
    pos = vit.encoder.pos_embedding
    g0 = int(round((pos.shape[1] - prefix) ** 0.5))
    grid = pos[:, prefix:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False, antialias=antialias)
    return torch.cat([pos[:, :prefix], grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)], dim=1)


def make_timm_and_hf(out, gen):
    vit = small_vit(gen)
    timm = timm_keys(vit)
    timm_cfg = {"architecture": "vit_tiny_patch16_224", "num_classes": 10,
                "model_args": {"embed_dim": 192, "depth": 4, "num_heads": 3, "patch_size": 16},
                "pretrained_cfg": {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 0.9,
                                   "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}
    write_model_dir(os.path.join(out, "timm_vit"), timm, timm_cfg)
    hf_cfg = {"architectures": ["ViTForImageClassification"], "hidden_size": 192, "num_hidden_layers": 4,
              "num_attention_heads": 3, "patch_size": 16, "image_size": 224, "layer_norm_eps": 1e-6,
              "num_channels": 3, "id2label": {str(i): f"thing {i}" for i in range(10)}}
    write_model_dir(os.path.join(out, "hf_vit"), hf_keys(timm), hf_cfg)
    x = torch.randn(1, 3, 224, 224, generator=gen)
    _, attentions = vit_tokens_and_attention(vit, x)
    write_safetensors(os.path.join(out, "timm_vit.ref.safetensors"), reference("vit", x, vit(x), attentions))
    x = torch.randn(1, 3, 160, 256, generator=gen)
    tokens, attentions = vit_tokens_and_attention(vit, x, pos=resampled_pos(vit, 10, 16, 1))
    write_safetensors(os.path.join(out, "timm_vit.nonsquare.ref.safetensors"),
                      reference("vit", x, vit.heads(tokens[:, 0]), attentions))
    tokens, attentions = vit_tokens_and_attention(vit, x, pos=resampled_pos(vit, 10, 16, 1, antialias=False))
    write_safetensors(os.path.join(out, "hf_vit.nonsquare.ref.safetensors"),
                      reference("vit", x, vit.heads(tokens[:, 0]), attentions))


def make_deit_distilled(out, gen):
    vit = small_vit(gen, seq_extra=1)
    dist_token = torch.randn(1, 1, 192, generator=gen) * 0.02
    head_dist = torch.nn.Linear(192, 10)
    head_dist.weight.data = 0.05 * torch.randn(10, 192, generator=gen)
    timm = timm_keys(vit)
    timm["dist_token"] = dist_token
    timm["head_dist.weight"] = head_dist.weight.data
    timm["head_dist.bias"] = head_dist.bias.data
    write_model_dir(os.path.join(out, "deit_distilled"), timm,
                    {"architecture": "deit_tiny_distilled_patch16_224", "num_classes": 10,
                     "model_args": {"num_heads": 3}})
    x = torch.randn(1, 3, 224, 224, generator=gen)
    with torch.no_grad():
        tokens, attentions = vit_tokens_and_attention(vit, x, extra_prefix=[dist_token])
        logits = (vit.heads(tokens[:, 0]) + head_dist(tokens[:, 1])) / 2
    write_safetensors(os.path.join(out, "deit_distilled.ref.safetensors"), reference("vit", x, logits, attentions))


def make_dino_teacher(out, gen):
    vit = small_vit(gen)
    backbone = timm_keys(vit)
    del backbone["head.weight"], backbone["head.bias"]
    teacher = OrderedDict(("backbone." + k, v) for k, v in backbone.items())
    teacher["head.mlp.0.weight"] = torch.randn(256, 192, generator=gen)  # DINO projection head: dropped
    teacher["head.last_layer.weight_g"] = torch.ones(1, 256)
    torch.save({"teacher": teacher, "epoch": 100, "args": {"arch": "vit_tiny"}},
               os.path.join(out, "dino_teacher.pth"))
    x = torch.randn(1, 3, 224, 224, generator=gen)
    with torch.no_grad():
        tokens, attentions = vit_tokens_and_attention(vit, x)
    ref = reference("vit", x, None, attentions)
    ref["vit.embedding"] = tokens[:, 0]  # without a head the model outputs its normed CLS token
    write_safetensors(os.path.join(out, "dino_teacher.ref.safetensors"), ref)


def timm_block_forward(x, sd, p, heads):
    """One timm Block (pre-norm, LayerScale) from PyTorch ops; returns x and [1,H,T,T]."""
    n, t, d = x.shape
    ln = lambda y, k: F.layer_norm(y, (d,), sd[p + k + ".weight"], sd[p + k + ".bias"], eps=1e-6)
    qkv = F.linear(ln(x, "norm1"), sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"])
    q, k, v = qkv.reshape(n, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    attn = ((q * (d // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
    y = F.linear((attn @ v).transpose(1, 2).reshape(n, t, d), sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
    x = x + sd[p + "ls1.gamma"] * y
    y = F.linear(F.gelu(F.linear(ln(x, "norm2"), sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])),
                 sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
    return x + sd[p + "ls2.gamma"] * y, attn


def make_timm_vit_reg(out, gen):
    d, heads, depth, regs, classes = 96, 3, 3, 4, 7
    r = lambda *shape, std=0.05: std * torch.randn(*shape, generator=gen)
    sd = OrderedDict(cls_token=r(1, 1, d), reg_token=r(1, regs, d), pos_embed=r(1, 196, d))
    sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"] = r(d, 3, 16, 16), r(d)
    for i in range(depth):
        p = f"blocks.{i}."
        for name, shape in [("norm1", (d,)), ("norm2", (d,))]:
            sd[p + name + ".weight"], sd[p + name + ".bias"] = 1 + r(*shape, std=0.2), r(*shape)
        for name, o, i_ in [("attn.qkv", 3 * d, d), ("attn.proj", d, d), ("mlp.fc1", 4 * d, d), ("mlp.fc2", d, 4 * d)]:
            sd[p + name + ".weight"], sd[p + name + ".bias"] = r(o, i_, std=0.1), r(o)
        sd[p + "ls1.gamma"], sd[p + "ls2.gamma"] = 0.5 + r(d, std=0.3), 0.5 + r(d, std=0.3)
    sd["fc_norm.weight"], sd["fc_norm.bias"] = 1 + r(d, std=0.2), r(d)
    sd["head.weight"], sd["head.bias"] = r(classes, d, std=0.2), r(classes)
    write_model_dir(os.path.join(out, "timm_vit_reg"), sd,
                    {"architecture": "vit_reg_test", "num_classes": classes, "global_pool": "avg",
                     "model_args": {"num_heads": heads, "reg_tokens": regs, "no_embed_class": True}})
    x = torch.randn(1, 3, 224, 224, generator=gen)
    tokens = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=16)
    tokens = tokens.flatten(2).transpose(1, 2) + sd["pos_embed"]
    tokens = torch.cat([sd["cls_token"], sd["reg_token"], tokens], dim=1)
    attentions = []
    for i in range(depth):
        tokens, a = timm_block_forward(tokens, sd, f"blocks.{i}.", heads)
        attentions.append(a)
    pooled = F.layer_norm(tokens[:, 1 + regs:].mean(1), (d,), sd["fc_norm.weight"], sd["fc_norm.bias"], eps=1e-6)
    logits = F.linear(pooled, sd["head.weight"], sd["head.bias"])
    write_safetensors(os.path.join(out, "timm_vit_reg.ref.safetensors"), reference("vit", x, logits, attentions))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    make_timm_and_hf(args.out, gen)
    make_deit_distilled(args.out, gen)
    make_dino_teacher(args.out, gen)
    make_timm_vit_reg(args.out, gen)
    make_resnet50(args.out, gen)
    make_vit_b_16(args.out, gen)
    make_vit_s_8_480(args.out, gen)
    print("reference data written to", args.out)


if __name__ == "__main__":
    main()
