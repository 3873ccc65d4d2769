#!/usr/bin/env python3
"""A small open_clip CLIP whose text tower is a Hugging Face XLM-RoBERTa (open_clip's
HFTextEncoder, the layout of the LAION multilingual CLIPs xlm-roberta-base-ViT-B-32 and
xlm-roberta-large-ViT-H-14), and what open_clip computes with it.

open_clip v2.23.0's own code runs unchanged: CustomTextCLIP, its VisionTransformer,
HFTextEncoder (the pad mask, MeanPooler, the "mlp" projection), HFTokenizer (its
clean='whitespace' with the real ftfy) and build_zero_shot_classifier. transformers is no
Debian package and its repository is too large to bring here, so the two things open_clip
asks of it are given by a stand-in module written from its source (huggingface/transformers,
stored file versions read):
  models/xlm_roberta/modeling_xlm_roberta.py   015bfeb86891c5f5e450f48942260ac3e2cd2bf2
      XLMRobertaModel without a pooling layer: word + position + token-type embeddings and
      their LayerNorm, positions from create_position_ids_from_input_ids (pad id + running
      count of real tokens; pads get the pad id), eager self-attention with the extended
      mask (1 - mask) * finfo.min, post-norm layers (SelfOutput, Intermediate with exact
      GELU, Output). Module names are HF's, so the state dict's keys are the real ones.
  models/xlm_roberta/tokenization_xlm_roberta.py (the slow XLMRobertaTokenizer)
      SentencePiece pieces (Debian's python3-sentencepiece), _convert_token_to_id with
      fairseq's table <s> 0, <pad> 1, </s> 2, <unk> 3 and offset 1 (SentencePiece's unknown
      0 becomes 3), <s> ids </s>, truncation to max_length and padding with <pad> as
      PreTrainedTokenizer does for padding="max_length", truncation=True.

The SentencePiece model is trained here (unigram, XLM-R's ids: unknown 0, start 1, end 2, no
pad) on ImageNet labels under templates in four languages; it is committed as the folder's
sentencepiece.bpe.model, the name it has in the xlm-roberta repositories.

    PYTHONPATH=/path/to/ftfy_src /usr/bin/python3 tests/scripts/make_xlmr_text_fixture.py \\
        --open-clip /path/to/open_clip-2.23.0/src/open_clip --out tests/fixtures/text

Writes:
  openclip_xlmr/                 open_clip_pytorch_model.bin, open_clip_config.json (text_cfg
                                 hf_model_name "xlm-roberta-base", hf_pooler_type
                                 "mean_pooler", the default "mlp" projection),
                                 sentencepiece.bpe.model
  openclip_xlmr.ref.safetensors  as make_text_tower_fixtures.py's references (text.ids,
                                 text.embeds, image.input, image.embed, text.scores,
                                 zeroshot.classes, zeroshot.logits)
  openclip_xlmr/expected_ids.json  {"context": 77, "strings": [...], "ids": [[77 ids]...]}:
                                 HFTokenizer's ids for hard strings (siglip_tokenizer_reference's
                                 list and a few of its own), uncut: {"long": ..., "ids": [...]}
"""
import argparse
import json
import math
import pathlib
import sys
import tempfile
import types
from collections import OrderedDict
from dataclasses import dataclass

import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_text_tower_fixtures as ttf  # noqa: E402
import siglip_tokenizer_reference as siglip_tok  # noqa: E402

WIDTH, HEADS, LAYERS, INTERMEDIATE, POSITIONS = 128, 2, 2, 128, 80  # 64-wide heads, as every BERT size
EMBED = 32  # the image tower of make_text_tower_fixtures.vision_cfg()
CONTEXT = 77
PROMPTS = ttf.PROMPTS + ["une photo d'un chat", "ein Foto eines Hundes"]
TOKENIZER_STRINGS = siglip_tok.HARD_STRINGS + [
    "Une Photo d'un CHAT", "¿Dónde está el perro?", "ein Foto eines Hundes", "x" * 3 + "🐱 unknown ☃ chars"]
SPM_TEMPLATES = ["a photo of a {}.", "une photo d'un {}.", "ein Foto von einem {}", "una foto de un {}",
                 "A Drawing Of A {}!", "{} の写真", "φωτογραφία {}"]


# --- the stand-in transformers -------------------------------------------------------------
@dataclass
class XLMRobertaConfig:
    vocab_size: int
    hidden_size: int = WIDTH
    num_attention_heads: int = HEADS
    num_hidden_layers: int = LAYERS
    intermediate_size: int = INTERMEDIATE
    max_position_embeddings: int = POSITIONS
    type_vocab_size: int = 1
    layer_norm_eps: float = 1e-5
    pad_token_id: int = 1
    model_type: str = "xlm-roberta"
    is_encoder_decoder: bool = False


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size, padding_idx=c.pad_token_id)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.padding_idx = c.pad_token_id

    def forward(self, input_ids):
        mask = input_ids.ne(self.padding_idx).int()  # create_position_ids_from_input_ids
        positions = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + self.padding_idx
        types_ = torch.zeros_like(input_ids)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(types_) + self.position_embeddings(positions)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.size = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def split(self, x):  # transpose_for_scores: [N, C, W] -> [N, H, C, hd]
        return x.view(x.shape[:-1] + (self.heads, self.size)).permute(0, 2, 1, 3)

    def forward(self, x, extended_mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.size) + extended_mask
        context = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return context.view(context.shape[:-2] + (self.heads * self.size,))


class DenseNorm(nn.Module):
    """SelfOutput and Output: LayerNorm(dense(x) + residual)."""

    def __init__(self, inputs, c):
        super().__init__()
        self.dense = nn.Linear(inputs, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseNorm(c.hidden_size, c)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseNorm(c.intermediate_size, c)

    def forward(self, x, extended_mask):
        h = self.attention.output(self.attention.self(x, extended_mask), x)
        return self.output(F.gelu(self.intermediate.dense(h)), h)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))


class BaseModelOutput:
    def __init__(self, last_hidden_state):
        self.last_hidden_state = last_hidden_state


class XLMRobertaModel(nn.Module):
    def __init__(self, config, add_pooling_layer=False):
        super().__init__()
        assert not add_pooling_layer, "the fixture's pooler is mean_pooler"
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    def forward(self, input_ids, attention_mask):
        extended = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = self.embeddings(input_ids)
        for layer in self.encoder.layer:
            x = layer(x, extended)
        return BaseModelOutput(x)


class Encoded:
    def __init__(self, input_ids):
        self.input_ids = input_ids


class XLMRobertaTokenizer:
    """The slow tokenizer's ids for one SentencePiece model."""
    fairseq_tokens_to_ids = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    fairseq_offset = 1

    def __init__(self, model_file):
        self.sp = spm.SentencePieceProcessor(model_file=model_file)

    def convert(self, piece):
        if piece in self.fairseq_tokens_to_ids:
            return self.fairseq_tokens_to_ids[piece]
        spm_id = self.sp.PieceToId(piece)
        return spm_id + self.fairseq_offset if spm_id else self.fairseq_tokens_to_ids["<unk>"]

    def __len__(self):  # the pieces, <pad> and <mask>
        return len(self.sp) + self.fairseq_offset + 1

    def ids(self, text, max_length=None):
        ids = [self.convert(p) for p in self.sp.encode(text, out_type=str)]
        if max_length is not None:
            ids = ids[:max_length - 2]
        return [0] + ids + [2]

    def __call__(self, texts, max_length, padding, truncation, return_tensors):
        assert padding == "max_length" and truncation and return_tensors == "pt"
        rows = [self.ids(t, max_length) for t in texts]
        return Encoded(torch.tensor([r + [1] * (max_length - len(r)) for r in rows]))


def install_transformers(spm_file, vocab_size):
    """sys.modules["transformers"], answering open_clip's from_pretrained / from_config calls."""
    t = types.ModuleType("transformers")
    outputs = types.ModuleType("transformers.modeling_outputs")
    outputs.BaseModelOutput = BaseModelOutput
    outputs.BaseModelOutputWithPooling = type("BaseModelOutputWithPooling", (BaseModelOutput,), {})
    outputs.BaseModelOutputWithPoolingAndCrossAttentions = type(
        "BaseModelOutputWithPoolingAndCrossAttentions", (BaseModelOutput,), {})
    t.modeling_outputs = outputs
    t.PretrainedConfig = XLMRobertaConfig
    t.AutoConfig = types.SimpleNamespace(from_pretrained=lambda name: XLMRobertaConfig(vocab_size=vocab_size))
    t.AutoModel = types.SimpleNamespace(from_config=XLMRobertaModel)
    t.AutoTokenizer = types.SimpleNamespace(from_pretrained=lambda name: XLMRobertaTokenizer(spm_file))
    sys.modules["transformers"] = t
    sys.modules["transformers.modeling_outputs"] = outputs


# --- the fixture ---------------------------------------------------------------------------
def train_spm(folder):
    root = HERE.parents[1]
    labels = (root / "resources/labels/imagenet1k.txt").read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = pathlib.Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(t.format(label) for label in labels for t in SPM_TEMPLATES) + "\n",
                          encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(folder / "sentencepiece.bpe"), model_type="unigram",
            vocab_size=800, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, normalization_rule_name="nmt_nfkc",
            character_coverage=1.0, num_threads=1, seed_sentencepiece_size=100000, minloglevel=2)
    (folder / "sentencepiece.bpe.vocab").unlink()
    return folder / "sentencepiece.bpe.model"


def perturb_text_norms(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.text.named_parameters():
            if "LayerNorm" in name:
                p.add_(0.2 * torch.randn(p.shape, generator=g) if name.endswith("weight")
                       else 0.1 * torch.randn(p.shape, generator=g))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--open-clip", required=True, help="open_clip v2.23.0's src/open_clip folder")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    folder = out / "openclip_xlmr"
    folder.mkdir(parents=True, exist_ok=True)
    spm_file = train_spm(folder)
    vocab = len(XLMRobertaTokenizer(str(spm_file)))
    install_transformers(str(spm_file), vocab)
    oc_model, oc_tok, oc_zero_shot = ttf.import_open_clip(args.open_clip)

    text_cfg = {"hf_model_name": "xlm-roberta-base", "hf_tokenizer_name": "xlm-roberta-base",
                "hf_pooler_type": "mean_pooler", "hf_model_pretrained": False}
    torch.manual_seed(41)
    model = oc_model.CustomTextCLIP(embed_dim=EMBED, vision_cfg=ttf.vision_cfg(), text_cfg=text_cfg,
                                    quick_gelu=True).eval()
    ttf.perturb(model, 42)
    perturb_text_norms(model, 43)
    tokenizer = oc_tok.HFTokenizer("xlm-roberta-base", context_length=CONTEXT)
    ids = tokenizer(PROMPTS)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(44))
    with torch.no_grad():
        text, image = model.encode_text(ids), model.encode_image(x)
    scores = ttf.scores_of(image, text, model.logit_scale)
    zero_shot = ttf.zero_shot_of(oc_zero_shot.build_zero_shot_classifier, model, tokenizer, image)

    state = OrderedDict((k, v) for k, v in model.state_dict().items() if not k.endswith("position_ids"))
    config = ttf.open_clip_config(EMBED, {k: v for k, v in text_cfg.items() if k != "hf_model_pretrained"}, True)
    config["model_cfg"]["custom_text"] = True
    ttf.write_folder(folder, state, "open_clip_config.json", config)
    ttf.save_refs(out / "openclip_xlmr.ref.safetensors", ids, text, x, image, scores, zero_shot)

    rows = tokenizer(TOKENIZER_STRINGS).tolist()
    long = "golden retriever " * 30
    record = {"context": CONTEXT, "strings": TOKENIZER_STRINGS, "ids": rows,
              "long": long, "long_ids_uncut": tokenizer.tokenizer.ids(tokenizer.clean_fn(long))}
    (folder / "expected_ids.json").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    print("wrote", folder, "and", out / "openclip_xlmr.ref.safetensors")


if __name__ == "__main__":
    main()
