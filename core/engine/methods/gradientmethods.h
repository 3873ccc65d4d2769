#pragma once

#include "core/engine/methods/attentionmaps.h"
#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

// Maps of one class for several layers, all from one forward and one backward pass.
struct ClassMaps {
    int classIndex = 0;
    std::vector<torch::Tensor> maps;  // CPU float32, one per requested layer
};

// Generic attention-model explainability (Chefer, Gur & Wolf, ICCV 2021):
// per block A_bar = mean_h((dscore/dA ⊙ A)+), R <- R + A_bar R from R = I over the
// blocks from `startLayer`; the image row of R over the patches, one map [gridH, gridW].
ClassMaps genericAttention(const Classifier& vit, const torch::Tensor& input, int classIndex, int startLayer = 0);

// Gradient attention rollout as vit-explain defines it (Gildenblat, vit_grad_rollout.py):
// per block the heads of A ⊙ dscore/dA are fused (`options.fusion`, vit-explain: mean),
// negatives set to 0, the smallest `discardRatio` of the weights dropped (never the CLS
// column), then Â = rows_normalised(0.5 fused + 0.5 I) and R = Â_L ... Â_start, as in
// attention rollout. vit-explain's own code divides by the row sums along the wrong
// axis and pairs each block's attention with the gradient of the block in reverse
// order; both are done as the method describes here (docs/methods.md).
ClassMaps gradientRollout(const Classifier& vit, const torch::Tensor& input, int classIndex,
                          const RolloutOptions& options = {});

// Effective receptive field (Luo et al. 2016) of the unit at (row, col) of `layer`
// in that layer's own grid: |dz/dx| summed over input channels, where z is the sum of
// the unit's features (CNN: a feature name; ViT: a block, the patch token after it,
// "after the residual"). Each image's map is normalised to sum 1, then averaged over
// the batch [N, C, H, W]. Returns [H, W] on the CPU.
torch::Tensor effectiveReceptiveField(const Classifier& model, const torch::Tensor& batch, const std::string& layer,
                                      int row, int col);

// The size of an effective field as one number, comparable with a theoretical
// receptive field: the side, in pixels, of the smallest square centred on
// (centreRow, centreCol) that holds `mass` of the map [H, W] — 2r + 1 for the smallest
// Chebyshev radius r, clipped to the map (the larger of its clipped height and width),
// so it never exceeds the input. Centres are pixel indices, as ReceptiveField::start;
// a map on one pixel has size 1.
double effectiveFieldSize(const torch::Tensor& erf, double centreRow, double centreCol, double mass = 0.95);

struct EffectiveFieldSize {
    std::string layer;  // CNN: "conv1", "maxpool", "layer1", ...; ViT: the block, "0", "1", ...
    int row = 0, col = 0;  // the unit: the centre of the layer's grid
    double size = 0;       // effectiveFieldSize at 95% of the mass, pixels of the model input
};

// The effective field size of the centre unit of every CNN stage (stem and stage
// outputs) or every ViT block, on one image [1, C, H, W]: one forward pass and one
// backward per layer through the kept graph.
std::vector<EffectiveFieldSize> effectiveFieldSizes(const Classifier& model, const torch::Tensor& input);

}  // namespace attnviz::engine
