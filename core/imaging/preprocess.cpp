#include "core/imaging/preprocess.h"

#include "core/engine/training/imageset.h"
#include "core/imaging/imagedecoder.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace attnviz::imaging {
namespace {

int interpolationFlag(const std::string& name)
{
    if (name == "bicubic")
        return cv::INTER_CUBIC;
    if (name == "nearest")
        return cv::INTER_NEAREST;
    return cv::INTER_LINEAR;
}

// Size the image is resized to before the center crop (timm's rule), in doubles so that
// a strip that would need more than 2^31 pixels a side is measured before it is cast.
std::pair<double, double> scaledSize(const cv::Mat& image, const engine::Preprocessing& p)
{
    const int h = p.inputSize[1];
    const int w = p.inputSize[2];
    if (p.squash)
        return {w, h};
    if (h != w)
        return {std::floor(w / p.cropPct), std::floor(h / p.cropPct)};
    const double shortSide = std::floor(h / p.cropPct);
    const double scale = shortSide / std::min(image.rows, image.cols);
    return {std::max<double>(w, std::round(image.cols * scale)), std::max<double>(h, std::round(image.rows * scale))};
}

}  // namespace

PreparedInput preprocessImage(const cv::Mat& rgb, const engine::Preprocessing& p)
{
    const int channels = p.inputSize[0];
    const int h = p.inputSize[1];
    const int w = p.inputSize[2];
    if (channels != 1 && channels != 3)
        throw std::invalid_argument("images can feed models with 1 or 3 input channels, not "
                                    + std::to_string(channels));
    cv::Mat source = rgb;
    if (channels == 1)
        cv::cvtColor(rgb, source, cv::COLOR_RGB2GRAY);

    const auto [scaledWidth, scaledHeight] = scaledSize(source, p);
    // A 16000 x 1 strip would be resized to 4096000 x 256 (3 GB) to crop 224 x 224 out of
    // it; refuse what no photograph needs instead of allocating it.
    constexpr double kMaxResizedPixels = 64e6;
    if (scaledWidth * scaledHeight > kMaxResizedPixels)
        throw ImageError("an image of " + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows)
                         + " pixels is too elongated: scaling it for the model would make "
                         + std::to_string(static_cast<long long>(scaledWidth)) + "x"
                         + std::to_string(static_cast<long long>(scaledHeight)) + " pixels");
    const cv::Size scaled{int(scaledWidth), int(scaledHeight)};
    cv::Mat resized;
    cv::resize(source, resized, scaled, 0, 0, interpolationFlag(p.interpolation));
    const int top = (resized.rows - h) / 2;
    const int left = (resized.cols - w) / 2;
    cv::Mat cropped = resized(cv::Rect(left, top, w, h));

    // [H, W, C] interleaved bytes -> [1, C, H, W], normalised exactly as batches of
    // data-set images are (engine::normalizeBatch).
    const cv::Mat contiguous = cropped.clone();
    const auto bytes =
        torch::from_blob(contiguous.data, {h, w, channels}, torch::kUInt8).permute({2, 0, 1}).unsqueeze(0);
    const auto tensor = engine::normalizeBatch(bytes, p);

    PreparedInput out;
    out.tensor = tensor;
    const double sx = double(rgb.cols) / scaled.width;
    const double sy = double(rgb.rows) / scaled.height;
    out.crop = {left * sx, top * sy, w * sx, h * sy};
    return out;
}

}  // namespace attnviz::imaging
