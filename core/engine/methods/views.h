#pragma once

#include "core/engine/methods/attentionmaps.h"
#include "core/engine/methods/cam.h"
#include "core/engine/model/classifier.h"

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
// The methods above, named as on the command line (viewMethodName), and the effective
// receptive field of a CNN unit ("erf", made by effectiveFieldView, not computeView).
enum class ViewMethod {
    Attention,
    Rollout,
    GradRollout,
    GenericAttention,
    TransformerAttribution,
    GradCam,
    GradCamPlusPlus,
    XGradCam,
    HiResCam,
    LayerCam,
    EigenCam,
    ScoreCam,
    AblationCam,
    EffectiveField,
};

std::string viewMethodName(ViewMethod method);  // "attention", "gradcam++", "erf", ...
// Throws EngineError naming computeView's methods for a name that is none of them (or "erf").
ViewMethod viewMethodFromName(const std::string& name);
// computeView's methods in the order of docs/methods.md (without EffectiveField).
const std::vector<ViewMethod>& viewMethods();
std::optional<CamMethod> camMethodOf(ViewMethod method);

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

// The attention view's layer for a SigLIP-style attention-pooling head: its latent
// query's attention over the last block's tokens, the map that stands for CLS attention.
inline constexpr const char* kPoolLayer = "pool";

struct ViewRequest {
    ViewMethod method = ViewMethod::Attention;
    // ViT block ("3", "-1" = last, "all"; attention also kPoolLayer, the default with a
    // pool); CNN feature ("layer4", "all"); "" = default
    std::string layer;
    HeadChoice head;  // any (attention); a fusion (rollouts); the mean (the others, which have no heads)
    int classIndex = -1;        // gradient methods; < 0: the top-1 class
    // attention: the query patch (row, col); EffectiveField (not computeView's): the unit
    std::optional<std::pair<int, int>> query;
    double discardRatio = 0.0;                 // rollout, grad-rollout
    std::string vitCamInput = "norm1";         // ViT CAMs: "norm1" | "residual"
};

// The maps of one request: a grid of rows (layers) by columns (heads), each map over
// the model's own grid (patches or feature-map cells).
struct ViewMaps {
    ViewMethod method = ViewMethod::Attention;
    std::optional<int> classIndex;    // gradient methods: the class explained
    std::vector<std::string> layers;  // row labels: "3", "layer4", "from 0"
    std::vector<std::string> heads;   // column labels: "mean", "0", ...
    std::string camInput;             // ViT CAMs: which tokens were read, "norm1" | "residual"
    torch::Tensor maps;               // [layers, heads, h, w] float32 on the CPU
};

// Names everything a request asks of the model, equal for equal requests: the key of a
// window's cache of views already computed.
std::string viewRequestKey(const ViewRequest& request);

// Whether a method needs passes of its own (the model), not only the cached trace.
bool viewNeedsModel(ViewMethod method);
// Whether a method rolls attention out over the blocks from a start block (`layer`).
bool viewRollsOut(ViewMethod method);
// Whether a method fuses the heads (`head` = mean | max | min): rollout, grad-rollout.
bool viewFusesHeads(ViewMethod method);
// Whether a method is available for a model family (attention is not, for a CNN; the
// effective field is a CNN unit's).
bool viewSupports(ViewMethod method, Family family);

// The effective receptive field `erf` [H, W] (over the model input) of unit (row, col) of a
// CNN layer as a one-cell view "erf", its layer labelled "<layer> @row,col".
ViewMaps effectiveFieldView(const torch::Tensor& erf, const std::string& layer, int row, int col);

// Derives the maps from the cached trace; the class-specific methods run their own
// passes of trace.input (the [1, C, H, W] the trace came from).
// Throws EngineError with a one-line reason for a method or option the model lacks.
ViewMaps computeView(const Classifier& model, const Trace& trace, const ViewRequest& request);

// Views of one method and class side by side, as one grid: along Layers the rows of each
// (their head labels must agree), along Heads the columns (their layers must agree). Maps
// of different sizes are brought to the finest grid. Throws EngineError otherwise.
enum class ViewAxis { Layers, Heads };
ViewMaps joinViews(const std::vector<ViewMaps>& parts, ViewAxis axis);

}  // namespace attnviz::engine
