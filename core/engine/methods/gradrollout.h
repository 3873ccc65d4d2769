#pragma once

// Gradient attention rollout, the `grad-rollout` method.

#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/rollout.h"
#include "core/engine/model/classifier.h"

#include <torch/torch.h>

namespace attnviz::engine {

// Gradient attention rollout as vit-explain defines it (Gildenblat, vit_grad_rollout.py):
// per block the heads of A ⊙ dscore/dA are fused (`options.fusion`, vit-explain: mean),
// negatives set to 0, the smallest `discardRatio` of the weights dropped (never the CLS
// column), then Â = rows_normalised(0.5 fused + 0.5 I) and R = Â_L ... Â_start, as in
// attention rollout. vit-explain's own code divides by the row sums along the wrong
// axis and pairs each block's attention with the gradient of the block in reverse
// order; both are done as the method describes here (docs/methods.md).
ClassMaps gradientRollout(const Classifier& vit, const torch::Tensor& input, int classIndex,
                          const RolloutOptions& options = {});

}  // namespace attnviz::engine
