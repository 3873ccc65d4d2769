#pragma once

#include "core/engine/trace.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

// Unbiased HSIC estimator (Song et al. 2012) of two Gram matrices [n, n], n > 3.
double unbiasedHsic(const torch::Tensor& k, const torch::Tensor& l);

// Linear CKA (Kornblith et al. 2019) of one batch of representations X [n, p] and
// Y [n, q]: ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) on centred features.
double linearCka(const torch::Tensor& x, const torch::Tensor& y);

// Minibatch linear CKA between every row layer and every column layer (Nguyen et al.
// 2021): the unbiased HSIC of each pair of Gram matrices is summed over minibatches,
// so hundreds of images never have to be in memory at once.
class CkaAccumulator {
public:
    CkaAccumulator(int rows, int cols);

    // One minibatch of the same n > 3 images through both sides; each layer's
    // representation is [n, ...] and is flattened per image.
    void add(const std::vector<torch::Tensor>& rowLayers, const std::vector<torch::Tensor>& colLayers);
    int batches() const { return m_batches; }
    // [rows, cols] float32 in [0, 1] up to estimation noise.
    torch::Tensor result() const;

private:
    torch::Tensor m_cross;    // [rows, cols]: sum of HSIC(K_i, L_j)
    torch::Tensor m_rowSelf;  // [rows]: sum of HSIC(K_i, K_i)
    torch::Tensor m_colSelf;  // [cols]
    int m_batches = 0;
};

// The layers CKA compares, from one batch forward: a ViT's block outputs ("block 0",
// ...) or a CNN's conv1, maxpool and residual block outputs ("layer1.0", ...).
struct LayerRepresentations {
    std::vector<std::string> names;
    std::vector<torch::Tensor> values;  // [n, ...], detached
};
LayerRepresentations ckaLayers(const Activations& activations);

}  // namespace attnviz::engine
