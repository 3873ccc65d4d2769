// ConvNeXt as torchvision and timm lay it out. Stem: 4x4 stride-4 conv + LayerNorm2d;
// four stages of blocks x + gamma * fc2(GELU(fc1(LN(dwconv7x7(x))))) (the MLP
// channels-last, as both libraries run it), a LayerNorm2d + 2x2 stride-2 conv between
// stages; head: global average pool, LayerNorm2d, fc. LayerNorm eps 1e-6 throughout.
//   torchvision: features.0 (stem), features.1/3/5/7 (stages, blocks `.j.block.{0,2,3,5}`,
//                `.j.layer_scale` [C,1,1]), features.2/4/6 (downsampling),
//                classifier.0 (norm), classifier.2 (fc)
//   timm:        stem.{0,1}, stages.S.downsample.{0,1} (S > 0), stages.S.blocks.M.{conv_dw,
//                norm, mlp.fc1, mlp.fc2, gamma [C]}, head.norm, head.fc; `conv_mlp`
//                variants hold the MLP as 1x1 convs and norm as LayerNorm2d
#include "core/engine/cnn/families.h"
#include "core/engine/cnn/reading.h"
#include "core/engine/engineerror.h"

namespace attnviz::engine::cnn {
namespace {

constexpr double kEps = 1e-6;

struct BlockKeys {
    std::string dwconv, norm, fc1, fc2, gamma;
};

BlockKeys torchvisionBlock(const std::string& p)
{
    return {p + ".block.0", p + ".block.2", p + ".block.3", p + ".block.5", p + ".layer_scale"};
}

BlockKeys timmBlock(const std::string& p)
{
    return {p + ".conv_dw", p + ".norm", p + ".mlp.fc1", p + ".mlp.fc2", p + ".gamma"};
}

void appendConvNeXtBlock(Sequence& stage, WeightSource& s, const std::string& name, const BlockKeys& k, int64_t c)
{
    auto& residual = named(stage.add<Residual>(), name, kBlock);
    auto& main = residual.main;
    main.append(readConv(s, k.dwconv, c, {1, 1, std::nullopt, true}));
    const bool convMlp = s.shapeOf(k.fc1 + ".weight").size() == 4;
    if (convMlp) {  // timm's conv_mlp: LayerNorm2d and 1x1 convs on [N, C, H, W]
        main.append(readLayerNorm(s, k.norm, c, kEps, true));
        main.append(readConv(s, k.fc1, c, {1, 1, 0, true}));
        main.add<Activation>(ActivationKind::GELU);
        main.append(readConv(s, k.fc2, s.shapeOf(k.fc1 + ".weight").at(0), {1, 1, 0, true}));
    } else {
        main.add<Permute>(true);
        main.append(readLayerNorm(s, k.norm, c, kEps, false));
        main.append(readLinear(s, k.fc1, c));
        main.add<Activation>(ActivationKind::GELU);
        main.append(readLinear(s, k.fc2, s.shapeOf(k.fc1 + ".weight").at(0)));
        main.add<Permute>(false);
    }
    if (s.has(k.gamma)) {
        auto& scale = main.add<ChannelScale>();
        scale.key = k.gamma;
        const bool flat = s.shapeOf(k.gamma).size() == 1;  // timm [C], torchvision [C, 1, 1]
        scale.gamma = s.take(k.gamma, flat ? std::vector<int64_t>{c} : std::vector<int64_t>{c, 1, 1});
    }
}

// LayerNorm2d + 2x2 stride-2 conv; returns the new channel count.
int64_t appendDownsample(Sequence& seq, WeightSource& s, const std::string& norm, const std::string& conv, int64_t c)
{
    seq.append(readLayerNorm(s, norm, c, kEps, true));
    seq.append(readConv(s, conv, c, {2, 1, 0, true}));
    return s.shapeOf(conv + ".weight").at(0);
}

}  // namespace

bool looksLikeConvNeXt(const WeightSource& s)
{
    return (s.has("features.0.0.weight") && s.has("features.1.0.block.0.weight"))
           || (s.has("stem.0.weight") && s.has("stages.0.blocks.0.conv_dw.weight"));
}

Network readConvNeXt(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    const bool timm = s.has("stem.0.weight");
    const std::string stemConv = timm ? "stem.0" : "features.0.0";
    const std::string stemNorm = timm ? "stem.1" : "features.0.1";
    Network net;
    auto& f = net.features;
    const int64_t inputChannels = s.shapeOf(stemConv + ".weight").at(1);
    auto& stem = named(f.add<Sequence>(), timm ? "stem" : "features.0", kBoth);
    stem.append(readConv(s, stemConv, inputChannels, {4, 1, 0, true}));
    int64_t c = s.shapeOf(stemConv + ".weight").at(0);
    stem.append(readLayerNorm(s, stemNorm, c, kEps, true));
    std::vector<int> depths;
    for (int stage = 0;; ++stage) {
        if (timm) {
            const auto p = "stages." + std::to_string(stage);
            if (!s.has(p + ".blocks.0.conv_dw.weight"))
                break;
            auto& seq = named(f.add<Sequence>(), p, kStage);
            if (s.has(p + ".downsample.1.weight"))
                c = appendDownsample(seq, s, p + ".downsample.0", p + ".downsample.1", c);
            depths.push_back(countIndexed(s, p + ".blocks.", ".conv_dw.weight"));
            for (int b = 0; b < depths.back(); ++b)
                appendConvNeXtBlock(seq, s, p + ".blocks." + std::to_string(b),
                                    timmBlock(p + ".blocks." + std::to_string(b)), c);
        } else {
            const auto index = 2 * stage + 1;
            const auto p = "features." + std::to_string(index);
            if (!s.has(p + ".0.block.0.weight"))
                break;
            if (stage > 0) {
                const auto d = "features." + std::to_string(index - 1);
                c = appendDownsample(named(f.add<Sequence>(), d, kBlock), s, d + ".0", d + ".1", c);
            }
            auto& seq = named(f.add<Sequence>(), p, kStage);
            depths.push_back(countIndexed(s, p + ".", ".block.0.weight"));
            for (int b = 0; b < depths.back(); ++b)
                appendConvNeXtBlock(seq, s, p + "." + std::to_string(b), torchvisionBlock(p + "." + std::to_string(b)),
                                    c);
        }
    }
    const std::string headNorm = timm ? "head.norm" : "classifier.0";
    const std::string headFc = timm ? "head.fc" : "classifier.2";
    if (s.has(headFc + ".weight")) {
        net.head.add<AdaptiveAvgPool2d>();
        net.head.append(readLayerNorm(s, headNorm, c, kEps, true));
        net.head.add<Flatten>();
        auto& fc = static_cast<Linear&>(net.head.append(readLinear(s, headFc, c)));
        spec.numClasses = int(fc.weight.size(0));
    } else if (s.has(headNorm + ".weight")) {
        s.ignore(headNorm + ".weight");  // the head's norm alone only feeds a classifier that is not there
        s.ignore(headNorm + ".bias");
    }
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    spec.naming = timm ? Naming::Timm : Naming::Torchvision;
    describe(net, spec);
    spec.architecture = "convnext";
    const auto width = s.shapeOf(stemConv + ".weight").at(0);
    struct Size {
        std::vector<int> depths;
        int64_t width;
        const char* name;
    };
    static const Size sizes[] = {{{3, 3, 9, 3}, 96, "convnext_tiny"},
                                 {{3, 3, 27, 3}, 96, "convnext_small"},
                                 {{3, 3, 27, 3}, 128, "convnext_base"},
                                 {{3, 3, 27, 3}, 192, "convnext_large"},
                                 {{3, 3, 27, 3}, 256, "convnext_xlarge"}};
    for (const auto& size : sizes)
        if (size.depths == depths && size.width == width)
            spec.variant = size.name;
    std::string depthList;
    for (int d : depths)
        depthList += (depthList.empty() ? "" : ", ") + std::to_string(d);
    spec.description = (spec.variant.empty() ? std::string("convnext") : spec.variant) + " (depths " + depthList
                       + ", width " + std::to_string(width) + ")";
    return net;
}

}  // namespace attnviz::engine::cnn
