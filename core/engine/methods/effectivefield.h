#pragma once

// The effective receptive field (Luo et al. 2016): the `erf` method, and the size of a
// field as one number for the plots.

#include "core/engine/methods/view.h"
#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

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
    std::string layer;     // CNN: "conv1", "maxpool", "layer1", ...; ViT: the block, "0", "1", ...
    int row = 0, col = 0;  // the unit: the centre of the layer's grid
    double size = 0;       // effectiveFieldSize at 95% of the mass, pixels of the model input
};

// The effective field size of the centre unit of every CNN stage (stem and stage
// outputs) or every ViT block, on one image [1, C, H, W]: one forward pass and one
// backward per layer through the kept graph.
std::vector<EffectiveFieldSize> effectiveFieldSizes(const Classifier& model, const torch::Tensor& input);

// The effective receptive field `erf` [H, W] (over the model input) of unit (row, col) of a
// CNN layer as a one-cell view "erf", its layer labelled "<layer> @row,col".
ViewMaps effectiveFieldView(const torch::Tensor& erf, const std::string& layer, int row, int col);

}  // namespace attnviz::engine
