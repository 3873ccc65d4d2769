#pragma once

// Feature PCA, the `pca` method: the patch features of a block (or a CNN stage) on their
// first principal components, shown as red, green and blue, as DINO's and DINOv2's
// figures show them (Oquab et al. 2023, fig. 1 and 9).

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace attnviz::engine {

// The scores [P, k] of rows x [P, C] on their first k principal components (x centred by
// its column means, then right singular vectors, float64 SVD), each component's sign
// chosen so that its score of largest magnitude is positive (scikit-learn's svd_flip);
// components past the rank of x score 0.
torch::Tensor principalScores(const torch::Tensor& x, int k);

// The centre [C] and the first k principal axes [C, k] of rows x [P, C] (float64 SVD), each
// axis signed as principalScores signs it; axes past the rank of x are 0. principalScores
// is (x - mean) @ axes.
std::pair<torch::Tensor, torch::Tensor> principalAxes(const torch::Tensor& x, int k);

struct FeaturePca {
    torch::Tensor rgb;         // [3, h, w] in [0, 1], 0 on the background
    torch::Tensor foreground;  // [h, w] bool
};

// DINOv2's recipe for features [C, h, w]: a first PCA over every position; its first
// component, signed so that most of the grid's border scores negative, parts the
// foreground (score > 0, the paper's "patches with a negative score of the first PCA
// component" removed) from the background; a second PCA over the foreground alone gives
// the three colours, each min-max scaled to [0, 1] over the foreground. Fewer than three
// foreground positions: every position counts as foreground.
FeaturePca featurePca(const torch::Tensor& features);

// The recipe above fitted once over the features [C, h, w] of many images (their
// positions pooled; the border rule over all their borders; the colours' ranges over all
// their foreground) and applied to each: a colour then names the same part in every image,
// as in DINOv2's figures of several images. featurePca(f) is the basis of f alone applied
// to f.
struct FeatureBasis {
    torch::Tensor firstMean, firstAxis;  // [C]: the first PCA, signed so that the background scores <= 0
    bool allForeground = false;          // fewer than three foreground positions were fitted
    torch::Tensor mean, axes;            // [C], [C, 3]: the second PCA, over the foreground
    torch::Tensor lo, span;              // [3]: each colour's range over the fitted foreground
};
FeatureBasis fitFeatureBasis(const std::vector<torch::Tensor>& features);
// Colours outside the fitted range are clamped to [0, 1].
FeaturePca applyFeatureBasis(const FeatureBasis& basis, const torch::Tensor& features);

}  // namespace attnviz::engine
