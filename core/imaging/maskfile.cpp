#include "core/imaging/maskfile.h"

#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"

#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>

namespace attnviz::imaging {
namespace {

bool startsLikePng(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    char head[8] = {};
    in.read(head, sizeof head);
    return in && std::string(head, 8) == "\x89PNG\r\n\x1a\n";
}

}  // namespace

cv::Mat readMask(const std::string& path, int width, int height)
{
    std::ifstream exists(path, std::ios::binary);
    if (!exists)
        throw ImageError("mask '" + path + "' is missing");
    if (!startsLikePng(path))
        throw ImageError("mask '" + path + "' is not a PNG");
    const auto rgb = decodeImageRgb(path);
    if (rgb.cols != width || rgb.rows != height)
        throw ImageError("mask '" + path + "' is " + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows)
                         + " px but its image is " + std::to_string(width) + "x" + std::to_string(height));
    cv::Mat channelSum;  // saturating: non-zero where any channel is
    cv::transform(rgb, channelSum, cv::Matx13f(1, 1, 1));
    cv::Mat mask = channelSum != 0;  // 255 on the object
    if (cv::countNonZero(mask) == 0)
        throw ImageError("mask '" + path + "' is empty (no non-zero pixel)");
    return mask;
}

std::optional<std::string> findMaskFor(const std::string& imagePath)
{
    namespace fs = std::filesystem;
    const fs::path image(imagePath);
    std::error_code error;
    const auto beside = image.parent_path() / (image.stem().string() + ".mask.png");
    if (fs::is_regular_file(beside, error))
        return beside.string();
    const auto classDir = image.parent_path();
    const auto splitDir = classDir.parent_path();
    const auto inTree = splitDir.parent_path() / "masks" / splitDir.filename() / classDir.filename() / image.filename();
    if (!classDir.empty() && !splitDir.empty() && fs::is_regular_file(inTree, error))
        return inTree.string();
    return std::nullopt;
}

torch::Tensor maskForModel(const cv::Mat& mask, const engine::Preprocessing& p)
{
    cv::Mat rgb;
    cv::cvtColor(mask, rgb, cv::COLOR_GRAY2RGB);
    auto geometryOnly = p;  // the same resize and crop, no normalisation, three channels
    geometryOnly.inputSize[0] = 3;
    geometryOnly.mean = {0.0, 0.0, 0.0};
    geometryOnly.std = {1.0, 1.0, 1.0};
    return preprocessImage(rgb, geometryOnly).tensor[0][0].ge(0.5);
}

}  // namespace attnviz::imaging
