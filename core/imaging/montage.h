#pragma once

#include "core/imaging/colormap.h"
#include "core/imaging/overlay.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::imaging {

// Tiles (CV_8UC3 RGB; cells take the largest) in rows of `columns`, each under its
// caption, on white with a small gap: head grids and layer x head montages.
cv::Mat montage(const std::vector<cv::Mat>& tiles, int columns, const std::vector<std::string>& labels);

// A matrix [rows, cols] (e.g. CKA) as a heat map of `cell`-pixel squares with row
// labels on the left, column labels below (written upwards), a title and a colour bar.
cv::Mat renderMatrix(const torch::Tensor& matrix, const std::vector<std::string>& rowLabels,
                     const std::vector<std::string>& colLabels, const std::string& title, const MapRange& range,
                     Colormap colormap, int cell = 24);

}  // namespace attnviz::imaging
