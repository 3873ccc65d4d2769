#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

struct Prediction {
    int index = 0;
    std::string label;
    double probability = 0.0;
};

// The k most probable classes of logits [1, classes] (softmax), best first.
std::vector<Prediction> topK(const torch::Tensor& logits, const std::vector<std::string>& labels, int k);

}  // namespace attnviz::engine
