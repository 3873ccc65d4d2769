#pragma once

// Prompts for a CLIP or SigLIP model: text -> token ids (the tokenizer that goes with the
// text tower) -> text embeddings (the tower), each prompt computed once; and zero-shot
// classes made of label names and templates, as CLIP's zero-shot classification does.

#include "core/engine/text/cliptokenizer.h"
#include "core/engine/text/sentencepiecetokenizer.h"
#include "core/engine/text/texttower.h"

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace attnviz::engine::text {

using Tokenizer = std::variant<ClipTokenizer, SentencePieceTokenizer>;

// The folder a model's tokenizer is looked for in: the model path when it is a folder,
// else the folder of the file.
std::string tokenizerFolder(const std::string& modelPath);

// The tokenizer for `tower` in `folder`: SigLIP's spiece.model, XLM-RoBERTa's
// sentencepiece.bpe.model, or CLIP's vocabulary (findClipVocabulary). Throws EngineError
// naming the file to put there.
Tokenizer findTokenizer(const TextTower& tower, const std::string& folder);

class PromptEncoder {
public:
    PromptEncoder(const TextTower& tower, Tokenizer tokenizer);

    // [P, context] int64. Throws EngineError with one line for an empty prompt or one
    // that does not fit the context (it is not cut: a cut prompt asks something else).
    torch::Tensor ids(const std::vector<std::string>& prompts) const;
    // [P, E] text embeddings before normalisation, each prompt's computed once.
    torch::Tensor embed(const std::vector<std::string>& prompts);
    // One embedding per label [K, E]: every template (its "{}" replaced by the label)
    // embedded and normalised, averaged over the templates and normalised again
    // (open_clip's build_zero_shot_classifier).
    torch::Tensor classEmbeddings(const std::vector<std::string>& labels, const std::vector<std::string>& templates);

    // The embedding [E] of "a photo of a", the prompt LeGrad's authors map to correct a
    // SigLIP's maps (compute_legrad_siglip); undefined for a CLIP, which they do not correct.
    torch::Tensor neutralPrompt();

private:
    std::vector<int64_t> idsOf(const std::string& prompt) const;

    const TextTower& m_tower;
    Tokenizer m_tokenizer;
    std::map<std::string, torch::Tensor> m_cache;  // prompt -> [E]
};

// "a photo of a {}." with "{}" replaced by `label` (every occurrence).
std::string fillTemplate(const std::string& pattern, const std::string& label);

}  // namespace attnviz::engine::text
