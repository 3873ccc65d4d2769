#pragma once

// What the user asks to see of one model on one image (ViewRequest) and what comes back
// (ViewMaps), and the pieces the methods' compute functions share. Which methods exist,
// and what each one takes, is the method table's business (methodtable.h).

#include "core/engine/methods/attentionmaps.h"
#include "core/engine/methods/layerselector.h"
#include "core/engine/methods/methodlist.h"
#include "core/engine/methods/methodsettings.h"
#include "core/engine/model/trace.h"

#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

struct FeatureBasis;  // featurepca.h

// Which heads a view shows: one head, every head side by side, or all of them fused into
// one map (mean, max or min). Named "3", "all", "mean" | "max" | "min".
struct HeadChoice {
    enum class Kind { One, All, Fused };
    Kind kind = Kind::Fused;
    HeadFusion fusion = HeadFusion::Mean;  // Fused
    int index = 0;                         // One

    static HeadChoice one(int head) { return {Kind::One, HeadFusion::Mean, head}; }
    static HeadChoice all() { return {Kind::All, HeadFusion::Mean, 0}; }
    static HeadChoice fused(HeadFusion f) { return {Kind::Fused, f, 0}; }
    bool isFused() const { return kind == Kind::Fused; }
};
std::string headChoiceName(const HeadChoice& choice);
// Throws EngineError for a name that is none of a head index, all, mean, max and min.
HeadChoice headChoiceFromName(const std::string& name);

// Where a ViT CAM reads a block's tokens: the output of its norm1 (pytorch-grad-cam's
// target_layers=[blocks[i].norm1]) or the residual stream entering it (norm1's input).
enum class VitCamInput { Norm1Output, ResidualStream };
VitCamInput vitCamInputFromName(const std::string& name);  // "norm1" | "residual"; throws EngineError
std::string vitCamInputName(VitCamInput input);

// Where integrated gradients' path starts: a black image, or the input blurred (the
// choices of MethodSetting::Baseline, in their order).
enum class PathBaseline { Black, Blur };

struct ViewRequest {
    ViewMethod method = ViewMethod::Attention;
    // A ViT block (-1 the last) or every block, attention also the pool (its default with a
    // pool); a CNN layer by name or every one; the default: the method's (MethodLayer).
    LayerSelector layer;
    HeadChoice head;      // any (attention); a fusion (rollouts); the mean (the others, which have no heads)
    int classIndex = -1;  // gradient methods; < 0: the top-1 class
    // attention: the query patch (row, col); erf: the unit of `layer`
    std::optional<std::pair<int, int>> query;
    double discardRatio = 0.0;                           // rollout, grad-rollout
    VitCamInput vitCamInput = VitCamInput::Norm1Output;  // ViT CAMs
    MethodSettings settings;                             // the method's own (MethodInfo::settings), else defaults
    // pca: bases fitted over many images (featurepca.h), by layer name ("3", "layer4"); a
    // layer without one is fitted on its own image.
    std::shared_ptr<const std::map<std::string, FeatureBasis>> featureBases;
};

// The maps of one request: a grid of rows (layers) by columns (heads), each map over
// the model's own grid (patches or feature-map cells) or over its input.
struct ViewMaps {
    ViewMethod method = ViewMethod::Attention;
    std::optional<int> classIndex;    // gradient methods: the class explained
    std::vector<std::string> layers;  // row labels: "3", "layer4", "from 0"
    std::vector<std::string> heads;   // column labels: "mean", "0", ...
    std::string camInput;             // ViT CAMs: which tokens were read, "norm1" | "residual"
    // The columns are one picture's red, green and blue in [0, 1] (pca), drawn as they are
    // rather than through a colormap.
    bool rgb = false;
    torch::Tensor maps;  // [layers, heads, h, w] float32 on the CPU
    // The logit lens: per layer and cell, the most probable class (int64) and its
    // probability (float32), [layers, h, w] on the CPU; undefined for other methods.
    torch::Tensor topClasses, topProbabilities;
};

// Names everything a request asks of the model, equal for equal requests: the key of a
// window's cache of views already computed.
std::string viewRequestKey(const ViewRequest& request);

// Views of one method and class side by side, as one grid: along Layers the rows of each
// (their head labels must agree), along Heads the columns (their layers must agree). Maps
// of different sizes are brought to the finest grid. Throws EngineError otherwise.
enum class ViewAxis { Layers, Heads };
ViewMaps joinViews(const std::vector<ViewMaps>& parts, ViewAxis axis);

// For the compute functions:
// Per-head maps [H, h, w] -> the requested columns [K, h, w]; `labels` gets their names.
torch::Tensor selectHeads(const torch::Tensor& perHead, const HeadChoice& head, std::vector<std::string>& labels);
// The blocks a request's `layer` names: every block for all, else the one block
// (`fallback`, negative from the end, for the default). Throws EngineError.
std::vector<int> requestedBlocks(const LayerSelector& layer, int depth, int fallback);
// The first block of a rolled-out method: `layer`, 0 by default.
int rolloutStartBlock(const Trace& trace, const ViewRequest& request);
// One map [h, w] as a one-cell view labelled `layer` × `head`.
ViewMaps singleMapView(const torch::Tensor& map, const std::string& layer, const std::string& head);
// A map [h, w] rolled out from block `start` as a one-cell view "from <start>" × `head`,
// explaining `classIndex` (none for attention rollout). kRolledOutFrom: the label's prefix.
inline constexpr const char* kRolledOutFrom = "from ";
ViewMaps rolledOutView(const torch::Tensor& map, int start, const std::string& head,
                       std::optional<int> classIndex = std::nullopt);
// Maps [..., h, w] of different sizes brought to the finest grid (nearest neighbour); the
// same maps when they all share one size.
std::vector<torch::Tensor> onFinestGrid(std::vector<torch::Tensor> maps);

}  // namespace attnviz::engine
