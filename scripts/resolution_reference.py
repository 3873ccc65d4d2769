#!/usr/bin/env python3
"""Models, inputs and eager PyTorch timings for scripts/benchmark-resolution.sh.

  resolution_reference.py make OUT        torchvision ViTs shaped as ViT-S/8, ViT-B/16 and
                                          ViT-L/14 (random weights, trained grid 224 px) as
                                          OUT/<shape>.pth, and random inputs OUT/<shape>_<px>.safetensors
                                          and OUT/vit_b16_1024.pth, trained at 1024 px, for parity
  resolution_reference.py dino SHAPE PX   one forward pass at PX x PX px as DINO's
                                          visualize_attention.py keeps attention: every block
                                          without its weights, the last one with them
                                          (need_weights=True, per head); prints its time in ms
  resolution_reference.py parity SHAPE PX MODEL INPUT DUMP ROW COL
                                          attnviz-cli's dump (analyze --dump with --method
                                          attention --query ROW,COL --layer all --head all)
                                          against torchvision's need_weights attention: every
                                          block's CLS row, the query patch's row, the logits
"""
import argparse
import json
import os
import struct
import sys
import time

import torch
import torchvision

# shape -> (patch, blocks, heads, width, mlp width, input sizes in px)
SHAPES = {
    "vit_s8": (8, 12, 6, 384, 1536, [224, 480, 672, 1024]),
    "vit_b16": (16, 12, 12, 768, 3072, [224, 448, 672, 1024]),
    "vit_l14": (14, 24, 16, 1024, 4096, [224, 448, 672, 1022]),
}


def build(shape, image_size):
    patch, blocks, heads, width, mlp, _ = SHAPES[shape]
    vit = torchvision.models.VisionTransformer(image_size=image_size, patch_size=patch, num_layers=blocks,
                                               num_heads=heads, hidden_dim=width, mlp_dim=mlp).eval()
    torch.nn.init.normal_(vit.heads.head.weight, std=0.02)  # torchvision starts it at 0: no logits to compare
    return vit


def write_input(path, x):
    data = x.contiguous().numpy().tobytes()
    header = json.dumps({"input": {"dtype": "F32", "shape": list(x.shape), "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def make(out):
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    for shape, (*_, sizes) in SHAPES.items():
        torch.manual_seed(1)
        torch.save(build(shape, 224).state_dict(), os.path.join(out, f"{shape}.pth"))
        for px in sizes:
            write_input(os.path.join(out, f"{shape}_{px}.safetensors"), torch.randn(1, 3, px, px, generator=gen))
    torch.manual_seed(2)
    torch.save(build("vit_b16", 1024).state_dict(), os.path.join(out, "vit_b16_1024.pth"))


def last_block_attention(vit, x):
    """torchvision's forward, with the last block's attention weights [1, H, T, T] kept."""
    tokens = vit._process_input(x)
    tokens = torch.cat([vit.class_token.expand(x.shape[0], -1, -1), tokens], dim=1) + vit.encoder.pos_embedding
    *early, last = vit.encoder.layers
    for layer in early:
        tokens = layer(tokens)
    y = last.ln_1(tokens)
    _, attention = last.self_attention(y, y, y, need_weights=True, average_attn_weights=False)
    logits = vit.heads(vit.encoder.ln(last(tokens))[:, 0])
    return logits, attention


def dino(shape, px):
    vit = build(shape, px)
    x = torch.randn(1, 3, px, px)
    with torch.inference_mode():
        start = time.perf_counter()
        last_block_attention(vit, x)
        print(f"{1000 * (time.perf_counter() - start):.1f}")


def read_f32(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    return {key: torch.frombuffer(bytearray(data[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]]),
                                  dtype=torch.float32).reshape(e["shape"])
            for key, e in header.items() if key != "__metadata__"}


def parity(shape, px, model, input_path, dump_path, row, col):
    vit = build(shape, px)
    vit.load_state_dict(torch.load(model))
    x, dump = read_f32(input_path)["input"], read_f32(dump_path)
    grid = px // SHAPES[shape][0]
    query = 1 + row * grid + col
    cls_diff = query_diff = 0.0
    with torch.inference_mode():
        tokens = torch.cat([vit.class_token, vit._process_input(x)], dim=1) + vit.encoder.pos_embedding
        for i, layer in enumerate(vit.encoder.layers):  # one block's [1, H, T, T] at a time
            y = layer.ln_1(tokens)
            _, w = layer.self_attention(y, y, y, need_weights=True, average_attn_weights=False)
            cls_diff = max(cls_diff, float((dump[f"vit.attn_cls.{i}"] - w[:, :, 0]).abs().max()))
            ours = dump["vit.attention"][i]  # [heads, grid, grid]: the query row over the patches
            query_diff = max(query_diff, float((ours.flatten(1) - w[0, :, query, 1:]).abs().max()))
            del w
            tokens = layer(tokens)
        logits = vit.heads(vit.encoder.ln(tokens)[:, 0])
    logits_diff = float((dump["vit.logits"] - logits).abs().max() / logits.abs().max())
    print(f"{shape} at {px} px, {tokens.shape[1]} tokens: CLS rows differ by at most {cls_diff:.1e}, "
          f"the query patch's rows by {query_diff:.1e}, logits by {logits_diff:.1e} (relative)")
    return 0 if cls_diff <= 1e-5 and query_diff <= 1e-5 and logits_diff <= 1e-4 else 1


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("make").add_argument("out")
    run = sub.add_parser("dino")
    run.add_argument("shape", choices=SHAPES)
    run.add_argument("px", type=int)
    check = sub.add_parser("parity")
    check.add_argument("shape", choices=SHAPES)
    for name in ["px", "model", "input", "dump", "row", "col"]:
        check.add_argument(name, type=int if name in ("px", "row", "col") else str)
    args = parser.parse_args()
    if args.command == "make":
        make(args.out)
    elif args.command == "dino":
        dino(args.shape, args.px)
    else:
        return parity(args.shape, args.px, args.model, args.input, args.dump, args.row, args.col)
    return 0


if __name__ == "__main__":
    sys.exit(main())
