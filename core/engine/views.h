#pragma once

#include "core/engine/attentionmaps.h"
#include "core/engine/classifier.h"

#include <torch/torch.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// What the user asks to see of one model on one image. Methods:
//   attention     ViT: CLS row (or the row of the `query` patch) of a block's attention
//   rollout       ViT: attention rollout from block `layer` on, heads fused by `head`
//   grad-rollout  ViT: gradient-weighted rollout of `classIndex` from block `layer` on
//   gradcam       ViT or CNN: Grad-CAM of `classIndex` at `layer`
struct ViewRequest {
    std::string method = "attention";
    std::string layer;          // ViT block ("3", "-1" = last, "all"); CNN feature ("layer4", "all"); "" = default
    std::string head = "mean";  // a head index, mean | max | min, or all (attention only)
    int classIndex = -1;        // gradient methods; < 0: the top-1 class
    std::optional<std::pair<int, int>> query;  // patch row, col (attention only)
    double discardRatio = 0.0;                 // rollout
};

// The maps of one request: a grid of rows (layers) by columns (heads), each map over
// the model's own grid (patches or feature-map cells).
struct ViewMaps {
    std::string method;
    std::optional<int> classIndex;    // gradient methods: the class explained
    std::vector<std::string> layers;  // row labels: "3", "layer4", "from 0"
    std::vector<std::string> heads;   // column labels: "mean", "0", ...
    torch::Tensor maps;               // [layers, heads, h, w] float32 on the CPU
};

const std::vector<std::string>& viewMethodNames();

// Derives the maps from the cached trace; the gradient methods run one differentiable
// forward and one backward of `input` (the same [1, C, H, W] the trace came from).
// Throws EngineError with a one-line reason for a method or option the model lacks.
ViewMaps computeView(const Classifier& model, const Trace& trace, const ViewRequest& request);

}  // namespace attnviz::engine
