#pragma once

// Swin Transformer v1 (Liu et al. 2021), as torchvision's swin_t/s/b compute it: a 4 x 4
// patch embedding, then stages of pre-norm blocks whose attention stays inside 7 x 7
// windows (every second block's windows shifted by half a window, with the mask that keeps
// the wrapped-around regions apart), a relative position bias per head, and a patch
// merging between stages (2 x 2 neighbours concatenated, normed, projected to twice the
// width). The feature map is padded to a multiple of the window, as torchvision pads it.
//
// Not yet a Classifier: this is the forward pass that the loader and the views will use
// (issue 28), checked against torchvision.

#include "core/engine/loading/weightsource.h"

#include <torch/torch.h>

#include <vector>

namespace attnviz::engine::swin {

struct SwinBlockWeights {
    torch::Tensor norm1W, norm1B;
    torch::Tensor qkvW, qkvB;    // [3C, C], rows q, k, v, each head-major
    torch::Tensor projW, projB;  // [C, C]
    torch::Tensor biasTable;     // [(2w-1)^2, heads]: the relative position bias
    torch::Tensor norm2W, norm2B;
    torch::Tensor fc1W, fc1B, fc2W, fc2B;
    int heads = 0;
    bool shifted = false;  // every second block of a stage: windows moved by w/2
};

struct SwinStageWeights {
    std::vector<SwinBlockWeights> blocks;
    // the patch merging after the stage (none after the last): norm over 4C, then [2C, 4C]
    torch::Tensor mergeNormW, mergeNormB, mergeW;
};

struct SwinWeights {
    torch::Tensor patchW, patchB;  // [C, 3, p, p]
    torch::Tensor patchNormW, patchNormB;
    std::vector<SwinStageWeights> stages;
    torch::Tensor normW, normB;
    torch::Tensor headW, headB;  // [classes, 8C]
    int window = 7;
    double layerNormEps = 1e-5;
};

// torchvision's SwinTransformer state dict (features.0 the patch embedding, features.1, 3,
// 5, 7 the stages, features.2, 4, 6 the mergings, norm, head). The window comes from the
// bias table's rows, the heads from its columns. Throws EngineError naming a missing or
// misshapen tensor.
SwinWeights readTorchvisionSwin(WeightSource& source);

struct SwinOutput {
    torch::Tensor logits;                  // [N, classes]
    std::vector<torch::Tensor> attention;  // per block, [N * windows, heads, w*w, w*w] after the softmax
};

// images [N, 3, H, W], normalised -> logits and every block's window attention.
SwinOutput swinForward(const SwinWeights& weights, const torch::Tensor& images);

// The mask of torchvision's shifted_window_attention for a padded grid [H, W], windows of
// w and shifts (sh, sw) (0 along a side the window covers whole): [windows, w*w, w*w], 0
// between positions of one region of the rolled grid, -100 between regions that the roll
// brought together.
torch::Tensor shiftedWindowMask(int64_t height, int64_t width, int64_t window, int64_t shiftH, int64_t shiftW,
                                const torch::TensorOptions& options);

}  // namespace attnviz::engine::swin
