#pragma once

// SmoothGrad, the `smoothgrad` method: the input gradient averaged over noisy copies of
// the input (Smilkov, Thorat, Kim, Viégas & Wattenberg, "SmoothGrad: removing noise by
// adding noise", 2017).

#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace attnviz::engine {

// The noise of n copies of the input [1, C, H, W]: [n, C, H, W] on the input's device.
using NoiseSource = std::function<torch::Tensor(int64_t n)>;

// Gaussian noise N(0, σ²), σ = level · (max x − min x) over the input [1, C, H, W] (the
// paper's "noise level", sec. 3.2, on the normalised input the model sees; Captum's
// `stdevs` is σ itself), drawn on the CPU from a generator seeded with `seed`, so equal
// requests give equal maps on any device.
NoiseSource gaussianNoise(const torch::Tensor& input, double level, uint64_t seed);

// (1/S) Σ_s |∂y_c/∂x| at x + noise_s, s = 1..S (`samples` draws from `noise`, in batches):
// the mean absolute input gradient of the class logit y_c (before the softmax), as Captum's
// NoiseTunnel(Saliency).attribute(nt_type="smoothgrad") computes it (Saliency takes the
// absolute value by default). [C, H, W] float32 on the CPU. The class must be given.
torch::Tensor smoothGrad(const Classifier& model, const torch::Tensor& input, int classIndex, int samples,
                         const NoiseSource& noise);

}  // namespace attnviz::engine
