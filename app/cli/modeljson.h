#pragma once

#include "core/engine/model/modelspec.h"
#include "core/engine/model/predictions.h"

#include <nlohmann/json.hpp>

namespace attnviz::cli {

// The `info` contract: family, naming, depth, heads, embed_dim, patch_size,
// input_size [C,H,W], prefix_tokens, num_classes (+ a few descriptive extras).
nlohmann::ordered_json specJson(const engine::ModelSpec& spec);
nlohmann::ordered_json predictionsJson(const std::vector<engine::Prediction>& predictions);

}  // namespace attnviz::cli
