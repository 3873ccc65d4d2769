// torchvision's MobileNet v2 and v3. `features.0` is the strided stem conv unit,
// features.1..N the inverted-residual blocks, the last `features.M` a 1x1 conv unit. What
// the weights cannot tell (each block's stride, v3's activations) comes from torchvision's
// settings, recognised by the number of blocks.
#include "core/engine/cnn/families.h"
#include "core/engine/cnn/invertedresidual.h"
#include "core/engine/engineerror.h"

#include <set>

namespace attnviz::engine::cnn {
namespace {

std::string feature(int i)
{
    return "features." + std::to_string(i);
}

// Stages are the last block at each resolution and the final conv (torchvision's
// feature extractors take the same points); every features.N is a block.
void markStages(Sequence& f, const std::set<int>& stridedBlocks, int lastIndex)
{
    for (auto& layer : f.layers) {
        const int index = std::stoi(layer->name.substr(std::string("features.").size()));
        const bool lastAtResolution = stridedBlocks.count(index + 1) > 0 || index == lastIndex;
        layer->record = lastAtResolution ? kBoth : kBlock;
    }
}

// v2's blocks: `features.N.conv.K` holds [1x1 expand unit,] the depthwise unit, then a
// plain 1x1 conv and its batch norm. ReLU6 throughout, projection linear.
int64_t appendV2Block(Sequence& f, WeightSource& s, int index, int64_t in, int stride)
{
    const auto p = feature(index) + ".conv.";
    Sequence body;
    int64_t c = in;
    int k = 0;
    for (; s.has(p + std::to_string(k) + ".0.weight"); ++k) {
        const bool depthwise = s.shapeOf(p + std::to_string(k) + ".0.weight").at(2) > 1;
        c = appendConvNormAct(body, s, p + std::to_string(k) + ".0", p + std::to_string(k) + ".1", c,
                              {depthwise ? stride : 1}, ActivationKind::ReLU6);
    }
    c = appendConvNormAct(body, s, p + std::to_string(k), p + std::to_string(k + 1), c, {}, std::nullopt);
    if (stride == 1 && c == in) {
        named(f.add<Residual>(), feature(index), kBlock).main.layers = std::move(body.layers);
    } else {
        named(f.add<Sequence>(), feature(index), kBlock).layers = std::move(body.layers);
    }
    return c;
}

int64_t appendMobileNetStem(Sequence& f, WeightSource& s, int64_t& inputChannels, ActivationKind activation, double eps)
{
    inputChannels = s.shapeOf("features.0.0.weight").at(1);
    auto& stem = named(f.add<Sequence>(), "features.0", kBlock);
    return appendConvNormAct(stem, s, "features.0.0", "features.0.1", inputChannels, {2}, activation, eps);
}

int64_t appendLastConv(Sequence& f, WeightSource& s, int index, int64_t in, ActivationKind activation, double eps)
{
    auto& last = named(f.add<Sequence>(), feature(index), kBlock);
    return appendConvNormAct(last, s, feature(index) + ".0", feature(index) + ".1", in, {}, activation, eps);
}

}  // namespace

bool looksLikeMobileNetV2(const WeightSource& s)
{
    return s.has("features.0.0.weight") && s.has("features.1.conv.0.0.weight");
}

bool looksLikeMobileNetV3(const WeightSource& s)
{
    return s.has("features.0.0.weight") && s.has("features.1.block.0.0.weight")
           && !s.has("features.1.0.block.0.0.weight");
}

Network readMobileNetV2(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    // torchvision's inverted_residual_setting: 17 blocks, the first of groups 2, 3, 4
    // and 6 strided.
    const std::set<int> strided{2, 4, 7, 14};
    const int blocks = countIndexed(s, "features.", ".conv.0.0.weight", 1);
    if (blocks != 17)
        throw EngineError("a MobileNet v2 with " + std::to_string(blocks)
                          + " blocks: only torchvision's setting (17) is known, its strides are not in the weights");
    Network net;
    auto& f = net.features;
    int64_t inputChannels = 3;
    int64_t c = appendMobileNetStem(f, s, inputChannels, ActivationKind::ReLU6, 1e-5);
    for (int i = 1; i <= blocks; ++i)
        c = appendV2Block(f, s, i, c, strided.count(i) ? 2 : 1);
    c = appendLastConv(f, s, blocks + 1, c, ActivationKind::ReLU6, 1e-5);
    markStages(f, strided, blocks + 1);
    spec.numClasses = appendPoolLinearHead(net.head, s, "classifier.1", c);
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    spec.naming = Naming::Torchvision;
    describe(net, spec);
    spec.architecture = "mobilenet_v2";
    spec.variant = "mobilenet_v2";
    spec.description = "mobilenet_v2 (17 inverted-residual blocks)";
    return net;
}

Network readMobileNetV3(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    const int blocks = countIndexed(s, "features.", ".block.0.0.weight", 1);
    // torchvision's bneck settings: which blocks are strided, which use hard-swish.
    const bool large = blocks == 15;
    if (blocks != 15 && blocks != 11)
        throw EngineError("a MobileNet v3 with " + std::to_string(blocks)
                          + " blocks: only torchvision's large (15) and small (11) are known, their strides and "
                            "activations are not in the weights");
    const std::set<int> strided = large ? std::set<int>{2, 4, 7, 13} : std::set<int>{1, 2, 4, 9};
    const int firstHardswish = large ? 7 : 4;
    constexpr double kEps = 1e-3;

    Network net;
    auto& f = net.features;
    int64_t inputChannels = 3;
    int64_t c = appendMobileNetStem(f, s, inputChannels, ActivationKind::Hardswish, kEps);
    for (int i = 1; i <= blocks; ++i) {
        InvertedResidualStyle style;
        style.activation = i >= firstHardswish ? ActivationKind::Hardswish : ActivationKind::ReLU;
        style.seActivation = ActivationKind::ReLU;
        style.seGate = ActivationKind::Hardsigmoid;
        style.eps = kEps;
        c = appendInvertedResidual(f, s, feature(i), c, strided.count(i) ? 2 : 1, style, kBlock);
    }
    c = appendLastConv(f, s, blocks + 1, c, ActivationKind::Hardswish, kEps);
    markStages(f, strided, blocks + 1);
    if (s.has("classifier.0.weight")) {
        net.head.add<AdaptiveAvgPool2d>();
        net.head.add<Flatten>();
        net.head.append(readLinear(s, "classifier.0", c));
        net.head.add<Activation>(ActivationKind::Hardswish);
        auto& fc = static_cast<Linear&>(
            net.head.append(readLinear(s, "classifier.3", s.shapeOf("classifier.0.weight").at(0))));
        spec.numClasses = int(fc.weight.size(0));
    }
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    spec.naming = Naming::Torchvision;
    describe(net, spec);
    spec.architecture = "mobilenet_v3";
    spec.variant = large ? "mobilenet_v3_large" : "mobilenet_v3_small";
    spec.description = spec.variant + " (" + std::to_string(blocks) + " inverted-residual blocks)";
    return net;
}

}  // namespace attnviz::engine::cnn
