#pragma once

// Occlusion, the `occlusion` method: how much the class score falls when a patch of the
// input is covered (Zeiler & Fergus, "Visualizing and Understanding Convolutional
// Networks", ECCV 2014, sec. 4.2).

#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <utility>

namespace attnviz::engine {

// The patch a request's window and stride settings name for an input of H × W pixels:
// 0 picks the default (a fourteenth of the shorter side, at least 1; half the window).
// Throws EngineError for a window larger than the input or a stride larger than the window.
std::pair<int, int> occlusionPatch(int window, int stride, int64_t height, int64_t width);

// As Captum's Occlusion.attribute with sliding_window_shapes (C, window, window), strides
// (C, stride, stride) and baselines 0: a window at offsets 0, s, 2s, ... along each axis,
// ceil((H - w) / s) + 1 of them (the last cut at the border), covers all channels with 0
// in the normalised input (the dataset's mean colour, the grey square of Zeiler & Fergus),
// and every pixel gets the mean, over the windows that cover it, of y_c(x) - y_c(covered)
// for the class logit y_c (before the softmax). The covered copies run in batches.
// [H, W] float32 on the CPU (equal over channels); the class must be given.
torch::Tensor occlusion(const Classifier& model, const torch::Tensor& input, int classIndex, int window, int stride);

}  // namespace attnviz::engine
