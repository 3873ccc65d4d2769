#pragma once

// The feature maps the methods that compare features read (similarity, pca): a ViT block's
// patch tokens laid on their grid, or a CNN stage's output.

#include "core/engine/methods/view.h"
#include "core/engine/model/classifier.h"

#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// The grids [C, h, w] (float32, CPU) the request's layer names, each with its row label: a
// ViT's blocks (default the last; all) as their output tokens, the residual stream after the
// block, the last one's before the final norm, from one pass without gradients; a CNN's
// stages (default the last; all) as the trace keeps them. Throws EngineError for the
// attention pool or a CNN layer that is not a stage.
std::vector<std::pair<std::string, torch::Tensor>> featureGrids(const Classifier& model, const Trace& trace,
                                                                const LayerSelector& layer);

}  // namespace attnviz::engine
