#pragma once

// Pieces every gradient method shares: a differentiable pass, the score of the class
// being explained, gradients of several targets from one backward, every block's
// attention gradient, and a ViT's patch tokens as a channels-first grid.

#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace attnviz::engine {

// Maps of one class for several layers, all from one forward and one backward pass.
struct ClassMaps {
    int classIndex = 0;
    std::vector<torch::Tensor> maps;  // CPU float32, one per requested layer
};

// An eval-mode pass of `input` [N, C, H, W] whose input requires grad, so that every
// intermediate does even though the weights do not. Refuses to run under inference mode.
Activations differentiableForward(const Classifier& model, const torch::Tensor& input);

// The logit of class `classIndex` for image `image` of logits [N, classes] ([] scalar);
// -1 resolves to its top-1 class and is written back. Throws EngineError without a head
// (undefined logits) or for a class outside it.
torch::Tensor classScore(const torch::Tensor& logits, int& classIndex, int64_t image = 0);

// d score / d target for each target from one backward; unused targets get zeros.
std::vector<torch::Tensor> gradientsOf(const torch::Tensor& score, const std::vector<torch::Tensor>& targets,
                                       bool retainGraph = false);

// A ViT's patch tokens [T, D] -> channels-first grid [D, gridH, gridW] (prefix tokens dropped).
torch::Tensor patchGrid(const torch::Tensor& tokens, const TokenLayout& layout);

// A ViT block given as "3" or, counting from the end, "-1". Throws EngineError.
int blockIndex(const std::string& layer, int depth);

// d score / dA for every block's attention of one image [1, C, H, W], streamed from the
// last block down to `firstBlock` (VisionTransformer::visitAttentionGradients: one
// block's [H, T, T] matrices at a time). `visit(block, A, dA)` gets [H, T, T] each.
// classIndex < 0 explains the top-1 class; the class explained is returned, and
// `layout` filled. `method` names the caller in errors (not a ViT, no head, too many
// tokens for kAttentionMemoryBudget).
using AttentionGradientVisitor =
    std::function<void(int block, const torch::Tensor& attention, const torch::Tensor& gradient)>;
int streamAttentionGradients(const Classifier& vit, const torch::Tensor& input, int classIndex, int firstBlock,
                             const std::string& method, const AttentionGradientVisitor& visit, TokenLayout& layout);

// Throws EngineError unless `startLayer` is one of `depth` blocks.
void checkRolloutStart(int startLayer, int depth);

}  // namespace attnviz::engine
