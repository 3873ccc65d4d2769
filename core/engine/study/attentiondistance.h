#pragma once

#include "core/engine/model/trace.h"

#include <torch/torch.h>

#include <vector>

namespace attnviz::engine {

// Mean attention distance per head (Dosovitskiy et al. 2020, fig. 7): for each patch
// query i, Σ_j A[h, i, j] · ‖pos_i − pos_j‖ over patch keys j, in pixels of the model
// input, averaged over the patch queries. attention: [H, T, T] -> [H].
//
// By default the weights are used as they are: the attention a query gives to prefix
// tokens (CLS, distillation, registers) counts as distance 0, so a head that sends
// half of every row to CLS reads half as far. That is the quantity Dosovitskiy et al.
// plot. With `renormalize`, each query's weights are divided by their sum over the
// patch keys first, so the value is the expected distance given that the query looks
// at a patch; a query with no attention on any patch then contributes 0.
torch::Tensor meanAttentionDistance(const torch::Tensor& attention, const TokenLayout& layout,
                                    bool renormalize = false);

}  // namespace attnviz::engine
