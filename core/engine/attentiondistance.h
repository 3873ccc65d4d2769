#pragma once

#include "core/engine/trace.h"

#include <torch/torch.h>

namespace attnviz::engine {

// Mean attention distance per head (Dosovitskiy et al. 2020, fig. 7): for each patch
// query i, Σ_j A[h, i, j] · ‖pos_i − pos_j‖ over patch keys j, in pixels of the model
// input, averaged over the patch queries. attention: [H, T, T] -> [H].
torch::Tensor meanAttentionDistance(const torch::Tensor& attention, const TokenLayout& layout);

}  // namespace attnviz::engine
