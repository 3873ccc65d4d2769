#pragma once

#include "core/engine/methods/gradientsupport.h"
#include "core/engine/model/classifier.h"
#include "core/engine/model/trace.h"

#include <torch/torch.h>

#include <vector>

namespace attnviz::engine {

// Transformer attribution (Chefer, Gur & Wolf, CVPR 2021, "Transformer Interpretability
// Beyond Attention Visualization"): relevance starts as a one-hot vector on the chosen
// class and is propagated back through the head and every block with LRP rules; the
// relevance R^A that reaches each block's attention map is weighted by the attention's
// gradient, A_bar = mean_h((dscore/dA * R^A)+), and rolled out from I as
// R <- R + A_bar R over the blocks from `startLayer`. The map is the class token's row
// of R over the patches, one map [gridH, gridW], float32 on the CPU.
// Rules (those of the authors' implementation): LRP alpha=1, beta=0 for every Linear
// (biases take no relevance); relevance passes unchanged through LayerNorm, GELU,
// softmax and LayerScale; each residual Add splits relevance between the two summands
// by the generic rule x * (R / z), then rescales the two parts so that their totals are
// |sum_a| : |sum_b| of the whole; both attention matmuls use the generic rule on both
// operands, each operand getting half; the class token gets the head's relevance.
// Computed in float64 on the model's device, from the model's float32 embedding with the
// patch projection redone in float64: the generic rule's ratios amplify rounding, and
// this keeps the maps within 2e-5 of the map's maximum of a float64 autograd reference
// (tests/scripts/lrp_reference.py) on a plain ViT.
// classIndex < 0 explains the top-1 class. Throws EngineError for models it cannot
// explain: not a ViT, no classification head, average-pooled or distilled heads (the
// class token's row would miss what the other tokens feed the head).
ClassMaps transformerAttribution(const Classifier& vit, const torch::Tensor& input, int classIndex, int startLayer = 0);

// What the propagation leaves in each block from `startLayer` on, for checks and
// diagnostics. Entry k belongs to block startLayer + k.
struct TransformerRelevance {
    int classIndex = 0;
    TokenLayout tokens;
    std::vector<torch::Tensor> attention;  // R^A, the relevance of A itself, [H, T, T] float64
    std::vector<torch::Tensor> gradients;  // dscore/dA of the same forward, [H, T, T] float64
    // Total relevance at each block's output, and the part of it its attention branch
    // receives at the first residual Add (what reaches the attention's output projection).
    std::vector<double> outputTotal;
    std::vector<double> attentionBranchTotal;
};

TransformerRelevance transformerRelevance(const Classifier& vit, const torch::Tensor& input, int classIndex,
                                          int startLayer = 0);

}  // namespace attnviz::engine
