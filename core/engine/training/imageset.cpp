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
