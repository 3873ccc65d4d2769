#pragma once

#include "core/engine/model/modelspec.h"
#include "core/io/idxdataset.h"

#include <torch/torch.h>

namespace attnviz::engine {

// A labelled image set held in memory as bytes (60,000 Fashion-MNIST images: 47 MB).
struct ImageSet {
    torch::Tensor images;  // uint8 [N, C, H, W]
    torch::Tensor labels;  // int64 [N]

    int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
    ImageSet first(int64_t n) const;  // the first n images (all when n <= 0 or n >= size)
};

ImageSet toImageSet(const io::IdxDataset& data);

// Per-channel mean and standard deviation of the pixels scaled to [0, 1], rounded to 4
// decimals (Fashion-MNIST's training set: 0.2860, 0.3530), in chunks of 1,000 images.
struct ChannelStatistics {
    std::vector<double> mean, std;
};
ChannelStatistics channelStatistics(const ImageSet& set);

// uint8 [N, C, H, W] -> float [N, C, H, W] scaled to [0, 1] and normalised with the
// model's mean/std, exactly as core/imaging does for a decoded image of that size.
torch::Tensor normalizeBatch(const torch::Tensor& bytes, const Preprocessing& p);

}  // namespace attnviz::engine
