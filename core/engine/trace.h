#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// Where the tokens of a ViT sequence come from: [cls?, dist?, reg..., patches]
// with the patches in row-major order over a gridH x gridW grid.
struct TokenLayout {
    bool hasCls = false;
    bool hasDist = false;
    int regTokens = 0;
    int gridH = 0;
    int gridW = 0;
    int patchSize = 0;

    int prefixTokens() const { return int(hasCls) + int(hasDist) + regTokens; }
    int tokens() const { return prefixTokens() + gridH * gridW; }
};

// Everything one forward pass records; all tensors on the CPU, float32.
struct Trace {
    torch::Tensor input;   // [1, C, H, W], preprocessed
    torch::Tensor logits;  // [1, classes] (empty when the model has no head)
    // ViT: per block, softmax(q kᵀ / √d) as [heads, tokens, tokens]; rows sum to 1.
    std::vector<torch::Tensor> attentions;
    TokenLayout tokens;
    // CNN: named stage outputs [1, C, h, w] in forward order:
    // conv1 (after bn1 + relu), maxpool, layer1 .. layer4.
    std::vector<std::pair<std::string, torch::Tensor>> features;
    double forwardSeconds = 0.0;
};

}  // namespace attnviz::engine
