#pragma once

// SigLIP's tokenizer: a SentencePiece model (spiece.model) run by Debian's libsentencepiece,
// with HF's SiglipTokenizer text normalisation before it (lower case, ASCII punctuation
// removed, whitespace collapsed and stripped) and its sequence after it: the ids, the end
// token, padding with the pad token (SigLIP's is the end token) to the context length.
// SigLIP's text tower reads the last position and has no mask, so the padding is part of
// what it sees. libsentencepiece is reached through a plugin loaded at first use
// (sentencepieceplugin.h says why), found beside the program, in ../bin or ../lib/attnviz.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnviz::engine::text {

class SentencePieceTokenizer {
public:
    // Throws EngineError with one line when the file is missing or no SentencePiece model,
    // or when the plugin cannot be loaded.
    explicit SentencePieceTokenizer(const std::string& modelPath);
    ~SentencePieceTokenizer();
    SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
    SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;

    // The normalised text's ids, without the end token.
    std::vector<int64_t> encode(const std::string& utf8) const;
    // [ids..., end] padded to `context` with the pad id; a longer sequence keeps its first
    // context - 1 ids and the end token (big_vision's "sticky" end, HF's truncation). [context]
    std::vector<int64_t> tokenize(const std::string& utf8, int context = 64) const;

    const std::string& source() const { return m_source; }  // the model file
    int64_t endId() const { return m_endId; }
    int64_t padId() const { return m_padId; }
    int64_t size() const;

private:
    std::unique_ptr<void, void (*)(void*)> m_processor;
    std::string m_source;
    int64_t m_endId = 1;
    int64_t m_padId = 1;
};

// HF's SiglipTokenizer normalisation: lower case, then canonicalize_text (Python's
// string.punctuation removed, whitespace runs to one space, ends stripped).
std::string normaliseSiglipText(const std::string& utf8);

}  // namespace attnviz::engine::text
