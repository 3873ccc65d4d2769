#pragma once

#include "core/engine/model/trace.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

// Unbiased HSIC estimator (Song et al. 2012) of two Gram matrices [n, n], n > 3.
// It is unchanged when a constant is added to every example's features (the linear
// kernel's Gram becomes K + 1aᵀ + a1ᵀ + c11ᵀ), so centred and uncentred features give
// the same value in exact arithmetic; only the centred Gram keeps it in floating point.
double unbiasedHsic(const torch::Tensor& k, const torch::Tensor& l);

// The same for every pair of a stack of Gram matrices: K [P, n, n], L [Q, n, n] ->
// [P, Q] float64, in three matrix products rather than P · Q calls.
torch::Tensor unbiasedHsicMatrix(const torch::Tensor& k, const torch::Tensor& l);

// Linear CKA (Kornblith et al. 2019) of one batch of representations X [n, p] and
// Y [n, q]: ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) on centred features.
double linearCka(const torch::Tensor& x, const torch::Tensor& y);

// The Gram matrix [n, n] (float64, CPU) of one minibatch's representation [n, ...]:
// each example flattened, the minibatch mean of every feature subtracted, products
// summed in float64 (in slices of the features, so a float64 copy of the whole
// representation never exists).
torch::Tensor centredGram(const torch::Tensor& representation);

// One minibatch's representations of several layers as the CKA accumulator reads them.
struct GramStack {
    torch::Tensor grams;      // [L, n, n] float64, CPU: Gram of the minibatch-centred features
    torch::Tensor magnitude;  // [L] float64: sum of the squared uncentred features
};
// Layers of any shapes [n, ...] (flattened per example).
GramStack gramStack(const std::vector<torch::Tensor>& layers);
// One representation per position, x [n, P, D]: the P Grams of x[:, p, :].
GramStack positionGramStack(const torch::Tensor& x);

// Minibatch linear CKA between every row layer and every column layer (Nguyen et al.
// 2021): the unbiased HSIC of each pair of Gram matrices is summed over minibatches,
// so hundreds of images never have to be in memory at once.
class CkaAccumulator {
public:
    CkaAccumulator(int rows, int cols);

    // One minibatch of the same n > 3 images through both sides; each layer's
    // representation is [n, ...] and is flattened per image.
    void add(const std::vector<torch::Tensor>& rowLayers, const std::vector<torch::Tensor>& colLayers);
    // The same from Grams already computed (same n on both sides).
    void addGrams(const GramStack& rows, const GramStack& cols);
    int batches() const { return m_batches; }
    // [rows, cols] float32 in [0, 1] up to estimation noise. The rows and columns of
    // degenerate layers are NaN.
    torch::Tensor result() const;
    // Per row / column layer: true where CKA is undefined because the layer did not
    // vary over the images: its summed self-HSIC is not positive, or its features'
    // spread about the minibatch means is below 1e-6 of their magnitude (RMS), i.e. at
    // float32 rounding level (a constant layer, e.g. a dead ReLU stage).
    std::vector<bool> degenerateRows() const;
    std::vector<bool> degenerateCols() const;

private:
    torch::Tensor m_cross;    // [rows, cols]: sum of HSIC(K_i, L_j)
    torch::Tensor m_rowSelf;  // [rows]: sum of HSIC(K_i, K_i)
    torch::Tensor m_colSelf;  // [cols]
    // Per layer, summed over minibatches: squared distance of the features from their
    // minibatch means (the centred Gram's trace), and their plain squared norm.
    torch::Tensor m_rowSpread, m_rowMagnitude;  // [rows]
    torch::Tensor m_colSpread, m_colMagnitude;  // [cols]
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
