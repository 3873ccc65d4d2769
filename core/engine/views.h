#pragma once

#include "core/engine/attentionmaps.h"
#include "core/engine/classifier.h"

#include <torch/torch.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// What the user asks to see of one model on one image. Methods (docs/methods.md):
//   attention                ViT: CLS row (or the row of the `query` patch) of a block's attention;
//                            the attention pool's row (kPoolLayer) for a SigLIP
//   rollout                  ViT: attention rollout (Abnar & Zuidema) from block `layer` on, heads fused by `head`
//   grad-rollout             ViT: vit-explain's gradient rollout of `classIndex` from block `layer` on
//   generic-attention        ViT: Chefer et al. ICCV 2021 relevance of `classIndex` from block `layer` on
//   transformer-attribution  ViT: Chefer et al. CVPR 2021 (LRP and attention gradients) from block `layer` on
//   gradcam, gradcam++, xgradcam, hirescam, layercam, eigencam, scorecam, ablationcam
//                            ViT or CNN: the CAM of `classIndex` at `layer` (a ViT block reads
//                            `vitCamInput`: its norm1 output or the residual stream entering it)
// The attention view's layer for a SigLIP-style attention-pooling head: its latent
// query's attention over the last block's tokens, the map that stands for CLS attention.
inline constexpr const char* kPoolLayer = "pool";

struct ViewRequest {
    std::string method = "attention";
    // ViT block ("3", "-1" = last, "all"; attention also kPoolLayer, the default with a
    // pool); CNN feature ("layer4", "all"); "" = default
    std::string layer;
    std::string head = "mean";  // a head index, mean | max | min, or all (attention); fusion (rollouts)
    int classIndex = -1;        // gradient methods; < 0: the top-1 class
    std::optional<std::pair<int, int>> query;  // patch row, col (attention only)
    double discardRatio = 0.0;                 // rollout, grad-rollout
    std::string vitCamInput = "norm1";         // ViT CAMs: "norm1" | "residual"
};

// The maps of one request: a grid of rows (layers) by columns (heads), each map over
// the model's own grid (patches or feature-map cells).
struct ViewMaps {
    std::string method;
    std::optional<int> classIndex;    // gradient methods: the class explained
    std::vector<std::string> layers;  // row labels: "3", "layer4", "from 0"
    std::vector<std::string> heads;   // column labels: "mean", "0", ...
    std::string camInput;             // ViT CAMs: which tokens were read, "norm1" | "residual"
    torch::Tensor maps;               // [layers, heads, h, w] float32 on the CPU
};

// Names everything a request asks of the model, equal for equal requests: the key of a
// window's cache of views already computed.
std::string viewRequestKey(const ViewRequest& request);

const std::vector<std::string>& viewMethodNames();
// Whether a method needs passes of its own (the model), not only the cached trace.
bool viewNeedsModel(const std::string& method);
// Whether a method rolls attention out over the blocks from a start block (`layer`).
bool viewRollsOut(const std::string& method);
// Whether a method fuses the heads (`head` = mean | max | min): rollout, grad-rollout.
bool viewFusesHeads(const std::string& method);
// Whether a method is available for a model family ("attention" is not, for a CNN).
bool viewSupports(const std::string& method, Family family);

// The effective receptive field `erf` [H, W] (over the model input) of unit (row, col) of a
// CNN layer as a one-cell view "erf", its layer labelled "<layer> @row,col".
ViewMaps effectiveFieldView(const torch::Tensor& erf, const std::string& layer, int row, int col);

// Derives the maps from the cached trace; the class-specific methods run their own
// passes of trace.input (the [1, C, H, W] the trace came from).
// Throws EngineError with a one-line reason for a method or option the model lacks.
ViewMaps computeView(const Classifier& model, const Trace& trace, const ViewRequest& request);

}  // namespace attnviz::engine
