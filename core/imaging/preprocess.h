#pragma once

#include "core/engine/model/modelspec.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

namespace attnviz::imaging {

// The geometry of a preprocessed input inside the original image, so that maps
// over the model input can be drawn back onto the picture.
struct CropBox {
    double x = 0, y = 0, width = 0, height = 0;  // in original image pixels
};

struct PreparedInput {
    torch::Tensor tensor;  // [1, C, H, W] float32, normalised
    CropBox crop;          // the part of the image the model sees
};

// Resize (shorter side to size / crop_pct; non-square sizes per axis), center crop,
// scale to [0, 1], normalise with mean/std; grayscale models get luminance.
PreparedInput preprocessImage(const cv::Mat& rgb, const engine::Preprocessing& p);

}  // namespace attnviz::imaging
