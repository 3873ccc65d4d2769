#pragma once

// --text TEXT (repeatable), --labels FILE and --template PATTERN (repeatable): a CLIP or
// SigLIP model's text tower turns prompts into the ViT's classes, so that its predictions
// are scores against them and every class-based view explains one.

#include "app/cli/arguments.h"

#include "core/engine/model/classifier.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace attnviz::cli {

struct PromptClasses {
    std::vector<std::string> labels;     // the classes' names: the prompts, or the label file's lines
    std::vector<std::string> templates;  // with --labels; empty with --text
    torch::Tensor ids;                   // --text: the token ids the tower saw [P, context] int64
    torch::Tensor embeddings;            // --text: the projection's output [P, E]; --labels: the classes [K, E]
    double ms = 0.0;                     // tokenizing and the text tower
};

// --text, --labels and --template without --vit: a UsageError.
void checkPromptOptions(const Arguments& args);

// The prompts the options ask for, made the model's classes; nothing when none is given.
// Throws UsageError for a model without a text tower or contradictory options, EngineError
// for a missing tokenizer file or a bad prompt.
std::optional<PromptClasses> applyPrompts(const Arguments& args, engine::Classifier& model,
                                          const std::string& modelPath);

// For `info`: {"file": the tokenizer file the text tower would use} or {"missing": why
// there is none}; null for a model without a text tower.
nlohmann::ordered_json tokenizerJson(const engine::Classifier& model, const std::string& modelPath);

// {"texts" | "labels": count, "templates", "probability": how, "scores": [{"label",
// "score", "probability"}] (up to 100 classes), "text_ms"}: the image's score against
// every class (before softmax or sigmoid) and its probability, as the model `spec` reads
// its scores (ModelSpec::sigmoidScores).
nlohmann::ordered_json promptsJson(const PromptClasses& prompts, const engine::ModelSpec& spec,
                                   const torch::Tensor& logits);

}  // namespace attnviz::cli
