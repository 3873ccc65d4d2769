#pragma once

// SentencePiece tokenizers, run by Debian's libsentencepiece, in two styles:
// - SigLIP's (spiece.model): HF's SiglipTokenizer text normalisation before it (lower case,
//   ASCII punctuation removed, whitespace collapsed and stripped) and its sequence after it:
//   the ids, the end token, padding with the pad token (SigLIP's is the end token) to the
//   context length. SigLIP's text tower reads the last position and has no mask, so the
//   padding is part of what it sees.
// - XLM-RoBERTa's (sentencepiece.bpe.model), as open_clip's HFTokenizer runs HF's
//   XLMRobertaTokenizer: open_clip's clean='whitespace' (cleanTextKeepingCase), then
//   fairseq's ids: <s> 0, <pad> 1, </s> 2, <unk> 3, and every other piece its
//   SentencePiece id + 1 (SentencePiece's unknown, 0, becomes 3); the sequence
//   <s> ids </s>, cut to the context and padded with <pad>. libsentencepiece is reached through a plugin loaded at
//   first use
// (sentencepieceplugin.h says why), found beside the program, in ../bin or ../lib/attnviz/plugins.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnviz::engine::text {

enum class SentencePieceStyle { Siglip, XlmRoberta };

class SentencePieceTokenizer {
public:
    // Throws EngineError with one line when the file is missing or no SentencePiece model,
    // or when the plugin cannot be loaded.
    explicit SentencePieceTokenizer(const std::string& modelPath,
                                    SentencePieceStyle style = SentencePieceStyle::Siglip);
    ~SentencePieceTokenizer();
    SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
    SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;

    // The normalised text's ids, without the start and end tokens.
    std::vector<int64_t> encode(const std::string& utf8) const;
    // SigLIP: [ids..., end] padded to `context` with the pad id; a longer sequence keeps
    // its first context - 1 ids and the end token (big_vision's "sticky" end, HF's
    // truncation). XLM-RoBERTa: [start, ids..., end], padded, or cut to its first
    // context - 2 ids (HF's truncation). [context]
    std::vector<int64_t> tokenize(const std::string& utf8, int context = 64) const;
    // The tokens tokenize adds to encode's: 1 (end) or 2 (start and end).
    int addedTokens() const { return m_startId >= 0 ? 2 : 1; }

    const std::string& source() const { return m_source; }  // the model file
    int64_t endId() const { return m_endId; }
    int64_t padId() const { return m_padId; }
    int64_t size() const;

private:
    std::unique_ptr<void, void (*)(void*)> m_processor;
    std::string m_source;
    SentencePieceStyle m_style;
    int64_t m_startId = -1;  // none (SigLIP)
    int64_t m_endId = 1;
    int64_t m_padId = 1;
};

// HF's SiglipTokenizer normalisation: lower case, then canonicalize_text (Python's
// string.punctuation removed, whitespace runs to one space, ends stripped).
std::string normaliseSiglipText(const std::string& utf8);

}  // namespace attnviz::engine::text
