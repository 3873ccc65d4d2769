#!/usr/bin/env python3
"""Trains models/clip-shapes: a small CLIP whose prompts name the benchmark's ten shapes.

    build/bin/attnviz-cli benchmark make --out bench --count 50000 --test-count 10000 --seed 1
    python3 scripts/train_clip_shapes.py --bench bench --init models/vit-shapes --out models/clip-shapes

Image tower: the shipped ViT (models/vit-shapes: ConvStem, 6 blocks, 4 heads, width 64) as a
timm trunk, its classifier replaced by open_clip's linear projection to a 64-d embedding.
Text tower: open_clip's TextTransformer (3 causal blocks, 4 heads, width 64, context 16, the end
token's output through ln_final and text_projection). The pair is trained contrastively on the
benchmark's training scenes with the caption "a {shape}" of each scene's class. Every caption in a
batch that is true of an image is one of its positives (a soft target), since ten captions repeat
often in a batch of 256.

Shapes only: captions naming the object's colour as well ("a red star") were tried and the
colour was not learnt (zero-shot colour accuracy stayed at the most frequent colour's share,
0.22, over two epochs with trunk learning rates up to 2e-3): the trunk, trained for shapes in any
colour, carries no colour in its CLS token (a linear probe on it: 0.21), and fine-tuning did not
bring it back in the epochs this machine allows.

Written in plain PyTorch (Debian's python3-torch); the keys and the arithmetic are open_clip's
TimmModel + TextTransformer (src/open_clip/timm_model.py, transformer.py), so attnviz opens the
folder as any open_clip checkpoint. The vocabulary is our own: CLIP's byte alphabet and
byte-pair rules with merges that make each caption word one token (written as HF's
vocab.json + merges.txt).
"""
import argparse
import json
import math
import pathlib
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "scripts"))
from make_reference import read_safetensors, write_safetensors  # noqa: E402

WIDTH, HEADS, DEPTH = 64, 4, 6  # the image trunk (vit-shapes)
TEXT_WIDTH, TEXT_HEADS, TEXT_LAYERS, CONTEXT, EMBED = 64, 4, 3, 16, 64
SHAPES = ["checker", "crescent", "cross", "disc", "ell", "ring", "square", "star", "stripes", "triangle"]
WORDS = ["a"] + SHAPES


# ---- the vocabulary: CLIP's byte alphabet, merges that build each word ----

def byte_alphabet():
    """CLIP's (GPT-2's) printable stand-ins for the 256 bytes: printable Latin-1 as itself, the
    rest moved to U+0100 on, in byte order."""
    keep = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def bpe(word, ranks):
    """CLIP's byte-pair encoding of one word (its last symbol carries </w>): merge the pair of
    lowest rank until none is left."""
    symbols = list(word[:-1]) + [word[-1] + "</w>"]
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b), math.inf), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
        rank, _ = min(pairs)
        if rank == math.inf:
            break
        first, second = next((symbols[i], symbols[i + 1]) for r, i in pairs if r == rank)
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and symbols[i] == first and symbols[i + 1] == second:
                merged.append(first + second)
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
    return symbols


def make_vocabulary(words):
    """Merges, left to right through each word, appended until every word is one token."""
    merges = []
    ranks = {}
    for word in words:
        while True:
            symbols = bpe(word, ranks)
            if len(symbols) == 1:
                break
            pair = (symbols[0], symbols[1])  # extend the word's first piece by the next one
            ranks[pair] = len(merges)
            merges.append(pair)
    alphabet = byte_alphabet()
    tokens = alphabet + [s + "</w>" for s in alphabet] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    assert len(set(tokens)) == len(tokens)
    return {t: i for i, t in enumerate(tokens)}, merges


def tokenize(caption, vocab, ranks):
    ids = [vocab["<|startoftext|>"]]
    for word in caption.split():
        pieces = bpe(word, ranks)
        ids += [vocab[p] for p in pieces]
    ids.append(vocab["<|endoftext|>"])
    assert len(ids) <= CONTEXT
    return ids + [vocab["<|endoftext|>"]] * (CONTEXT - len(ids))  # HF's CLIPTokenizer pads with the end token


# ---- the model, in timm's and open_clip's names ----

class TimmBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, 2 * d)
        self.mlp.fc2 = nn.Linear(2 * d, d)

    def forward(self, x):
        n, t, d = x.shape
        qkv = self.attn.qkv(self.norm1(x)).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(qkv[0] @ qkv[1].transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        x = x + self.attn.proj((a @ qkv[2]).transpose(1, 2).reshape(n, t, d))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class Trunk(nn.Module):
    """timm's VisionTransformer with a ConvStem (HybridEmbed), CLS pooling after the final norm."""

    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.backbone = nn.ModuleList()
        widths = [3, 16, 32, 64]
        for i in range(3):
            layer = nn.Module()
            layer.conv = nn.Conv2d(widths[i], widths[i + 1], 3, 2, 1, bias=i == 2)
            if i < 2:
                layer.bn = nn.BatchNorm2d(widths[i + 1])
            self.patch_embed.backbone.append(layer)
        self.patch_embed.proj = nn.Conv2d(64, WIDTH, 1)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, WIDTH))
        self.pos_embed = nn.Parameter(torch.zeros(1, 65, WIDTH))
        self.blocks = nn.ModuleList(TimmBlock(WIDTH, HEADS) for _ in range(DEPTH))
        self.norm = nn.LayerNorm(WIDTH, eps=1e-6)

    def forward(self, x):
        for layer in self.patch_embed.backbone:
            x = layer.conv(x)
            if hasattr(layer, "bn"):
                x = F.relu(layer.bn(x))
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)  # [N, 64, D]
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return self.norm(x)[:, 0]


class Visual(nn.Module):
    """open_clip's TimmModel: trunk (num_classes 0, token pool) and head.proj (no bias)."""

    def __init__(self):
        super().__init__()
        self.trunk = Trunk()
        self.head = nn.Module()
        self.head.proj = nn.Linear(WIDTH, EMBED, bias=False)

    def forward(self, x):
        return self.head.proj(self.trunk(x))


class ResBlock(nn.Module):
    """open_clip's ResidualAttentionBlock: ln_1, nn.MultiheadAttention, ln_2, mlp.c_fc/c_proj."""

    def __init__(self, d, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(d, 4 * d)), ("gelu", nn.GELU()),
                                              ("c_proj", nn.Linear(4 * d, d))]))

    def forward(self, x, mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Clip(nn.Module):
    def __init__(self, vocabulary):
        super().__init__()
        self.visual = Visual()
        self.token_embedding = nn.Embedding(vocabulary, TEXT_WIDTH)
        self.positional_embedding = nn.Parameter(torch.randn(CONTEXT, TEXT_WIDTH) * 0.01)
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.ModuleList(ResBlock(TEXT_WIDTH, TEXT_HEADS) for _ in range(TEXT_LAYERS))
        self.ln_final = nn.LayerNorm(TEXT_WIDTH)
        self.text_projection = nn.Parameter(torch.randn(TEXT_WIDTH, EMBED) * TEXT_WIDTH ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.register_buffer("mask", torch.full((CONTEXT, CONTEXT), float("-inf")).triu(1), persistent=False)

    def encode_text(self, ids):
        x = self.token_embedding(ids) + self.positional_embedding
        for b in self.transformer.resblocks:
            x = b(x, self.mask)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ self.text_projection  # the first end token


# ---- data ----

def load_split(bench, split, limit):
    index = json.loads((bench / "index.json").read_text())
    entries = index[split][:limit] if limit else index[split]
    images = np.empty((len(entries), 3, 64, 64), np.uint8)
    for i, e in enumerate(entries):
        images[i] = np.asarray(Image.open(bench / e["image"]).convert("RGB")).transpose(2, 0, 1)
    return torch.from_numpy(images), torch.tensor([e["label"] for e in entries])


def normalise(images, mean, std):
    x = images.float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def augment(images, gen):
    """Shifts of up to 2 pixels (zero fill) and horizontal flips, as attnviz-cli train does."""
    n = images.shape[0]
    padded = F.pad(images, (2, 2, 2, 2))
    dy, dx = torch.randint(0, 5, (2, n), generator=gen)
    out = torch.stack([padded[i, :, dy[i]:dy[i] + 64, dx[i]:dx[i] + 64] for i in range(n)])
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def caption_table(vocab, ranks):
    """Token ids [10, CONTEXT] of the captions "a {shape}", in class order."""
    return torch.tensor([tokenize(f"a {s}", vocab, ranks) for s in SHAPES])


def soft_cross_entropy(logits, true):
    """Cross-entropy against a target spread evenly over each row's true pairs (every row has one:
    the pair it was drawn with)."""
    return torch.sum(-(true / true.sum(1, keepdim=True)) * F.log_softmax(logits, 1), 1).mean()


def evaluate(model, images, labels, table, mean, std):
    """Zero-shot accuracy with the captions as classes."""
    model.eval()
    with torch.no_grad():
        texts = F.normalize(model.encode_text(table), dim=-1)
        right = 0
        for start in range(0, len(labels), 500):
            emb = F.normalize(model.visual(normalise(images[start:start + 500], mean, std)), dim=-1)
            right += ((emb @ texts.t()).argmax(1) == labels[start:start + 500]).sum().item()
    model.train()
    return right / len(labels)


def learning_rate_factor(step, warmup, total):
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, type=pathlib.Path)
    ap.add_argument("--init", required=True, type=pathlib.Path, help="models/vit-shapes")
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=5e-4, help="peak, text tower and projection")
    ap.add_argument("--trunk-lr", type=float, default=1e-4, help="peak, the image trunk")
    ap.add_argument("--limit", type=int, default=0, help="training scenes (0: all)")
    ap.add_argument("--test-limit", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    init_cfg = json.loads((args.init / "config.json").read_text())
    mean, std = init_cfg["pretrained_cfg"]["mean"], init_cfg["pretrained_cfg"]["std"]
    vocab, merges = make_vocabulary(WORDS)
    ranks = {m: i for i, m in enumerate(merges)}
    for w in WORDS:
        assert len(bpe(w, ranks)) == 1, w
    table = caption_table(vocab, ranks)

    model = Clip(len(vocab))
    trunk = {k: v for k, v in read_safetensors(args.init / "model.safetensors").items() if not k.startswith("head.")}
    missing, unexpected = model.visual.trunk.load_state_dict(trunk, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)

    t0 = time.time()
    images, labels = load_split(args.bench, "train", args.limit)
    test = load_split(args.bench, "test", args.test_limit)
    print(f"{len(labels)} training scenes, {len(test[1])} test scenes, {len(vocab)} tokens, "
          f"{len(merges)} merges; loaded in {time.time() - t0:.0f} s", flush=True)
    print("zero-shot accuracy before training: %.3f" % evaluate(model, *test, table, mean, std), flush=True)

    # Batch norm keeps the trunk's running statistics (eval mode); its scale and shift train.
    trunk_params = list(model.visual.trunk.parameters())
    trunk_ids = {id(p) for p in trunk_params}
    other = [p for p in model.parameters() if id(p) not in trunk_ids]
    decay = lambda ps: [p for p in ps if p.dim() >= 2]  # noqa: E731
    no_decay = lambda ps: [p for p in ps if p.dim() < 2]  # noqa: E731
    groups = [{"params": decay(trunk_params), "peak": args.trunk_lr, "weight_decay": 0.05},
              {"params": no_decay(trunk_params), "peak": args.trunk_lr, "weight_decay": 0.0},
              {"params": decay(other), "peak": args.lr, "weight_decay": 0.05},
              {"params": no_decay(other), "peak": args.lr, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr)
    steps_per_epoch = len(labels) // args.batch
    total, warmup = steps_per_epoch * args.epochs, steps_per_epoch // 2
    history, step = [], 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        for m in model.visual.trunk.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        order = torch.randperm(len(labels), generator=gen)
        start, loss_sum = time.time(), 0.0
        for b in range(steps_per_epoch):
            for g in opt.param_groups:  # linear warm-up over half an epoch, then cosine to zero
                g["lr"] = g["peak"] * learning_rate_factor(step, warmup, total)
            idx = order[b * args.batch:(b + 1) * args.batch]
            x = normalise(augment(images[idx], gen), mean, std)
            y = labels[idx]
            img = F.normalize(model.visual(x), dim=-1)
            txt = F.normalize(model.encode_text(table[y]), dim=-1)
            logits = model.logit_scale.exp().clamp(max=100) * img @ txt.t()
            true = (y[:, None] == y[None, :]).float()  # [images, texts]: the same shape
            loss = 0.5 * (soft_cross_entropy(logits, true) + soft_cross_entropy(logits.t(), true.t()))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            step += 1
            if (b + 1) % 50 == 0:
                print(f"epoch {epoch} batch {b + 1}/{steps_per_epoch} loss {loss_sum / (b + 1):.4f} "
                      f"{(b + 1) * args.batch / (time.time() - start):.0f} img/s", flush=True)
        history.append({"epoch": epoch, "loss": round(loss_sum / steps_per_epoch, 4),
                        "test_accuracy": evaluate(model, *test, table, mean, std),
                        "seconds": round(time.time() - start)})
        print(history[-1], flush=True)

    write_folder(args, model, vocab, merges, mean, std, history)


def write_folder(args, model, vocab, merges, mean, std, history):
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    write_safetensors(out / "open_clip_model.safetensors", state)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=0) + "\n")
    (out / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    config = {
        "model_cfg": {
            "embed_dim": EMBED,
            "quick_gelu": False,
            "vision_cfg": {"timm_model_name": "attnviz_vit", "timm_pool": "token", "timm_proj": "linear",
                           "image_size": 64, "patch_size": 8, "width": WIDTH, "layers": DEPTH,
                           "head_width": WIDTH // HEADS},
            "text_cfg": {"context_length": CONTEXT, "vocab_size": len(vocab), "width": TEXT_WIDTH,
                         "heads": TEXT_HEADS, "layers": TEXT_LAYERS},
        },
        "preprocess_cfg": {"mean": mean, "std": std, "interpolation": "bilinear", "resize_mode": "squash"},
        "zero_shot": {"labels": SHAPES, "templates": ["a {}"]},  # attnviz's own key: the classes it opens with
        "training": {"command": " ".join(["python3", "scripts/train_clip_shapes.py"] + sys.argv[1:]),
                     "history": history},
    }
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=1) + "\n")


if __name__ == "__main__":
    main()
