#pragma once

#include "core/engine/methods/receptivefield.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

namespace attnviz::imaging {

// Marks drawn on a rendered view: an RGB image whose left part is the picture (a colour
// bar may follow on its right), in the picture's own pixels, 2 px wide, in one red.

// The rectangle [x0, x1) x [y0, y1).
void outlineRect(cv::Mat& image, double x0, double y0, double x1, double y1);
// Cell (row, col) of a gridH x gridW grid laid over `input`, the rectangle of the
// picture the model input covers (a ViT's query patch).
void outlineCell(cv::Mat& image, const cv::Rect2d& input, int gridH, int gridW, int row, int col);
// A box of model-input pixels (inclusive, engine::receptiveBox) of an input
// inputWidth pixels wide drawn over `input` (a CNN unit's theoretical field).
void outlineBox(cv::Mat& image, const engine::PixelBox& box, const cv::Rect2d& input, int inputWidth);
// The outline of a ground-truth mask, bool [H, W] of model-input pixels, drawn over
// `input`: white on a dark halo, so that it reads on any map and tells itself apart
// from the red marks.
void outlineMask(cv::Mat& image, const torch::Tensor& mask, const cv::Rect2d& input);

// The cell of a map [h, w] under the point (x, y) in [0, 1] x [0, 1] of the picture,
// clamped to the grid, and its value.
struct MapCell {
    int row = 0;
    int col = 0;
    double value = 0;
};
MapCell cellAt(const torch::Tensor& map, double x, double y);

}  // namespace attnviz::imaging
