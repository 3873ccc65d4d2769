#include "core/engine/training/imageset.h"

#include "core/engine/engineerror.h"
#include "core/io/rawtensor.h"

namespace attnviz::engine {

ImageSet ImageSet::first(int64_t n) const
{
    if (n <= 0 || n >= size())
        return *this;
    return {images.narrow(0, 0, n), labels.narrow(0, 0, n)};
}

ImageSet toImageSet(const io::IdxDataset& data)
{
    ImageSet set;
    set.images = torch::from_blob(const_cast<std::uint8_t*>(data.pixels.data()), {data.count, 1, data.rows, data.cols},
                                  torch::kUInt8)
                     .clone();
    set.labels = torch::from_blob(const_cast<std::uint8_t*>(data.labels.data()), {data.count}, torch::kUInt8)
                     .to(torch::kInt64);
    return set;
}

ChannelStatistics channelStatistics(const ImageSet& set)
{
    const auto channels = set.images.size(1);
    auto sum = torch::zeros({channels}, torch::kFloat64);
    auto squares = torch::zeros({channels}, torch::kFloat64);
    for (int64_t first = 0; first < set.size(); first += 1000) {
        const auto chunk = set.images.narrow(0, first, std::min<int64_t>(1000, set.size() - first))
                               .to(torch::kFloat64)
                               .div(255.0)
                               .transpose(0, 1)
                               .reshape({channels, -1});  // [C, n * H * W]
        sum += chunk.sum(1);
        squares += chunk.square().sum(1);
    }
    const double n = double(set.size() * set.images.size(2) * set.images.size(3));
    const auto mean = sum / n;
    const auto std = (squares / n - mean.square()).clamp_min(0).sqrt();
    ChannelStatistics out;
    for (int64_t c = 0; c < channels; ++c) {
        out.mean.push_back(std::round(mean[c].item<double>() * 1e4) / 1e4);
        out.std.push_back(std::round(std[c].item<double>() * 1e4) / 1e4);
    }
    return out;
}

torch::Tensor normalizeBatch(const torch::Tensor& bytes, const Preprocessing& p)
{
    const auto channels = bytes.size(1);
    if (channels != p.inputSize[0] || bytes.size(2) != p.inputSize[1] || bytes.size(3) != p.inputSize[2])
        throw EngineError("images are " + io::shapeString(bytes.sizes().vec()) + " but the model takes "
                          + io::shapeString({p.inputSize[0], p.inputSize[1], p.inputSize[2]}));
    const auto mean = torch::tensor(std::vector<float>(p.mean.begin(), p.mean.end())).view({1, channels, 1, 1});
    const auto std = torch::tensor(std::vector<float>(p.std.begin(), p.std.end())).view({1, channels, 1, 1});
    return (bytes.to(torch::kFloat32) / 255.0 - mean) / std;
}

}  // namespace attnviz::engine
