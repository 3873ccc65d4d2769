#pragma once

#include "core/engine/model/modelspec.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

struct Prediction {
    int index = 0;
    std::string label;
    double probability = 0.0;
};

// The k most probable classes of logits [1, classes] (softmax, or with `sigmoid` each
// score's own sigmoid), best first.
std::vector<Prediction> topK(const torch::Tensor& logits, const std::vector<std::string>& labels, int k,
                             bool sigmoid = false);
// The same for a model: its labels, and a sigmoid for SigLIP's prompts (ModelSpec::sigmoidScores).
std::vector<Prediction> topK(const torch::Tensor& logits, const ModelSpec& spec, int k);

}  // namespace attnviz::engine
