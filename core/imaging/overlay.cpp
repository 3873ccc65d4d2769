#include "core/imaging/overlay.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace attnviz::imaging {
namespace {

// [h, w] tensor -> CV_32FC1 scaled so that range.lo -> 0 and range.hi -> 1
cv::Mat unitMat(const torch::Tensor& map, const MapRange& range)
{
    if (map.dim() != 2)
        throw std::invalid_argument("a map to draw must be [h, w]");
    const float span = range.hi - range.lo;
    const auto cpu = map.to(torch::kCPU, torch::kFloat32);
    const auto scaled = (span > 0 ? (cpu - range.lo) / span : torch::zeros_like(cpu)).contiguous();
    return cv::Mat(int(scaled.size(0)), int(scaled.size(1)), CV_32FC1, scaled.data_ptr<float>()).clone();
}

// The ends of a colour bar with the same number of decimals, enough to tell them apart
// (0.228 / 0.003, not 0.228 / 0.00322); scientific notation for tiny or huge spans.
std::pair<std::string, std::string> formatRange(const MapRange& range)
{
    const double span = std::abs(double(range.hi) - double(range.lo));
    const double largest = std::max(std::abs(double(range.lo)), std::abs(double(range.hi)));
    char lo[32], hi[32];
    if (span > 0 && (span < 1e-3 || largest >= 1e5)) {
        std::snprintf(lo, sizeof lo, "%.2e", double(range.lo));
        std::snprintf(hi, sizeof hi, "%.2e", double(range.hi));
    } else {
        const int decimals = span > 0 ? std::clamp(2 - int(std::floor(std::log10(span))), 0, 4) : 3;
        std::snprintf(lo, sizeof lo, "%.*f", decimals, double(range.lo));
        std::snprintf(hi, sizeof hi, "%.*f", decimals, double(range.hi));
    }
    return {lo, hi};
}

}  // namespace

Upsampling upsamplingFromName(const std::string& name)
{
    if (name == "nearest")
        return Upsampling::Nearest;
    if (name == "bilinear")
        return Upsampling::Bilinear;
    throw std::invalid_argument("unknown upsampling '" + name + "' (nearest or bilinear)");
}

MapRange rangeOf(const torch::Tensor& map)
{
    return {map.min().item<float>(), map.max().item<float>()};
}

MapRange rangeOf(const std::vector<torch::Tensor>& maps)
{
    MapRange range = rangeOf(maps.at(0));
    for (const auto& m : maps) {
        const auto r = rangeOf(m);
        range.lo = std::min(range.lo, r.lo);
        range.hi = std::max(range.hi, r.hi);
    }
    return range;
}

torch::Tensor keepMass(const torch::Tensor& map, double fraction)
{
    if (!(fraction > 0.0 && fraction <= 1.0))
        throw std::invalid_argument("the kept fraction of the mass must be in (0, 1]");
    if (fraction >= 1.0)
        return map;
    const auto flat = map.flatten().to(torch::kFloat64);
    const double total = flat.sum().item<double>();
    if (total <= 0)
        return map;
    const auto sorted = std::get<0>(flat.sort(0, /*descending=*/true));
    // The first index whose cumulative sum reaches the fraction; its value is the threshold.
    // float32 maps: a relative slack of 1e-6 keeps rounding from adding a cell.
    const auto reached = (sorted.cumsum(0) >= (fraction - 1e-6) * total).nonzero();
    const auto last = reached.numel() ? reached[0][0].item<int64_t>() : sorted.size(0) - 1;
    const double threshold = sorted[last].item<double>();
    return torch::where(map.to(torch::kFloat64) >= threshold, map, torch::zeros_like(map));
}

cv::Mat renderMap(const torch::Tensor& map, const MapRange& range, cv::Size size, const OverlayOptions& options)
{
    const int interpolation = options.upsampling == Upsampling::Nearest ? cv::INTER_NEAREST : cv::INTER_LINEAR;
    cv::Mat resized;
    if (map.dim() == 3) {  // [3, h, w]: red, green and blue in [0, 1], drawn as they are
        const auto bytes = (map.to(torch::kFloat32).clamp(0, 1) * 255).round().to(torch::kUInt8).permute({1, 2, 0});
        const auto contiguous = bytes.contiguous();
        const cv::Mat picture(int(map.size(1)), int(map.size(2)), CV_8UC3, contiguous.data_ptr());
        cv::resize(picture, resized, size, 0, 0, interpolation);
        return resized;
    }
    cv::resize(unitMat(map, range), resized, size, 0, 0, interpolation);
    return applyColormap(resized, options.colormap);
}

cv::Mat colorBar(int height, const MapRange& range, Colormap colormap)
{
    const auto font = cv::FONT_HERSHEY_SIMPLEX;
    // Readable when the picture is shown at about two thirds of its size.
    const double fontScale = std::clamp(height / 448.0 * 0.6, 0.4, 1.2);
    const auto [loText, hiText] = formatRange(range);
    int baseline = 0;
    // Wide enough for the longer label, e.g. "2.27e-05".
    const int textWidth = std::max(cv::getTextSize(hiText, font, fontScale, 1, &baseline).width,
                                   cv::getTextSize(loText, font, fontScale, 1, &baseline).width)
                          + 8;
    const int barWidth = 16, margin = 10;
    cv::Mat out(height, margin + barWidth + textWidth, CV_8UC3, cv::Scalar(255, 255, 255));
    // Top is the high end: a column of values from 1 down to 0.
    cv::Mat ramp(height, 1, CV_32FC1);
    for (int y = 0; y < height; ++y)
        ramp.at<float>(y, 0) = height > 1 ? 1.0f - float(y) / float(height - 1) : 1.0f;
    cv::Mat bar;
    cv::resize(applyColormap(ramp, colormap), bar, cv::Size(barWidth, height), 0, 0, cv::INTER_NEAREST);
    bar.copyTo(out(cv::Rect(margin, 0, barWidth, height)));
    const cv::Scalar black(0, 0, 0);
    const int textHeight = cv::getTextSize(hiText, font, fontScale, 1, &baseline).height;
    cv::putText(out, hiText, {margin + barWidth + 4, textHeight + 2}, font, fontScale, black, 1, cv::LINE_AA);
    cv::putText(out, loText, {margin + barWidth + 4, height - 4}, font, fontScale, black, 1, cv::LINE_AA);
    return out;
}

cv::Mat renderOverlay(const cv::Mat& background, const torch::Tensor& map, const MapRange& range,
                      const OverlayOptions& options)
{
    CV_Assert(background.type() == CV_8UC3);
    const auto colours = renderMap(map, range, background.size(), options);
    cv::Mat blended;
    cv::addWeighted(colours, options.alpha, background, 1.0 - options.alpha, 0.0, blended);
    if (!options.colorBar || map.dim() == 3)  // a picture's own colours have no scale
        return blended;
    cv::Mat out;
    cv::hconcat(blended, colorBar(background.rows, range, options.colormap), out);
    return out;
}

cv::Mat renderOverlayInRegion(const cv::Mat& background, const torch::Tensor& map, const cv::Rect& region,
                              const MapRange& range, const OverlayOptions& options)
{
    CV_Assert(background.type() == CV_8UC3);
    const auto inside = region & cv::Rect(0, 0, background.cols, background.rows);
    CV_Assert(inside.area() > 0);
    cv::Mat out;
    background.convertTo(out, -1, 0.45, 40);  // dimmed towards grey: outside the model's view
    // The map covers the whole region; a region partly outside the image keeps its scale.
    const auto colours = renderMap(map, range, region.size(), options);
    const cv::Rect within(inside.x - region.x, inside.y - region.y, inside.width, inside.height);
    cv::Mat blended;
    cv::addWeighted(colours(within), options.alpha, background(inside), 1.0 - options.alpha, 0.0, blended);
    blended.copyTo(out(inside));
    cv::rectangle(out, inside, cv::Scalar(255, 255, 255), 1);
    if (!options.colorBar || map.dim() == 3)
        return out;
    cv::Mat withBar;
    cv::hconcat(out, colorBar(out.rows, range, options.colormap), withBar);
    return withBar;
}

}  // namespace attnviz::imaging
