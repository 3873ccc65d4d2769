#include "core/engine/training/modelfactory.h"

#include "core/engine/tensorconvert.h"

#include <torch/torch.h>

namespace attnviz::engine {
namespace {

torch::Tensor truncNormal(const std::vector<int64_t>& shape, double std)
{
    return (torch::randn(shape) * std).clamp(-2 * std, 2 * std);
}

torch::Tensor kaimingConv(int64_t out, int64_t in, int64_t k)
{
    return torch::randn({out, in, k, k}) * std::sqrt(2.0 / double(out * k * k));  // fan_out, ReLU
}

// PyTorch's default for a convolution (Kaiming uniform, a = sqrt(5)): U(-1/sqrt(fan_in), +).
torch::Tensor defaultConv(int64_t out, int64_t in, int64_t k)
{
    const double bound = 1.0 / std::sqrt(double(in * k * k));
    return torch::rand({out, in, k, k}) * 2 * bound - bound;
}

void putLinear(io::TensorMap& m, const std::string& name, int64_t out, int64_t in)
{
    m[name + ".weight"] = toRawF32(truncNormal({out, in}, 0.02));
    m[name + ".bias"] = toRawF32(torch::zeros({out}));
}

void putNorm(io::TensorMap& m, const std::string& name, int64_t d)
{
    m[name + ".weight"] = toRawF32(torch::ones({d}));
    m[name + ".bias"] = toRawF32(torch::zeros({d}));
}

void putBn(io::TensorMap& m, const std::string& name, int64_t d, bool zeroGamma)
{
    m[name + ".weight"] = toRawF32(zeroGamma ? torch::zeros({d}) : torch::ones({d}));
    m[name + ".bias"] = toRawF32(torch::zeros({d}));
    m[name + ".running_mean"] = toRawF32(torch::zeros({d}));
    m[name + ".running_var"] = toRawF32(torch::ones({d}));
}

// The whole image at its own size, normalised with the training set's statistics.
io::PreprocessConfig trainingPreprocessing(int channels, int size, const ChannelStatistics& pixels)
{
    io::PreprocessConfig p;
    p.inputSize = std::array<int, 3>{channels, size, size};
    p.interpolation = "bilinear";
    p.cropPct = 1.0;
    const auto perChannel = [channels](const std::vector<double>& v) {
        return v.size() == std::size_t(channels) ? v : std::vector<double>(std::size_t(channels), v.at(0));
    };
    p.mean = perChannel(pixels.mean);
    p.std = perChannel(pixels.std);
    return p;
}

// timm's ConvStem with its default tiered widths (D/4, D/2, D for three layers) under
// HybridEmbed's names, and the 1x1 projection after it; convolutions as PyTorch
// initialises them, as timm leaves a hybrid's backbone.
void putConvStem(io::TensorMap& m, const ViTShape& s)
{
    int layers = 0;
    while ((2 << layers) <= s.patchSize)
        ++layers;
    int64_t in = s.channels;
    for (int i = 0; i < layers; ++i) {
        const auto p = "patch_embed.backbone." + std::to_string(i) + ".";
        const int64_t out = s.embedDim >> (layers - 1 - i);
        m[p + "conv.weight"] = toRawF32(defaultConv(out, in, 3));
        if (i + 1 < layers)
            putBn(m, p + "bn", out, false);
        else
            m[p + "conv.bias"] = toRawF32(torch::zeros({out}));
        in = out;
    }
    m["patch_embed.proj.weight"] = toRawF32(defaultConv(s.embedDim, in, 1));
}

}  // namespace

FreshModel freshViT(const ViTShape& s, std::uint64_t seed)
{
    torch::manual_seed(seed);
    FreshModel fresh;
    auto& m = fresh.tensors;
    const int64_t d = s.embedDim;
    const int64_t patches = int64_t(s.imageSize / s.patchSize) * (s.imageSize / s.patchSize);
    m["cls_token"] = toRawF32(truncNormal({1, 1, d}, 0.02));
    m["pos_embed"] = toRawF32(truncNormal({1, patches + 1, d}, 0.02));
    if (s.convStem)
        putConvStem(m, s);
    else
        m["patch_embed.proj.weight"] = toRawF32(truncNormal({d, s.channels, s.patchSize, s.patchSize}, 0.02));
    m["patch_embed.proj.bias"] = toRawF32(torch::zeros({d}));
    for (int i = 0; i < s.depth; ++i) {
        const auto p = "blocks." + std::to_string(i) + ".";
        putNorm(m, p + "norm1", d);
        putLinear(m, p + "attn.qkv", 3 * d, d);
        putLinear(m, p + "attn.proj", d, d);
        putNorm(m, p + "norm2", d);
        putLinear(m, p + "mlp.fc1", s.mlpHidden, d);
        putLinear(m, p + "mlp.fc2", d, s.mlpHidden);
    }
    putNorm(m, "norm", d);
    putLinear(m, "head", s.numClasses, d);

    auto& c = fresh.config;
    c.architecture = "attnviz_vit";
    c.numClasses = s.numClasses;
    c.numHeads = s.heads;
    c.embedDim = s.embedDim;
    c.depth = s.depth;
    c.patchSize = s.patchSize;
    c.preprocess = trainingPreprocessing(s.channels, s.imageSize, s.pixels);
    return fresh;
}

FreshModel freshResNet(const ResNetShape& s, std::uint64_t seed)
{
    torch::manual_seed(seed);
    FreshModel fresh;
    auto& m = fresh.tensors;
    int64_t in = s.widths.at(0);
    m["conv1.weight"] = toRawF32(kaimingConv(in, s.channels, 3));  // stride: config stemStride
    putBn(m, "bn1", in, false);
    for (std::size_t stage = 0; stage < s.widths.size(); ++stage) {
        const int64_t out = s.widths[stage];
        for (int b = 0; b < s.blocks.at(stage); ++b) {
            const auto p = "layer" + std::to_string(stage + 1) + "." + std::to_string(b) + ".";
            const int64_t blockIn = b == 0 ? in : out;
            m[p + "conv1.weight"] = toRawF32(kaimingConv(out, blockIn, 3));
            putBn(m, p + "bn1", out, false);
            m[p + "conv2.weight"] = toRawF32(kaimingConv(out, out, 3));
            putBn(m, p + "bn2", out, true);
            if (b == 0 && (stage > 0 || blockIn != out)) {
                m[p + "downsample.0.weight"] = toRawF32(kaimingConv(out, blockIn, 1));
                putBn(m, p + "downsample.1", out, false);
            }
        }
        in = out;
    }
    const double bound = 1.0 / std::sqrt(double(in));
    m["fc.weight"] = toRawF32(torch::rand({s.numClasses, in}) * 2 * bound - bound);
    m["fc.bias"] = toRawF32(torch::rand({s.numClasses}) * 2 * bound - bound);

    auto& c = fresh.config;
    c.architecture = "attnviz_resnet";
    c.numClasses = s.numClasses;
    c.stemStride = s.stemStride;
    c.stemPool = false;
    c.preprocess = trainingPreprocessing(s.channels, s.imageSize, s.pixels);
    return fresh;
}

}  // namespace attnviz::engine
