// EfficientNet b0-b7 (and torchvision's v2 s/m/l), SiLU throughout.
//   torchvision: `features.0` the strided stem conv unit, features.1..K stages of MBConv
//                (expand, depthwise, squeeze-excitation, project) or, in v2's first stages,
//                FusedMBConv blocks, `features.K+1` a 1x1 conv unit; `classifier.1`.
//   timm:        conv_stem + bn1, blocks.S.B (stage 0 DepthwiseSeparableConv: conv_dw,
//                bn1, se, conv_pw, bn2; later InvertedResidual: conv_pw, bn1, conv_dw, bn2,
//                se, conv_pwl, bn3), conv_head + bn2, `classifier`.
#include "core/engine/cnn/families.h"
#include "core/engine/cnn/invertedresidual.h"
#include "core/engine/engineerror.h"

#include <cmath>

namespace attnviz::engine::cnn {
namespace {

struct Variant {
    const char* name;
    int stemWidth;
    std::vector<int> stageBlocks;
    double eps;
};

// torchvision's _make_divisible(v, 8): the nearest multiple of 8, never 10% below v.
int makeDivisible(double v)
{
    int rounded = std::max(8, int(v + 4) / 8 * 8);
    return rounded < 0.9 * v ? rounded + 8 : rounded;
}

// What the weights cannot tell (each stage's stride and the batch-norm eps) depends on
// the variant, recognised by its stem width and blocks per stage.
std::vector<Variant> knownVariants()
{
    const std::vector<int> b0Blocks{1, 2, 2, 3, 3, 4, 1};
    const std::vector<std::pair<double, double>> multipliers{{1.0, 1.0}, {1.0, 1.1}, {1.1, 1.2}, {1.2, 1.4},
                                                             {1.4, 1.8}, {1.6, 2.2}, {1.8, 2.6}, {2.0, 3.1}};
    static const char* names[] = {"efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
                                  "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7"};
    std::vector<Variant> out;
    for (std::size_t i = 0; i < multipliers.size(); ++i) {
        const auto [width, depth] = multipliers[i];
        std::vector<int> blocks;
        for (int n : b0Blocks)
            blocks.push_back(int(std::ceil(n * depth)));
        out.push_back({names[i], makeDivisible(32 * width), blocks, i >= 5 ? 1e-3 : 1e-5});
    }
    out.push_back({"efficientnet_v2_s", 24, {2, 4, 4, 6, 9, 15}, 1e-3});
    out.push_back({"efficientnet_v2_m", 24, {3, 5, 5, 7, 14, 18, 5}, 1e-3});
    out.push_back({"efficientnet_v2_l", 32, {4, 7, 7, 10, 19, 25, 7}, 1e-3});
    return out;
}

std::string stageName(int i)
{
    return "features." + std::to_string(i);
}

constexpr int kStageStrides[] = {1, 2, 2, 2, 1, 2, 1};  // per stage, in every variant

// timm's blocks.S.B: InvertedResidual when it has conv_pwl, else DepthwiseSeparableConv.
int64_t appendTimmBlock(Sequence& stage, WeightSource& s, const std::string& p, int64_t in, int stride)
{
    const auto se = [&](Sequence& body, int64_t c) {
        if (s.has(p + ".se.conv_reduce.weight"))
            body.append(readSqueezeExcitation(s, p + ".se.conv_reduce", p + ".se.conv_expand", c, ActivationKind::SiLU,
                                              ActivationKind::Sigmoid));
    };
    Sequence body;
    int64_t c = in;
    if (s.has(p + ".conv_pwl.weight")) {
        c = appendConvNormAct(body, s, p + ".conv_pw", p + ".bn1", c, {}, ActivationKind::SiLU);
        c = appendConvNormAct(body, s, p + ".conv_dw", p + ".bn2", c, {stride}, ActivationKind::SiLU);
        se(body, c);
        c = appendConvNormAct(body, s, p + ".conv_pwl", p + ".bn3", c, {}, std::nullopt);
    } else {
        c = appendConvNormAct(body, s, p + ".conv_dw", p + ".bn1", c, {stride}, ActivationKind::SiLU);
        se(body, c);
        c = appendConvNormAct(body, s, p + ".conv_pw", p + ".bn2", c, {}, std::nullopt);
    }
    if (stride == 1 && c == in)
        named(stage.add<Residual>(), p, kBlock).main.layers = std::move(body.layers);
    else
        named(stage.add<Sequence>(), p, kBlock).layers = std::move(body.layers);
    return c;
}

}  // namespace

bool looksLikeTimmEfficientNet(const WeightSource& s)
{
    return s.has("conv_stem.weight") && s.has("blocks.0.0.conv_dw.weight");
}

Network readTimmEfficientNet(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec)
{
    const auto& arch = config.architecture;
    if (arch.rfind("tf_", 0) == 0)
        throw EngineError("'" + arch
                          + "' pads like TensorFlow ('same', asymmetric at stride 2), which attnviz does "
                            "not implement; the PyTorch-trained efficientnet_* checkpoints open");
    if (!arch.empty() && arch.rfind("efficientnet_b", 0) != 0)
        throw EngineError("'" + arch
                          + "' has timm's EfficientNet keys but is not an efficientnet_b*: its strides and "
                            "activations are not in the weights");
    const int stages = countIndexed(s, "blocks.", ".0.conv_dw.weight");
    if (stages != 7)
        throw EngineError("an EfficientNet with " + std::to_string(stages) + " stages: only b0-b7's 7 are known");
    Network net;
    auto& f = net.features;
    const int64_t inputChannels = s.shapeOf("conv_stem.weight").at(1);
    f.append(readConv(s, "conv_stem", inputChannels, {2}));
    int64_t c = s.shapeOf("conv_stem.weight").at(0);
    f.append(readBatchNorm(s, "bn1", c));
    named(f.add<Activation>(ActivationKind::SiLU), "bn1", kBoth);  // timm's BatchNormAct2d holds the SiLU
    for (int i = 0; i < stages; ++i) {
        const auto name = "blocks." + std::to_string(i);
        auto& stage = named(f.add<Sequence>(), name, kStage);
        const int blocks = countIndexed(s, name + ".", ".conv_dw.weight");
        for (int b = 0; b < blocks; ++b)
            c = appendTimmBlock(stage, s, name + "." + std::to_string(b), c, b == 0 ? kStageStrides[i] : 1);
    }
    f.append(readConv(s, "conv_head", c));
    c = s.shapeOf("conv_head.weight").at(0);
    f.append(readBatchNorm(s, "bn2", c));
    named(f.add<Activation>(ActivationKind::SiLU), "bn2", kBoth);
    spec.numClasses = appendPoolLinearHead(net.head, s, "classifier", c);
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    spec.naming = Naming::Timm;
    describe(net, spec);
    spec.architecture = "efficientnet";
    spec.variant = arch;
    spec.description = (arch.empty() ? std::string("efficientnet") : arch) + " (timm naming, 7 stages)";
    return net;
}

bool looksLikeEfficientNet(const WeightSource& s)
{
    return s.has("features.0.0.weight") && s.has("features.1.0.block.0.0.weight");
}

Network readEfficientNet(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    const int stages = countIndexed(s, "features.", ".0.block.0.0.weight", 1);
    std::vector<int> blocks;
    for (int i = 1; i <= stages; ++i)
        blocks.push_back(countIndexed(s, stageName(i) + ".", ".block.0.0.weight"));
    const int stemWidth = int(s.shapeOf("features.0.0.weight").at(0));
    const Variant* variant = nullptr;
    static const auto variants = knownVariants();
    for (const auto& v : variants)
        if (v.stemWidth == stemWidth && v.stageBlocks == blocks)
            variant = &v;
    if (!variant)
        throw EngineError("an EfficientNet with stem width " + std::to_string(stemWidth) + " and "
                          + std::to_string(stages)
                          + " stages is none of torchvision's b0-b7, v2_s/m/l: its strides "
                            "and batch-norm eps are not in the weights");

    Network net;
    auto& f = net.features;
    const int64_t inputChannels = s.shapeOf("features.0.0.weight").at(1);
    auto& stem = named(f.add<Sequence>(), stageName(0), kBoth);
    int64_t c = appendConvNormAct(stem, s, "features.0.0", "features.0.1", inputChannels, {2}, ActivationKind::SiLU,
                                  variant->eps);
    InvertedResidualStyle style;
    style.eps = variant->eps;
    for (int i = 1; i <= stages; ++i) {
        auto& stage = named(f.add<Sequence>(), stageName(i), kStage);
        for (int b = 0; b < blocks[std::size_t(i - 1)]; ++b)
            c = appendInvertedResidual(stage, s, stageName(i) + "." + std::to_string(b), c,
                                       b == 0 ? kStageStrides[i - 1] : 1, style, kBlock);
    }
    auto& last = named(f.add<Sequence>(), stageName(stages + 1), kBoth);
    c = appendConvNormAct(last, s, stageName(stages + 1) + ".0", stageName(stages + 1) + ".1", c, {},
                          ActivationKind::SiLU, variant->eps);
    spec.numClasses = appendPoolLinearHead(net.head, s, "classifier.1", c);
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    spec.naming = Naming::Torchvision;
    describe(net, spec);
    const bool v2 = std::string(variant->name).find("_v2_") != std::string::npos;
    spec.architecture = v2 ? "efficientnet_v2" : "efficientnet";
    spec.variant = variant->name;
    spec.description = spec.variant + " (" + std::to_string(stages) + " stages)";
    return net;
}

}  // namespace attnviz::engine::cnn
