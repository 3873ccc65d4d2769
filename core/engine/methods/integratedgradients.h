#pragma once

// Integrated gradients, the `integrated-gradients` method: the attribution of each input
// value along a straight path from a baseline image to the input.

#include "core/engine/methods/view.h"
#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace attnviz::engine {

// Gauss–Legendre points and weights on [0, 1], points ascending: numpy's leggauss(n) on
// [-1, 1] mapped by α = (1 + x) / 2 and w / 2, as Captum's default approximation
// ("gausslegendre") takes them. Float64.
std::pair<std::vector<double>, std::vector<double>> gaussLegendre(int n);

// Where the path starts, for a preprocessed input [N, C, H, W] on its device:
// Black: the image of black pixels, (0 - mean) / std per channel;
// Blur: the input blurred by a Gaussian of σ = H/16 and W/16 pixels along each axis,
//   kernel 2·ceil(3σ) + 1 taps, reflected at the borders (torchvision's gaussian_blur;
//   the normalisation is affine per channel, so blurring after it is the same).
torch::Tensor pathBaseline(const torch::Tensor& input, PathBaseline baseline, const Preprocessing& preprocessing);

struct InputAttribution {
    int classIndex = -1;
    torch::Tensor attributions;  // [C, H, W] float32 on the CPU, signed
    torch::Tensor baseline;      // [C, H, W] float32 on the CPU: where the path started
};

// Integrated gradients (Sundararajan, Taly & Yan, ICML 2017) of the class logit y_c
// (before the softmax; the class must be given) at the input [1, C, H, W], as Captum's
// IntegratedGradients.attribute computes it with its default method:
//   attr = (x - x0) ⊙ Σ_k w_k ∂y_c/∂x (x0 + α_k (x - x0)),  (α_k, w_k) = gaussLegendre(steps),
// the path's points run through the model in batches. Completeness: Σ attr ≈ y_c(x) - y_c(x0).
InputAttribution integratedGradients(const Classifier& model, const torch::Tensor& input, int classIndex, int steps,
                                     PathBaseline baseline);

}  // namespace attnviz::engine
