#!/usr/bin/env python3
"""A small CLIP BPE vocabulary and the token ids open_clip's own tokenizer gives with it.

The vocabulary is learnt here (plain byte-pair counting over the ImageNet labels in
resources/labels and a few prompt templates), so that it is ours to commit; the ids are made by
the real tokenizer: open_clip's src/open_clip/tokenizer.py (SimpleTokenizer, its default
clean='lower': ftfy.fix_text, html.unescape twice, whitespace cleaning, lower case) with the real
ftfy, neither of which is a Debian package. Made once and committed; the tests only read the
output. Made with open_clip commit 89fb801f1e6087880e951fc8354b8a2077b79c6d and python-ftfy
commit 74dd0452b48286a3770013b3a02755313bd5575e (imported from `git archive`s of them, with
Debian's python3-regex, python3-wcwidth and python3-torch):

    PYTHONPATH=/path/to/open_clip/src/open_clip:/path/to/ftfy_src \\
        /usr/bin/python3 tests/scripts/make_clip_tokenizer_fixture.py tests/fixtures/text/clip_bpe

Writes into the folder:
  bpe_simple_vocab_16e6.txt.gz  open_clip's format: a header line, then one merge "a b" a line
  vocab.json, merges.txt        HF CLIPTokenizer's format of the same vocabulary
  tokenizer.json                HF tokenizers' format of it (model.vocab, model.merges as pairs)
  expected_ids.json             {"strings", "ids" [n][77], "ids_without_encoding_repair" [n][77],
                                 "start_id", "end_id", "vocab_size", "made_with"}
"ids_without_encoding_repair" are the same tokenizer's with ftfy's fix_encoding (its heuristic
mojibake repair) turned off, the one ftfy step attnviz does not do.
"""
import collections
import gzip
import json
import pathlib
import subprocess
import sys

MERGES = 1500
CONTEXT = 77

HARD_STRINGS = [
    "a photo of a cat",
    "A Photo Of A DOG!!",
    "",
    "   ",
    "it's 2024",
    "don't stop",
    "don\u2019t stop \u201cquoted\u201d",
    "caf\u00e9 na\u00efve",
    "cafe\u0301 decomposed",
    "\u65e5\u672c\u306e\u732b",
    "emoji \U0001f431\U0001f436 cat",
    "\U0001f44d\U0001f3fd thumbs",
    "\u00fcmlaut \u00c4\u00d6\u00dc stra\u00dfe",
    "\u0130stanbul",
    "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3",
    "x&amp;y",
    "&lt;b&gt; bold",
    "&amp;lt; twice",
    "&#233;t&#xE9; &quot;quoted&quot;",
    "punctuation!!!???...",
    "---===***",
    "a\tb\nc\r\nd",
    "$100.00 & 50%",
    "e-mail: someone@example.com",
    "\ufb01sh \ufb02our",
    "\uff26\uff35\uff2c\uff2c \uff57\uff49\uff44\uff54\uff48\u3000space",
    "tab\u00a0nbsp",
    "zero\u200bwidth",
    "l'\u00e9t\u00e9 d'or",
    "'s 're 've 'm 'll 'd 'S",
    "dog's toys",
    "\uff21\uff22\uff23123",
    "\u00bd \u00b2 \u216b",
    "control\x07char",
    "next\u0085line",
    "<start_of_text>hi",
    "caf\u00c3\u00a9 mojibake",
    "golden retriever " * 30,
    " ".join(["word%d" % i for i in range(80)]),
]

TEMPLATES = ["a photo of a {}.", "a bad photo of the {}.", "a drawing of a {}.", "itap of my {}."]


def bytes_to_unicode():
    """CLIP's byte alphabet: printable bytes stand for themselves, the rest move to U+0100 on."""
    own = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    moved = [b for b in range(256) if b not in own]
    table = {b: chr(b) for b in own}
    table.update({b: chr(256 + n) for n, b in enumerate(moved)})
    return table


def learn_merges(words, count):
    """Greedy byte-pair learning: the most frequent adjacent pair (ties: the smaller pair)."""
    alphabet = bytes_to_unicode()
    corpus = collections.Counter()
    for w in words:
        chars = [alphabet[b] for b in w.encode("utf-8")]
        corpus[tuple(chars[:-1] + [chars[-1] + "</w>"])] += 1
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for word, n in corpus.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = collections.Counter()
        for word, n in corpus.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        corpus = merged
    return merges


def corpus_words(root):
    labels = (root / "resources/labels/imagenet1k.txt").read_text(encoding="utf-8").splitlines()
    words = []
    for label in labels:
        for template in TEMPLATES:
            words += template.format(label).lower().replace(".", " ").replace(",", " ").split()
    return words


def vocabulary(merges, start, end):
    alphabet = list(bytes_to_unicode().values())
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + [start, end]
    return {t: i for i, t in enumerate(tokens)}


def write_formats(out, merges):
    lines = ["#version: 0.2"] + [a + " " + b for a, b in merges]
    # No newline after the last merge: open_clip reads lines[1:48895] and would take a
    # trailing empty line for a merge of nothing (the real file is longer than that slice).
    with gzip.GzipFile(out / "bpe_simple_vocab_16e6.txt.gz", "wb", mtime=0) as f:
        f.write("\n".join(lines).encode("utf-8"))
    (out / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    hf = vocabulary(merges, "<|startoftext|>", "<|endoftext|>")
    (out / "vocab.json").write_text(json.dumps(hf, ensure_ascii=False), encoding="utf-8")
    tokenizer_json = {
        "version": "1.0",
        "added_tokens": [
            {"id": hf["<|startoftext|>"], "content": "<|startoftext|>", "special": True},
            {"id": hf["<|endoftext|>"], "content": "<|endoftext|>", "special": True},
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "vocab": hf,
                  "merges": [[a, b] for a, b in merges]},
    }
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8")


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    root = pathlib.Path(__file__).resolve().parents[2]
    merges = learn_merges(corpus_words(root), MERGES)
    write_formats(out, merges)

    import ftfy
    import tokenizer as open_clip_tokenizer  # open_clip's src/open_clip/tokenizer.py

    tok = open_clip_tokenizer.SimpleTokenizer(bpe_path=str(out / "bpe_simple_vocab_16e6.txt.gz"))
    ids = tok(HARD_STRINGS, context_length=CONTEXT).tolist()
    fix_text = ftfy.fix_text
    ftfy.fix_text = lambda text: fix_text(text, fix_encoding=False)
    tok = open_clip_tokenizer.SimpleTokenizer(bpe_path=str(out / "bpe_simple_vocab_16e6.txt.gz"))
    without_repair = tok(HARD_STRINGS, context_length=CONTEXT).tolist()
    git = lambda path: subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                                      text=True).stdout.strip() or "unknown"
    record = {
        "strings": HARD_STRINGS,
        "ids": ids,
        "ids_without_encoding_repair": without_repair,
        "start_id": tok.sot_token_id,
        "end_id": tok.eot_token_id,
        "vocab_size": len(tok.encoder),
        "made_with": "open_clip 89fb801f src/open_clip/tokenizer.py SimpleTokenizer(clean='lower'), "
                     "python-ftfy 74dd0452",
    }
    (out / "expected_ids.json").write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n",
                                           encoding="utf-8")
    print(f"{len(merges)} merges, vocabulary {record['vocab_size']}, {len(HARD_STRINGS)} strings")


if __name__ == "__main__":
    main()
