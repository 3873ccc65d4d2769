#include "core/imaging/viewimage.h"

#include "core/imaging/colormap.h"
#include "core/imaging/montage.h"
#include "core/io/pngmetadata.h"

#include <opencv2/imgproc.hpp>

#include <sstream>
#include <stdexcept>

namespace attnviz::imaging {
namespace {

std::string join(const std::vector<std::string>& parts)
{
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : ",") + p;
    return out;
}

}  // namespace

cv::Mat enlargePicture(const cv::Mat& picture, int minSide)
{
    const int side = std::min(picture.rows, picture.cols);
    if (side >= minSide)
        return picture;
    const int factor = (minSide + side - 1) / side;
    cv::Mat out;
    cv::resize(picture, out, cv::Size(picture.cols * factor, picture.rows * factor), 0, 0, cv::INTER_NEAREST);
    return out;
}

cv::Mat displayPicture(const cv::Mat& rgb, int minSide, int maxSide)
{
    const int longer = std::max(rgb.rows, rgb.cols);
    if (longer <= maxSide)
        return enlargePicture(rgb, minSide);
    const double scale = double(maxSide) / longer;
    cv::Mat out;
    cv::resize(rgb, out, cv::Size(std::max(1, int(rgb.cols * scale)), std::max(1, int(rgb.rows * scale))), 0, 0,
               cv::INTER_AREA);
    return out;
}

namespace {

std::string caption(const engine::ViewMaps& view, std::size_t layer, std::size_t head)
{
    std::string text = view.layers[layer];
    if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0])))
        text = "L" + text;
    if (view.heads.size() > 1 && !view.rgb)  // an RGB view's columns are its colours
        text += " H" + view.heads[head];
    return text;
}

}  // namespace

Normalization normalizationFromName(const std::string& name)
{
    if (name == "map")
        return Normalization::PerMap;
    if (name == "layer")
        return Normalization::PerLayer;
    throw std::invalid_argument("unknown normalisation '" + name + "' (map or layer)");
}

std::string normalizationName(Normalization normalization)
{
    return normalization == Normalization::PerLayer ? "layer" : "map";
}

cv::Mat inputPicture(const torch::Tensor& input, const engine::Preprocessing& preprocessing)
{
    const auto channels = input.size(1);
    auto pixels = input[0].to(torch::kCPU, torch::kFloat32).clone();  // [C, H, W]
    for (int64_t c = 0; c < channels; ++c) {
        const auto i = std::size_t(c) < preprocessing.mean.size() ? std::size_t(c) : 0;
        pixels[c].mul_(preprocessing.std.at(i)).add_(preprocessing.mean.at(i));
    }
    if (channels == 1)
        pixels = pixels.expand({3, -1, -1});
    // [3, H, W] in [0, 1] -> [H, W, 3] bytes
    const auto bytes = (pixels.clamp(0, 1) * 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
    return cv::Mat(int(bytes.size(0)), int(bytes.size(1)), CV_8UC3, bytes.data_ptr()).clone();
}

cv::Mat renderView(const cv::Mat& picture, const engine::ViewMaps& view, const ViewImageOptions& options)
{
    const auto background = enlargePicture(picture, options.minSide);
    const auto layers = view.maps.size(0), heads = view.maps.size(1);
    std::vector<cv::Mat> tiles;
    std::vector<std::string> labels;
    auto tileOptions = options.overlay;
    tileOptions.colorBar = options.overlay.colorBar && layers * heads == 1;
    if (view.rgb) {  // one picture per layer, its columns the colours
        for (int64_t l = 0; l < layers; ++l) {
            tiles.push_back(renderOverlay(background, view.maps[l], {}, tileOptions));
            labels.push_back(caption(view, std::size_t(l), 0));
        }
        return tiles.size() == 1 ? tiles[0] : montage(tiles, int(layers), labels);
    }
    for (int64_t l = 0; l < layers; ++l) {
        std::vector<torch::Tensor> row;
        for (int64_t h = 0; h < heads; ++h)
            row.push_back(keepMass(view.maps[l][h], options.keepMass));
        const auto layerRange = rangeOf(row);
        for (int64_t h = 0; h < heads; ++h) {
            const auto range = options.normalization == Normalization::PerLayer ? layerRange : rangeOf(row[h]);
            tiles.push_back(renderOverlay(background, row[h], range, tileOptions));
            labels.push_back(caption(view, std::size_t(l), std::size_t(h)));
        }
    }
    if (tiles.size() == 1)
        return tiles[0];
    // Layers x heads as rows x columns; layers of a single map each go side by side.
    return montage(tiles, heads > 1 ? int(heads) : int(layers), labels);
}

io::TextEntries viewDescription(const std::string& model, const engine::ViewMaps& view, const std::string& className,
                                const ViewImageOptions& options, const std::string& image)
{
    std::ostringstream alpha;
    alpha << options.overlay.alpha;
    io::TextEntries text{{io::pngkey::kSoftware, "attnviz"},
                         {io::pngkey::kModel, model},
                         {io::pngkey::kMethod, engine::viewMethodName(view.method)},
                         {io::pngkey::kLayer, join(view.layers)},
                         {io::pngkey::kHead, join(view.heads)}};
    if (!image.empty())
        text.emplace_back(io::pngkey::kImage, image);
    if (!view.camInput.empty())
        text.emplace_back(io::pngkey::kCamInput, view.camInput);
    if (view.classIndex)
        text.emplace_back(io::pngkey::kClass,
                          std::to_string(*view.classIndex) + (className.empty() ? "" : " " + className));
    text.emplace_back(io::pngkey::kNormalization, normalizationName(options.normalization));
    text.emplace_back(io::pngkey::kColormap, colormapName(options.overlay.colormap));
    text.emplace_back(io::pngkey::kAlpha, alpha.str());
    text.emplace_back(io::pngkey::kUpsampling,
                      options.overlay.upsampling == Upsampling::Nearest ? "nearest" : "bilinear");
    if (options.keepMass < 1.0)
        text.emplace_back(io::pngkey::kKeepMass, std::to_string(options.keepMass));
    return text;
}

}  // namespace attnviz::imaging
