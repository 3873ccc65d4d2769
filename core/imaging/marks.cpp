#include "core/imaging/marks.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

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

void outlineMask(cv::Mat& image, const torch::Tensor& mask, const cv::Rect2d& input)
{
    // The mask at the picture's scale (nearest, so its edge stays where the pixels are),
    // then its contours shifted to where the input lies in the picture.
    const auto bytes = mask.to(torch::kCPU, torch::kUInt8).mul(255).contiguous();  // [H, W]
    const cv::Mat small(int(bytes.size(0)), int(bytes.size(1)), CV_8UC1, bytes.data_ptr<std::uint8_t>());
    cv::Mat scaled;
    cv::resize(small, scaled, cv::Size(std::max(1, int(input.width)), std::max(1, int(input.height))), 0, 0,
               cv::INTER_NEAREST);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(scaled, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE, cv::Point(int(input.x), int(input.y)));
    cv::drawContours(image, contours, -1, cv::Scalar(0, 0, 0), 3, cv::LINE_8);
    cv::drawContours(image, contours, -1, cv::Scalar(255, 255, 255), 1, cv::LINE_8);
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
