#pragma once

// CLIP's tokenizer (OpenAI's simple_tokenizer.py, as open_clip's SimpleTokenizer and HF's
// CLIPTokenizer run it): the text is cleaned (cliptextcleaning.h), split into words,
// numbers and runs of other characters, and each piece is byte-pair encoded with the
// vocabulary's merges, lowest rank first.

#include "core/engine/text/bpevocabulary.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace attnviz::engine::text {

class ClipTokenizer {
public:
    explicit ClipTokenizer(BpeVocabulary vocabulary);

    // The text's token ids, without the start and end tokens.
    std::vector<int64_t> encode(const std::string& utf8) const;
    // [start, ids..., end] padded to `context` with the pad id; a longer sequence is cut
    // to `context` and its last id set to the end token (open_clip's tokenize). [context]
    std::vector<int64_t> tokenize(const std::string& utf8, int context = 77) const;
    // The tokens tokenize adds to encode's: start and end.
    static int addedTokens() { return 2; }

    const BpeVocabulary& vocabulary() const { return m_vocabulary; }
    int64_t size() const { return int64_t(m_vocabulary.ids.size()); }

private:
    std::vector<std::string> bytePairs(const std::string& piece) const;

    BpeVocabulary m_vocabulary;
    std::unordered_map<std::string, int> m_ranks;  // "a b" -> merge rank
};

}  // namespace attnviz::engine::text
