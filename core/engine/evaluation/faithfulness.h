#pragma once

#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace attnviz::engine {

// Deletion and insertion (Petsiuk, Das & Saenko, BMVC 2018, "RISE"; docs/methods.md):
// how fast the class probability falls when the most salient pixels are removed first,
// and how fast it rises when they are revealed first on a substrate.
enum class CausalMode { Deletion, Insertion };

// What replaces a removed pixel (deletion) or what a pixel shows before it is revealed
// (insertion): RISE's blurred copy of the input (its `gkern(11, 5)`), or zeros of the
// normalised input (the dataset's mean colour; RISE's evaluation deletes to zeros).
enum class Substrate { Blur, Zero };

std::string substrateName(Substrate substrate);  // "blur" | "zero"
// Throws EngineError for a name that is neither.
Substrate substrateFromName(const std::string& name);

struct FaithfulnessOptions {
    int steps = 32;  // the curve has steps + 1 points (fewer when H·W < steps)
    int batch = 16;  // perturbed inputs per forward pass
    Substrate deletionSubstrate = Substrate::Blur;
    Substrate insertionSubstrate = Substrate::Blur;
};

struct CausalCurve {
    std::vector<double> fractions;      // of the input's pixels replaced so far, 0 .. 1
    std::vector<double> probabilities;  // softmax probability of the class at each point
    double auc = 0.0;                   // causalArea(probabilities)
};

struct Faithfulness {
    int classIndex = 0;
    CausalCurve deletion;
    CausalCurve insertion;
};

// RISE's area: the trapezoid rule over evenly spaced points on [0, 1],
// (Σp − p₀/2 − pₙ/2) / n. Throws EngineError for fewer than two points.
double causalArea(const std::vector<double>& probabilities);

// RISE's blurred substrate of an input [N, C, H, W]: each channel convolved with an
// 11 × 11 Gaussian of σ = 5 (scipy's gaussian_filter of a centred delta, as RISE's
// gkern builds it), zero padded.
torch::Tensor blurredSubstrate(const torch::Tensor& input);

// A map [h, w] at the input's H × W: itself when it is that size, else resized
// bilinearly (align_corners false, as the overlays are). Throws EngineError for a map
// that is not 2-D or is larger than the input.
torch::Tensor inputSizedSaliency(const torch::Tensor& saliency, int64_t height, int64_t width);

// Called after each batch of forward passes with (passes done, passes in all).
using FaithfulnessProgress = std::function<void(int, int)>;

// One curve. input [1, C, H, W] (preprocessed); saliency [h, w], resized bilinearly to
// H × W when smaller; pixels are taken in order of decreasing saliency (ties: row-major
// order). classIndex >= 0. Batched: ceil((steps + 1) / batch) forward passes of the
// model. Stops between batches when the current cancellation scope says so.
CausalCurve causalCurve(const Classifier& model, const torch::Tensor& input, const torch::Tensor& saliency,
                        int classIndex, CausalMode mode, const FaithfulnessOptions& options = {},
                        const FaithfulnessProgress& progress = {});

// Both curves of one map of one image. classIndex < 0: the class the model predicts for
// the input (RISE's choice). Throws EngineError for a model without a classifier head.
Faithfulness faithfulness(const Classifier& model, const torch::Tensor& input, const torch::Tensor& saliency,
                          int classIndex = -1, const FaithfulnessOptions& options = {},
                          const FaithfulnessProgress& progress = {});

}  // namespace attnviz::engine
