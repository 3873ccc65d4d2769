#pragma once

#include "core/engine/methods/methodtable.h"
#include "core/engine/model/modelspec.h"
#include "core/imaging/overlay.h"
#include "core/io/pngtext.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <string>

namespace attnviz::imaging {

// Per map (min-max of each map), or per layer: jointly over the heads of a layer, so
// that heads can be compared with each other.
enum class Normalization { PerMap, PerLayer };
Normalization normalizationFromName(const std::string& name);  // "map" | "layer"
std::string normalizationName(Normalization normalization);

struct ViewImageOptions {
    OverlayOptions overlay;
    Normalization normalization = Normalization::PerMap;
    double keepMass = 1.0;  // keep the cells holding this fraction of each map's mass
    int minSide = 224;      // smaller inputs (e.g. 28x28) are enlarged, pixel for pixel
};

// The model's input as a picture: mean/std undone, one channel shown as gray.
// input: [1, C, H, W] -> CV_8UC3 RGB, H x W.
cv::Mat inputPicture(const torch::Tensor& input, const engine::Preprocessing& preprocessing);

// The picture enlarged by a whole factor (nearest, so each input pixel stays a crisp
// square) until its shorter side is at least minSide.
cv::Mat enlargePicture(const cv::Mat& picture, int minSide);

// The whole original image for display: scaled by a whole factor (nearest) when its
// shorter side is below minSide, down (area averaging) when its longer side is above
// maxSide.
cv::Mat displayPicture(const cv::Mat& rgb, int minSide, int maxSide);

// A view as one image: a single overlay with its colour bar, or a grid of captioned
// overlays with one row per layer and one column per head (one row when a view has a
// single head per layer).
cv::Mat renderView(const cv::Mat& picture, const engine::ViewMaps& view, const ViewImageOptions& options);

// What an exported PNG says about itself (its tEXt chunks). image: the input image's
// path, none for a tensor input.
io::TextEntries viewDescription(const std::string& model, const engine::ViewMaps& view, const std::string& className,
                                const ViewImageOptions& options, const std::string& image = {});

}  // namespace attnviz::imaging
