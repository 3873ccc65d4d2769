#pragma once

// Generic attention-model explainability, the `generic-attention` method.

#include "core/engine/methods/gradientsupport.h"
#include "core/engine/model/classifier.h"

#include <torch/torch.h>

namespace attnviz::engine {

// Generic attention-model explainability (Chefer, Gur & Wolf, ICCV 2021):
// per block A_bar = mean_h((dscore/dA ⊙ A)+), R <- R + A_bar R from R = I over the
// blocks from `startLayer`; the image row of R over the patches, one map [gridH, gridW].
ClassMaps genericAttention(const Classifier& vit, const torch::Tensor& input, int classIndex, int startLayer = 0);

}  // namespace attnviz::engine
