#include "core/engine/vit/convstem.h"

#include "core/engine/engineerror.h"

namespace attnviz::engine {
namespace {

constexpr int kStemKernel = 3;
constexpr int kStemStride = 2;
constexpr int kStemPadding = 1;
// timm's BatchNorm2d defaults.
constexpr double kBatchNormMomentum = 0.1;
constexpr double kBatchNormEps = 1e-5;

ConvStemLayer readLayer(WeightSource& s, const std::string& p, int64_t in)
{
    const auto shape = s.shapeOf(p + "conv.weight");
    if (shape.size() != 4 || shape[2] != kStemKernel || shape[3] != kStemKernel)
        throw EngineError("key '" + p + "conv.weight' has shape " + io::shapeString(shape)
                          + "; only timm's ConvStem of 3x3 stride-2 convolutions is supported");
    ConvStemLayer l;
    l.convW = s.take(p + "conv.weight", {-1, in, kStemKernel, kStemKernel});
    const int64_t out = l.convW.size(0);
    l.convB = s.takeIfPresent(p + "conv.bias", {out});
    if (s.has(p + "bn.weight")) {
        l.bnW = s.take(p + "bn.weight", {out});
        l.bnB = s.take(p + "bn.bias", {out});
        l.bnMean = s.take(p + "bn.running_mean", {out});
        l.bnVar = s.take(p + "bn.running_var", {out});
        if (s.has(p + "bn.num_batches_tracked"))
            s.ignore(p + "bn.num_batches_tracked");
    }
    return l;
}

}  // namespace

std::vector<ConvStemLayer> readConvStem(WeightSource& s, const std::string& prefix)
{
    std::vector<ConvStemLayer> stem;
    if (!s.has(prefix + "0.conv.weight")) {
        // timm's other hybrids: ResNetV2 (its stem alone in the tiny one) and ResNet-D backbones
        for (const char* other : {"stem.conv.weight", "conv.weight", "conv1.0.weight"})
            if (s.has(prefix + other))
                throw EngineError("key '" + prefix + other
                                  + "': a hybrid ViT with a ResNet backbone is not supported, only timm's ConvStem");
        return stem;
    }
    int64_t in = -1;  // the first layer takes the image's channels, whatever they are
    for (int i = 0; s.has(prefix + std::to_string(i) + ".conv.weight"); ++i) {
        stem.push_back(readLayer(s, prefix + std::to_string(i) + ".", in));
        in = stem.back().convW.size(0);
    }
    for (std::size_t i = 0; i < stem.size(); ++i) {
        const bool last = i + 1 == stem.size();
        if (stem[i].normed() == last)
            throw EngineError("ConvStem layer " + std::to_string(i) + (last ? " is the last but has" : " has no")
                              + " batch norm; timm's ConvStem norms every layer but the last");
    }
    return stem;
}

int convStemStride(const std::vector<ConvStemLayer>& stem)
{
    return 1 << stem.size();
}

std::vector<std::pair<std::string, torch::Tensor*>> namedConvStem(std::vector<ConvStemLayer>& stem,
                                                                  const std::string& prefix)
{
    std::vector<std::pair<std::string, torch::Tensor*>> out;
    for (std::size_t i = 0; i < stem.size(); ++i) {
        auto& l = stem[i];
        const auto p = prefix + std::to_string(i) + ".";
        const std::pair<const char*, torch::Tensor*> parts[] = {
            {"conv.weight", &l.convW}, {"conv.bias", &l.convB},        {"bn.weight", &l.bnW},
            {"bn.bias", &l.bnB},       {"bn.running_mean", &l.bnMean}, {"bn.running_var", &l.bnVar}};
        for (const auto& [name, t] : parts)
            if (t->defined())
                out.emplace_back(p + name, t);
    }
    return out;
}

torch::Tensor embedPatches(const std::vector<ConvStemLayer>& stem, const torch::Tensor& patchW,
                           const torch::Tensor& patchB, const torch::Tensor& image, bool training)
{
    auto x = image;
    for (const auto& l : stem) {
        // [N, Cin, h, w] -> [N, Cout, ceil(h/2), ceil(w/2)]
        x = torch::conv2d(x, l.convW, l.convB, kStemStride, kStemPadding);
        if (l.normed())
            x = torch::relu(torch::batch_norm(x, l.bnW, l.bnB, l.bnMean, l.bnVar, training, kBatchNormMomentum,
                                              kBatchNormEps, false));
    }
    return torch::conv2d(x, patchW, patchB, patchW.size(-1));
}

}  // namespace attnviz::engine
