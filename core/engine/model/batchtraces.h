#pragma once

#include "core/engine/model/trace.h"

#include <torch/torch.h>

#include <vector>

namespace attnviz::engine {

// The part every family's forwardBatch shares: one trace per image of `batch` [N, C, H, W]
// with its input [1, C, H, W] and logits [1, classes] (when defined) on the CPU, and an
// equal share of the pass's `seconds`. The family adds its own intermediates.
std::vector<Trace> batchTraces(const torch::Tensor& batch, const torch::Tensor& logits, double seconds);

// Image n's share of a batch's residual norms: [N, P] -> [1, P] each.
std::vector<ResidualNorms> residualsOf(const std::vector<ResidualNorms>& batch, int64_t n);

}  // namespace attnviz::engine
