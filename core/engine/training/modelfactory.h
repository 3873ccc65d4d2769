#pragma once

#include "core/engine/training/imageset.h"
#include "core/io/modelconfig.h"
#include "core/io/rawtensor.h"

#include <cstdint>
#include <vector>

namespace attnviz::engine {

// The Fashion-MNIST training set's pixel mean and standard deviation.
inline const ChannelStatistics kFashionMnistPixels{{0.2860}, {0.3530}};

// A small ViT to train from scratch (defaults: the shipped Fashion-MNIST model).
struct ViTShape {
    int channels = 1;
    int imageSize = 28;
    ChannelStatistics pixels = kFashionMnistPixels;  // what the fresh model normalises with
    int patchSize = 4;
    int embedDim = 64;
    int depth = 6;
    int heads = 4;
    int mlpHidden = 128;
    int numClasses = 10;
    // timm's ConvStem (3x3 stride-2 convolutions, log2(patchSize) of them, widths
    // D/2^k up to D) and a 1x1 projection instead of the linear patch projection.
    bool convStem = false;
};

// A small ResNet of BasicBlocks with a 3x3 stem (stride 1 or 2) and no max-pool.
struct ResNetShape {
    int channels = 1;
    int imageSize = 28;
    ChannelStatistics pixels = kFashionMnistPixels;  // what the fresh model normalises with
    int stemStride = 1;
    std::vector<int> widths{32, 64, 128};
    std::vector<int> blocks{1, 1, 1};
    int numClasses = 10;
};

// Freshly initialised weights under timm (ViT) / torchvision (ResNet) names and the
// config that goes with them; both take the same path as a user's checkpoint.
// Initialisation follows timm (truncated normal 0.02 for linear layers and
// embeddings) and torchvision (Kaiming normal convs, zero-init last BN per block).
struct FreshModel {
    io::TensorMap tensors;
    io::ModelConfig config;
};
FreshModel freshViT(const ViTShape& shape, std::uint64_t seed);
FreshModel freshResNet(const ResNetShape& shape, std::uint64_t seed);

}  // namespace attnviz::engine
