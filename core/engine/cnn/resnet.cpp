// torchvision's ResNet, ResNeXt and Wide ResNet (timm's resnet* use the same keys):
// conv1 (7x7 stride 2) + bn1 + ReLU, 3x3 max-pool, stages layer1..layerN of
// BasicBlocks (conv1 3x3, conv2 3x3) or Bottlenecks (conv1 1x1, conv2 3x3 grouped and
// strided (v1.5), conv3 1x1), each ReLU(main + shortcut); global average pool, fc.
#include "core/engine/cnn/families.h"
#include "core/engine/cnn/reading.h"
#include "core/engine/engineerror.h"

namespace attnviz::engine::cnn {
namespace {

struct BlockShape {
    bool bottleneck = false;
    int groups = 1;
    int64_t width = 0;  // conv2's channels in the first block
};

// One residual block "layerS.B." reading `in` channels; returns its output channels.
int64_t appendResNetBlock(Sequence& stage, WeightSource& s, const std::string& p, int64_t in, int stride,
                          bool bottleneck)
{
    auto& block = named(stage.add<Sequence>(), p.substr(0, p.size() - 1), kBlock);
    auto& residual = block.add<Residual>();
    residual.name = block.name;
    auto& main = residual.main;
    int64_t c = appendConvNormAct(main, s, p + "conv1", p + "bn1", in, {bottleneck ? 1 : stride}, ActivationKind::ReLU);
    if (bottleneck) {
        c = appendConvNormAct(main, s, p + "conv2", p + "bn2", c, {stride}, ActivationKind::ReLU);
        c = appendConvNormAct(main, s, p + "conv3", p + "bn3", c, {}, std::nullopt);
    } else {
        c = appendConvNormAct(main, s, p + "conv2", p + "bn2", c, {}, std::nullopt);
    }
    if (s.has(p + "downsample.0.weight")) {
        appendConvNormAct(residual.shortcut, s, p + "downsample.0", p + "downsample.1", in, {stride, 1, 0},
                          std::nullopt);
    } else if (s.has(p + "downsample.1.weight")) {  // timm's avg_down: 2x2 average pool, then a 1x1 conv
        if (stride > 1) {
            auto& pool = addPool(residual.shortcut, Pool2d::Kind::Average, stride, stride, 0);
            pool.ceilMode = true;
            pool.countIncludePad = false;
        }
        appendConvNormAct(residual.shortcut, s, p + "downsample.1", p + "downsample.2", in, {1, 1, 0}, std::nullopt);
    } else if (stride != 1 || c != in) {
        throw EngineError("block '" + block.name + "' changes shape (" + std::to_string(in) + " -> " + std::to_string(c)
                          + " channels, stride " + std::to_string(stride) + ") but has no downsample weights");
    }
    block.add<Activation>(ActivationKind::ReLU);
    return c;
}

// conv1 + bn1 + ReLU, or timm's deep stem (conv1.0, .1, .3, .4, .6 + bn1: three 3x3
// convs, the first strided); its output is recorded as "conv1".
int64_t appendResNetStem(Sequence& f, WeightSource& s, int stride, int64_t& inputChannels)
{
    const bool deep = s.has("conv1.0.weight");
    inputChannels = s.shapeOf(deep ? "conv1.0.weight" : "conv1.weight").at(1);
    int64_t c = inputChannels;
    if (deep) {
        c = appendConvNormAct(f, s, "conv1.0", "conv1.1", c, {stride}, ActivationKind::ReLU);
        c = appendConvNormAct(f, s, "conv1.3", "conv1.4", c, {}, ActivationKind::ReLU);
    }
    // The stem's last conv: bn1 normalises it.
    const auto& last = static_cast<Conv2d&>(f.append(readConv(s, deep ? "conv1.6" : "conv1", c, {deep ? 1 : stride})));
    c = outChannels(last);
    f.append(readBatchNorm(s, "bn1", c));
    named(f.add<Activation>(ActivationKind::ReLU), "conv1", kBoth);
    return c;
}

std::string variantName(int depth, const BlockShape& shape)
{
    const auto d = std::to_string(depth);
    if (shape.bottleneck && shape.groups > 1)
        return "resnext" + d + "_" + std::to_string(shape.groups) + "x" + std::to_string(shape.width / shape.groups)
               + "d";
    if (shape.bottleneck && shape.width == 128)
        return "wide_resnet" + d + "_2";
    return "resnet" + d;
}

}  // namespace

bool looksLikeResNet(const WeightSource& s)
{
    return (s.has("conv1.weight") || s.has("conv1.0.weight")) && s.has("bn1.weight") && s.has("layer1.0.conv1.weight");
}

Network readResNet(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec)
{
    Network net;
    auto& f = net.features;
    int64_t inputChannels = 3;
    int64_t c = appendResNetStem(f, s, config.stemStride.value_or(2), inputChannels);
    if (config.stemPool.value_or(true))
        named(addPool(f, Pool2d::Kind::Max, 3, 2, 1), "maxpool", kBoth);
    BlockShape shape;
    shape.bottleneck = s.has("layer1.0.conv3.weight");
    int stages = 0;
    for (; s.has("layer" + std::to_string(stages + 1) + ".0.conv1.weight"); ++stages) {
        const auto name = "layer" + std::to_string(stages + 1);
        auto& seq = named(f.add<Sequence>(), name, kStage);
        const int blocks = countIndexed(s, name + ".", ".conv1.weight");
        for (int i = 0; i < blocks; ++i)
            c = appendResNetBlock(seq, s, name + "." + std::to_string(i) + ".", c, (stages > 0 && i == 0) ? 2 : 1,
                                  shape.bottleneck);
    }
    const auto conv2 = s.shapeOf("layer1.0.conv2.weight");
    shape.width = conv2.at(0);
    shape.groups = int(conv2.at(0) / std::max<int64_t>(1, conv2.at(1)));
    spec.numClasses = appendPoolLinearHead(net.head, s, "fc", c);
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    describe(net, spec);
    const bool deepStem = s.has("conv1.0.weight");
    if (deepStem)
        spec.depth -= 2;  // timm counts a deep stem as one layer: resnet50d has 50
    const bool timm = deepStem || (!config.architecture.empty() && config.architecture.rfind("attnviz", 0) != 0);
    spec.naming = timm ? Naming::Timm : Naming::Torchvision;
    spec.architecture = shape.groups > 1                         ? "resnext"
                        : shape.width == 128 && shape.bottleneck ? "wide_resnet"
                                                                 : "resnet";
    spec.variant = variantName(spec.depth, shape) + (deepStem ? "d" : "");
    spec.description = spec.variant + " (" + (shape.bottleneck ? "Bottleneck" : "BasicBlock") + ", "
                       + std::to_string(stages) + " stages"
                       + (shape.groups > 1 ? ", " + std::to_string(shape.groups) + " groups" : "") + ")";
    return net;
}

}  // namespace attnviz::engine::cnn
