#pragma once

#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// One model of a layer-similarity study, under the role it plays ("vit", "cnn").
struct CkaModel {
    std::string role;
    const Classifier* model = nullptr;
};

// Linear CKA between every layer of one model (rows) and every layer of another or
// the same model (columns).
struct CkaMatrix {
    std::string rowRole, colRole;
    std::vector<std::string> rowLayers, colLayers;
    torch::Tensor values;  // [rows, cols] float32; NaN in the rows / columns of degenerate layers
    // Per row / column layer: true where the layer was constant over the images, so its
    // CKA with anything is undefined (CkaAccumulator::degenerateRows).
    std::vector<bool> rowDegenerate, colDegenerate;
};

struct CkaStudy {
    std::size_t imagesUsed = 0;
    int batchSize = 0;
    // Each model with itself, then each pair across models (rows: the earlier model).
    std::vector<CkaMatrix> matrices;
    // Per model role, in the order of the models: the names of its degenerate layers
    // (empty when every layer varied over the images).
    std::vector<std::pair<std::string, std::vector<std::string>>> degenerateLayers;
};

// The degenerate layers in one line, "vit: block 3, block 4; cnn: layer4.1", or "" when
// there are none.
std::string degenerateSummary(const CkaStudy& study);

// Images [first, first + count) preprocessed for `model`, as [count, C, H, W].
using CkaBatchLoader = std::function<torch::Tensor(std::size_t first, std::size_t count, const CkaModel& model)>;
// Told the images done after each minibatch; returning false stops the study.
using CkaProgress = std::function<bool(std::size_t done, std::size_t total)>;

// How many of `available` images the study uses: the unbiased estimator needs more
// than 3 images per minibatch, so a shorter last minibatch is left out.
std::size_t ckaUsableImages(std::size_t available, int batchSize);

// Runs every model once per minibatch of `batchSize` images (one forward pass each)
// and accumulates minibatch CKA (Nguyen et al. 2021) for every pair of models,
// including each model with itself. Throws EngineError when fewer than 4 images are
// usable, and when `progress` asks to stop.
CkaStudy compareLayers(const std::vector<CkaModel>& models, std::size_t images, int batchSize,
                       const CkaBatchLoader& load, const CkaProgress& progress = {});

}  // namespace attnviz::engine
