#!/usr/bin/env python3
"""A small SentencePiece model shaped like SigLIP's (T5's c4_en spiece.model): unigram, pad 0,
end-of-text 1, unknown 2, no start token, NFKC normalisation with a dummy prefix and extra
whitespace removed. Trained here with Debian's python3-sentencepiece on the ImageNet labels in
resources/labels under a few prompt templates, with fixed settings and one thread, and
committed (the trainer's output is not guaranteed byte-identical across versions):

    /usr/bin/python3 tests/scripts/make_siglip_spiece.py tests/fixtures/text/siglip_spm
"""
import pathlib
import sys
import tempfile

import sentencepiece as spm

TEMPLATES = ["a photo of a {}.", "A bad photo of the {}!", "a drawing of a {}", "itap of my {}."]


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    root = pathlib.Path(__file__).resolve().parents[2]
    labels = (root / "resources/labels/imagenet1k.txt").read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = pathlib.Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(t.format(label) for label in labels for t in TEMPLATES) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(out / "spiece"), model_type="unigram", vocab_size=1000,
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, normalization_rule_name="nmt_nfkc",
            add_dummy_prefix=True, remove_extra_whitespaces=True, character_coverage=1.0,
            num_threads=1, seed_sentencepiece_size=100000, minloglevel=2)
    (out / "spiece.vocab").unlink()
    print("wrote", out / "spiece.model")


if __name__ == "__main__":
    main()
