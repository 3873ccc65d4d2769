#pragma once

// CLIP's byte-pair vocabulary, read from any of the three files that carry it:
// open_clip's bpe_simple_vocab_16e6.txt.gz (merges only: the vocabulary follows from
// them), HF's vocab.json + merges.txt, or HF tokenizers' tokenizer.json. Tokens are
// strings over CLIP's byte alphabet (clipByteAlphabet), a word's last symbol ending in
// "</w>".

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace attnviz::engine::text {

struct BpeVocabulary {
    std::unordered_map<std::string, int64_t> ids;             // token -> id
    std::vector<std::pair<std::string, std::string>> merges;  // in rank order
    std::string startToken, endToken;                         // matched as themselves in text, as the libraries do
    int64_t startId = 0, endId = 0;
    int64_t padId = 0;   // open_clip pads with 0, HF's CLIPTokenizer with the end token
    std::string source;  // the file it came from, for messages
};

// The 256 strings (UTF-8) that bytes 0..255 stand for: printable bytes as themselves,
// the others moved to U+0100 on, in byte order. Index = byte value.
const std::array<std::string, 256>& clipByteAlphabet();

BpeVocabulary readOpenClipVocabulary(const std::string& gzPath);
BpeVocabulary readHfVocabulary(const std::string& vocabJson, const std::string& mergesTxt);
BpeVocabulary readTokenizerJson(const std::string& path);

// The vocabulary in `folder`, from the first of tokenizer.json, vocab.json + merges.txt
// and bpe_simple_vocab_16e6.txt.gz found there; throws EngineError naming the files to
// put beside the weights when there is none.
BpeVocabulary findClipVocabulary(const std::string& folder);

}  // namespace attnviz::engine::text
