#!/usr/bin/env python3
"""SigLIP token ids for hard strings, from Debian's python3-sentencepiece with the committed
tests/fixtures/text/siglip_spm/spiece.model, preceded by the text normalisation of HF's
SiglipTokenizer (transformers models/siglip/tokenization_siglip.py: do_lower_case, then
canonicalize_text: string.punctuation removed, " ".join(text.split())) and followed by its
sequence: the end token, truncation to 63 ids + end, padding with the pad token "</s>" to 64
(what SigLIP was trained with: big_vision's "sticky" end and pad 1). HF's slow tokenizer adds
the word-start piece by hand with the model's dummy prefix turned off; for stripped text
that is what encoding with the model's own settings gives, as here.

Writes --out/siglip_ids.json: {"strings": [...], "ids": [[64 ids]...], "end_id", "pad_id", "size"}.
"""
import argparse
import json
import pathlib
import string

import sentencepiece as spm

CONTEXT = 64

HARD_STRINGS = [
    "a photo of a cat",
    "A Photo Of A DOG!!",
    "",
    "   ",
    "it's 2024",
    "sea_waves and (brackets) [x] {y}",
    "Hello,   World!\tTabs\nnewlines",
    "caf\u00e9 na\u00efve",
    "cafe\u0301 decomposed",
    "\u65e5\u672c\u306e\u732b",
    "emoji \U0001f431\U0001f436 cat",
    "\u00fcmlaut \u00c4\u00d6\u00dc stra\u00dfe",
    "\u0130stanbul",
    "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3",
    "\uff26\uff35\uff2c\uff2c \uff57\uff49\uff44\uff54\uff48\u3000space",
    "\ufb01sh \ufb02our",
    "don\u2019t \u201cquoted\u201d \u00abguillemets\u00bb",
    "$100.00 & 50% @home #tag",
    "\u00bd \u00b2 \u216b",
    "tab\u00a0nbsp zero\u200bwidth",
    "golden retriever " * 30,
]


def normalise(text):
    text = text.lower()
    text = text.translate(str.maketrans("", "", string.punctuation))
    return " ".join(text.split())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    root = pathlib.Path(__file__).resolve().parents[2]
    sp = spm.SentencePieceProcessor(model_file=str(root / "tests/fixtures/text/siglip_spm/spiece.model"))
    end = sp.eos_id()
    rows = []
    for text in HARD_STRINGS:
        ids = sp.encode(normalise(text))[: CONTEXT - 1] + [end]
        rows.append(ids + [end] * (CONTEXT - len(ids)))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"strings": HARD_STRINGS, "ids": rows, "end_id": end, "pad_id": end, "size": sp.get_piece_size()}
    (out / "siglip_ids.json").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
