#pragma once

// Attention rollout (Abnar & Zuidema 2020), the `rollout` method, and the rolling out
// that gradient rollout, generic attention and transformer attribution share.

#include "core/engine/methods/attentionmaps.h"

#include <torch/torch.h>

#include <vector>

namespace attnviz::engine {

struct RolloutOptions {
    HeadFusion fusion = HeadFusion::Mean;
    double discardRatio = 0.0;   // drop this fraction of the smallest weights per layer
    int startLayer = 0;          // blocks before it are skipped
    bool clampNegative = false;  // set fused weights below 0 to 0 (gradient rollout)
};

// The image row (CLS's, or the mean of the patch rows) of a product of token matrices
// M_last ... M_first, computed from the left, v <- v M, so that one [T, T] matrix at a time
// is needed and each costs T² instead of the T³ of a matrix product. Give the matrices
// from the last block to the first. float64 throughout.
class ImageRowProduct {
public:
    explicit ImageRowProduct(const TokenLayout& layout);
    void multiply(const torch::Tensor& matrix);              // v <- v M, M [T, T]
    void multiplyIdentityPlus(const torch::Tensor& matrix);  // v <- v (I + M)
    torch::Tensor map() const;                               // [gridH, gridW] float32

private:
    TokenLayout m_layout;
    torch::Tensor m_row;  // [1, T] float64
};

// One block's rollout matrix from its attention (or gradient-weighted attention) per
// head [H, T, T]: rows_normalised(0.5 fused + 0.5 I) after clamping and discarding as
// `options` say; discarding never removes the CLS column. [T, T] float64
torch::Tensor rolloutMatrix(const torch::Tensor& perHead, const TokenLayout& layout, const RolloutOptions& options);

// Attention rollout (Abnar & Zuidema 2020): R = Â_L ... Â_start with Â from rolloutMatrix.
// Returns R's image row over the patches, [gridH, gridW]; one block's matrix is computed
// at a time from the record.
torch::Tensor attentionRollout(const AttentionRecord& attention, const TokenLayout& layout,
                               const RolloutOptions& options = {});
// The same from whole matrices [H, T, T] per block.
torch::Tensor attentionRollout(const std::vector<torch::Tensor>& attentions, const TokenLayout& layout,
                               const RolloutOptions& options = {});

// Throws EngineError unless `options` are valid for `depth` blocks.
void checkRolloutOptions(const RolloutOptions& options, int depth);

}  // namespace attnviz::engine
