#pragma once

#include "core/engine/model/modelspec.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <optional>
#include <string>

namespace attnviz::imaging {

// A ground-truth mask for the audit: a PNG whose non-zero pixels (in any channel) are
// the object. Throws ImageError with one line naming the file when it is missing, not a
// PNG, not `width` x `height` (the image's size), or has no non-zero pixel.
cv::Mat readMask(const std::string& path, int width, int height);

// Where the mask of an image is, if it has one: NAME.mask.png beside NAME.EXT, or, for a
// benchmark scene ROOT/SPLIT/CLASS/FILE, ROOT/masks/SPLIT/CLASS/FILE
// (benchmark/benchmarkwriter.h). The window looks here for the image on screen.
std::optional<std::string> findMaskFor(const std::string& imagePath);

// The mask brought to the model input exactly as its image is (resize, centre crop;
// preprocess.h): bool [H, W], a pixel on the object when at least half of what it
// samples is.
torch::Tensor maskForModel(const cv::Mat& mask, const engine::Preprocessing& p);

}  // namespace attnviz::imaging
