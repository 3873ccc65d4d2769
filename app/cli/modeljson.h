#pragma once

#include "core/engine/model/classifier.h"
#include "core/engine/model/modelspec.h"
#include "core/engine/model/predictions.h"

#include <nlohmann/json.hpp>

namespace attnviz::cli {

// The `info` contract: family, naming, depth, heads, embed_dim, patch_size,
// input_size [C,H,W], prefix_tokens, num_classes (+ a few descriptive extras).
nlohmann::ordered_json specJson(const engine::ModelSpec& spec);
// A CLIP or SigLIP model's text tower: layout, width, layers, heads, context_length,
// vocab_size, embed_dim, causal, score ("softmax" | "sigmoid"); null for a model without
// one. (`info` adds the tokenizer it would use: prompts.h, tokenizerJson.)
nlohmann::ordered_json textTowerJson(const engine::Classifier& model);
nlohmann::ordered_json predictionsJson(const std::vector<engine::Prediction>& predictions);

}  // namespace attnviz::cli
