#include "core/imaging/marks.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace attnviz::imaging {

void outlineRect(cv::Mat& image, double x0, double y0, double x1, double y1)
{
    cv::rectangle(image, cv::Point(int(x0), int(y0)), cv::Point(int(x1) - 1, int(y1) - 1), cv::Scalar(255, 64, 64), 2);
}

void outlineCell(cv::Mat& image, const cv::Rect2d& input, int gridH, int gridW, int row, int col)
{
    const double cellW = input.width / gridW, cellH = input.height / gridH;
    outlineRect(image, input.x + col * cellW, input.y + row * cellH, input.x + (col + 1) * cellW,
                input.y + (row + 1) * cellH);
}

void outlineBox(cv::Mat& image, const engine::PixelBox& box, const cv::Rect2d& input, int inputWidth)
{
    const double scale = input.width / inputWidth;
    outlineRect(image, input.x + box.x0 * scale, input.y + box.y0 * scale, input.x + (box.x1 + 1) * scale,
                input.y + (box.y1 + 1) * scale);
}

MapCell cellAt(const torch::Tensor& map, double x, double y)
{
    const auto cell = [](double fraction, int64_t cells) {
        return std::clamp(int(fraction * double(cells)), 0, int(cells) - 1);
    };
    MapCell c;
    c.row = cell(y, map.size(0));
    c.col = cell(x, map.size(1));
    c.value = map[c.row][c.col].item<double>();
    return c;
}

}  // namespace attnviz::imaging
