#pragma once

#include "core/engine/model/classifier.h"
#include "core/engine/model/trace.h"
#include "core/engine/study/cka.h"

#include <torch/torch.h>

#include <cstddef>
#include <functional>
#include <memory>

namespace attnviz::engine {

// Spatial localisation (Raghu et al. 2021): over a set of images, the linear
// CKA between the last layer's representation at each position and the input's at every
// position. A model that still knows where each token came from has its largest
// similarity on the diagonal.
//
// ViT: the last block's patch tokens (before the final norm) against the patch
// embeddings entering block 0 (position embedding added). CNN: the last feature map's
// pixels against the input cut into the same grid of patches (input resized to a
// multiple of the grid first when it is not one), each patch's pixels flattened.
struct Localization {
    int gridH = 0, gridW = 0;
    std::size_t images = 0;
    // [P, P] float32, P = gridH * gridW: row i the output position, column j the input
    // position. NaN where a position's representation did not vary over the images.
    torch::Tensor similarity;
    // Diagonal hits: output positions whose most similar input position is their own.
    int diagonalHits = 0;
    double meanDiagonal = 0, meanOffDiagonal = 0;  // over the defined entries
};

// The two representations of one minibatch: [n, P, D_out] and [n, P, D_in].
struct PositionPair {
    torch::Tensor outputs, inputs;
    int gridH = 0, gridW = 0;
};

// From a ViT's or a CNN's Activations of one minibatch and its input [n, C, H, W].
// Throws EngineError for a model without spatial tokens or feature maps.
PositionPair localizationPair(const Activations& activations, const torch::Tensor& input);

// Minibatch CKA (the same unbiased estimator as the layer study) summed over minibatches
// of more than 3 images each.
class LocalizationAccumulator {
public:
    void add(const PositionPair& pair);
    std::size_t images() const { return m_images; }
    // Throws EngineError before the first minibatch.
    Localization result() const;

private:
    std::unique_ptr<CkaAccumulator> m_cka;
    int m_gridH = 0, m_gridW = 0;
    std::size_t m_images = 0;
};

// Images [first, first + count) preprocessed for the model, [count, C, H, W].
using LocalizationLoader = std::function<torch::Tensor(std::size_t first, std::size_t count)>;
// Told the images done after each minibatch.
using LocalizationProgress = std::function<void(std::size_t done, std::size_t total)>;

// Runs `model` once per minibatch of `batchSize` (> 3) over ckaUsableImages(images,
// batchSize) images and accumulates the localisation. Throws EngineError when fewer than
// 4 images are usable.
Localization localize(const Classifier& model, std::size_t images, int batchSize, const LocalizationLoader& load,
                      const LocalizationProgress& progress = {});

}  // namespace attnviz::engine
