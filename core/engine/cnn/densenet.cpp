// torchvision's DenseNet: features.conv0 (7x7 stride 2) + norm0 + relu0 + pool0, then
// dense blocks whose layers each append growth-rate new channels
// (norm1, ReLU, conv1 1x1, norm2, ReLU, conv2 3x3) to their input, transitions
// (norm, ReLU, conv 1x1, 2x2 average pool) between them, and norm5; the classifier
// applies ReLU, global average pooling and `classifier`.
#include "core/engine/cnn/families.h"
#include "core/engine/cnn/reading.h"

namespace attnviz::engine::cnn {
namespace {

// norm, ReLU, conv: the pre-activation unit DenseNet is built of.
int64_t appendNormActConv(Sequence& seq, WeightSource& s, const std::string& norm, const std::string& conv, int64_t in)
{
    seq.append(readBatchNorm(s, norm, in));
    seq.add<Activation>(ActivationKind::ReLU);
    seq.append(readConv(s, conv, in));
    return s.shapeOf(conv + ".weight").at(0);
}

int64_t appendDenseBlock(Sequence& block, WeightSource& s, const std::string& p, int64_t c)
{
    const int layers = countIndexed(s, p + ".denselayer", ".conv1.weight", 1);
    for (int l = 1; l <= layers; ++l) {
        const auto q = p + ".denselayer" + std::to_string(l) + ".";
        auto& layer = block.add<DenseConcat>();
        const auto mid = appendNormActConv(layer.body, s, q + "norm1", q + "conv1", c);
        c += appendNormActConv(layer.body, s, q + "norm2", q + "conv2", mid);
    }
    return c;
}

}  // namespace

bool looksLikeDenseNet(const WeightSource& s)
{
    return s.has("features.conv0.weight") && s.has("features.denseblock1.denselayer1.conv1.weight");
}

// Stages: relu0, pool0, denseblock1..3 and norm5 (the last dense block's output after
// the final norm: what pytorch-grad-cam's examples target); blocks every dense block and
// transition output.
Network readDenseNet(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    Network net;
    auto& f = net.features;
    const int64_t inputChannels = s.shapeOf("features.conv0.weight").at(1);
    f.append(readConv(s, "features.conv0", inputChannels, {2, 1, 3}));
    int64_t c = s.shapeOf("features.conv0.weight").at(0);
    f.append(readBatchNorm(s, "features.norm0", c));
    named(f.add<Activation>(ActivationKind::ReLU), "features.relu0", kBoth);
    named(addPool(f, Pool2d::Kind::Max, 3, 2, 1), "features.pool0", kBoth);
    const int blocks = countIndexed(s, "features.denseblock", ".denselayer1.conv1.weight", 1);
    for (int b = 1; b <= blocks; ++b) {
        const auto p = "features.denseblock" + std::to_string(b);
        c = appendDenseBlock(named(f.add<Sequence>(), p, b < blocks ? kBoth : kBlock), s, p, c);
        if (b == blocks)
            break;
        const auto transition = "features.transition" + std::to_string(b);
        auto& t = named(f.add<Sequence>(), transition, kBlock);
        c = appendNormActConv(t, s, transition + ".norm", transition + ".conv", c);
        addPool(t, Pool2d::Kind::Average, 2, 2, 0);
    }
    named(static_cast<BatchNorm2d&>(f.append(readBatchNorm(s, "features.norm5", c))), "features.norm5", kBoth);

    net.head.add<Activation>(ActivationKind::ReLU);
    spec.numClasses = appendPoolLinearHead(net.head, s, "classifier", c);
    if (spec.numClasses == 0)
        net.head.layers.clear();
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    spec.naming = Naming::Torchvision;
    describe(net, spec);
    spec.architecture = "densenet";
    spec.variant = "densenet" + std::to_string(spec.depth);
    spec.description = spec.variant + " (" + std::to_string(blocks) + " dense blocks, growth rate "
                       + std::to_string(s.shapeOf("features.denseblock1.denselayer1.conv2.weight").at(0)) + ")";
    return net;
}

}  // namespace attnviz::engine::cnn
