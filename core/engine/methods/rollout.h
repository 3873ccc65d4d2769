#pragma once

// Attention rollout (Abnar & Zuidema 2020), the `rollout` method, and the rolling out
// that gradient rollout shares.

#include "core/engine/methods/attentionmaps.h"

#include <torch/torch.h>

#include <vector>

namespace attnviz::engine {

struct RolloutOptions {
    HeadFusion fusion = HeadFusion::Mean;
    double discardRatio = 0.0;   // drop this fraction of the smallest weights per layer
    int startLayer = 0;          // blocks before it are skipped
    bool clampNegative = false;  // set fused weights below 0 to 0 (gradient rollout)
};

// Attention rollout (Abnar & Zuidema 2020): per block Â = rows_normalised(0.5 fused + 0.5 I),
// R = Â_L ... Â_start. Returns R's CLS row (or mean patch row) over the patches,
// [gridH, gridW]. Discarding never removes the CLS column.
torch::Tensor attentionRollout(const std::vector<torch::Tensor>& attentions, const TokenLayout& layout,
                               const RolloutOptions& options = {});

}  // namespace attnviz::engine
