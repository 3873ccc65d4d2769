#include "core/imaging/montage.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace attnviz::imaging {
namespace {

const auto kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kBlack(0, 0, 0);
const cv::Scalar kWhite(255, 255, 255);
constexpr double kFontScale = 0.45;

int textWidth(const std::string& text)
{
    int baseline = 0;
    return cv::getTextSize(text, kFont, kFontScale, 1, &baseline).width;
}

void write(cv::Mat& image, const std::string& text, cv::Point origin)
{
    cv::putText(image, text, origin, kFont, kFontScale, kBlack, 1, cv::LINE_AA);
}

int widest(const std::vector<std::string>& labels)
{
    int width = 0;
    for (const auto& l : labels)
        width = std::max(width, textWidth(l));
    return width;
}

}  // namespace

cv::Mat montage(const std::vector<cv::Mat>& tiles, int columns, const std::vector<std::string>& labels)
{
    CV_Assert(!tiles.empty() && columns > 0);
    const int gap = 6, captionHeight = labels.empty() ? 0 : 18;
    int cellW = 0, cellH = 0;
    for (const auto& t : tiles) {
        cellW = std::max(cellW, t.cols);
        cellH = std::max(cellH, t.rows);
    }
    const int cols = std::min<int>(columns, int(tiles.size()));
    const int rows = (int(tiles.size()) + columns - 1) / columns;
    cv::Mat out(rows * (cellH + captionHeight + gap) + gap, cols * (cellW + gap) + gap, CV_8UC3, kWhite);
    for (std::size_t i = 0; i < tiles.size(); ++i) {
        const int x = gap + int(i % std::size_t(columns)) * (cellW + gap);
        const int y = gap + int(i / std::size_t(columns)) * (cellH + captionHeight + gap);
        if (i < labels.size())
            write(out, labels[i], {x, y + captionHeight - 5});
        tiles[i].copyTo(out(cv::Rect(x, y + captionHeight, tiles[i].cols, tiles[i].rows)));
    }
    return out;
}

cv::Mat renderMatrix(const torch::Tensor& matrix, const std::vector<std::string>& rowLabels,
                     const std::vector<std::string>& colLabels, const std::string& title, const MapRange& range,
                     Colormap colormap, int cell)
{
    const int rows = int(matrix.size(0)), cols = int(matrix.size(1));
    const int left = widest(rowLabels) + 10, top = 30, bottom = widest(colLabels) + 10;
    OverlayOptions options;
    options.colormap = colormap;
    // Undefined entries (NaN, e.g. CKA of a constant layer) are drawn light grey.
    const auto undefined = torch::isnan(matrix.to(torch::kCPU));
    auto heat = renderMap(torch::nan_to_num(matrix.to(torch::kCPU), range.lo, range.lo, range.lo), range,
                          cv::Size(cols * cell, rows * cell), options);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
            if (undefined[r][c].item<bool>())
                heat(cv::Rect(c * cell, r * cell, cell, cell)).setTo(cv::Scalar(200, 200, 200));
    // A short matrix (one or two rows) still gets a bar tall enough to keep lo and hi apart.
    const auto bar = colorBar(std::max(rows * cell, 64), range, colormap);
    const int width = std::max(left + cols * cell + bar.cols, textWidth(title) + 20);
    cv::Mat out(top + std::max(rows * cell + bottom, bar.rows), width, CV_8UC3, kWhite);
    heat.copyTo(out(cv::Rect(left, top, heat.cols, heat.rows)));
    bar.copyTo(out(cv::Rect(left + heat.cols, top, bar.cols, bar.rows)));
    write(out, title, {10, 20});
    for (int r = 0; r < rows && r < int(rowLabels.size()); ++r)
        write(out, rowLabels[std::size_t(r)],
              {left - 6 - textWidth(rowLabels[std::size_t(r)]), top + r * cell + cell / 2 + 5});
    // Column labels read bottom-up: written as lines on a strip (line c at column c's
    // centre, ending at the strip's right edge), then turned a quarter counter-clockwise
    // so that the right edge meets the matrix.
    cv::Mat strip(cols * cell, bottom, CV_8UC3, kWhite);
    for (int c = 0; c < cols && c < int(colLabels.size()); ++c)
        write(strip, colLabels[std::size_t(c)],
              {bottom - 6 - textWidth(colLabels[std::size_t(c)]), c * cell + cell / 2 + 5});
    cv::Mat rotated;
    cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    rotated.copyTo(out(cv::Rect(left, top + rows * cell, rotated.cols, rotated.rows)));
    return out;
}

}  // namespace attnviz::imaging
