// torchvision's VGG with and without batch norm: `features` is a flat Sequential of
// 3x3 convs (padding 1, with bias), [BatchNorm,] ReLU and 2x2 max-pools; then a 7x7
// adaptive average pool and classifier.{0, 3, 6} (Linear, ReLU, Dropout, ...).
#include "core/engine/cnn/families.h"
#include "core/engine/cnn/reading.h"
#include "core/engine/engineerror.h"

namespace attnviz::engine::cnn {
namespace {

std::string featureName(int index)
{
    return "features." + std::to_string(index);
}

bool isConv(const WeightSource& s, int index)
{
    return s.has(featureName(index) + ".weight") && !s.has(featureName(index) + ".running_mean");
}

}  // namespace

bool looksLikeVgg(const WeightSource& s)
{
    return isConv(s, 0) && s.has("classifier.0.weight") && s.has("classifier.3.weight")
           && s.shapeOf("features.0.weight").size() == 4;
}

// Stages are the max-pool outputs (features.4, .9, ... for VGG-16, the last being what
// pytorch-grad-cam's examples target); blocks every ReLU and pool output.
Network readVgg(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    Network net;
    auto& f = net.features;
    const int64_t inputChannels = s.shapeOf("features.0.weight").at(1);
    int64_t c = inputChannels;
    int convs = 0;
    bool batchNorm = false;
    // The last weighted index; ReLU and pool modules leave gaps of at most two.
    int lastConv = 0;
    for (int i = 0, gap = 0; gap <= 2; ++i, ++gap)
        if (s.has(featureName(i) + ".weight"))
            lastConv = i, gap = -1;
    int i = 0;
    while (i <= lastConv) {
        if (!isConv(s, i)) {  // a max-pool between conv groups
            named(addPool(f, Pool2d::Kind::Max, 2, 2, 0), featureName(i), kBoth);
            ++i;
            continue;
        }
        f.append(readConv(s, featureName(i), c, {1, 1, 1, true}));
        c = s.shapeOf(featureName(i) + ".weight").at(0);
        ++convs;
        if (s.has(featureName(i + 1) + ".running_mean")) {
            f.append(readBatchNorm(s, featureName(i + 1), c));
            batchNorm = true;
            ++i;
        }
        named(f.add<Activation>(ActivationKind::ReLU), featureName(i + 1), kBlock);
        i += 2;
    }
    named(addPool(f, Pool2d::Kind::Max, 2, 2, 0), featureName(i), kBoth);

    auto& head = net.head;
    if (s.has("classifier.0.weight")) {
        auto& pool = head.add<AdaptiveAvgPool2d>();
        pool.outH = pool.outW = 7;
        head.add<Flatten>();
        int64_t width = c * 49;
        for (int index : {0, 3, 6}) {
            if (index > 0)
                head.add<Activation>(ActivationKind::ReLU);
            auto& fc = static_cast<Linear&>(head.append(readLinear(s, "classifier." + std::to_string(index), width)));
            width = fc.weight.size(0);
        }
        spec.numClasses = int(width);
    }
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    spec.naming = Naming::Torchvision;
    describe(net, spec);
    spec.architecture = "vgg";
    spec.variant = "vgg" + std::to_string(convs + 3) + (batchNorm ? "_bn" : "");
    spec.description = spec.variant + " (" + std::to_string(convs) + " convs" + (batchNorm ? ", batch norm" : "") + ")";
    return net;
}

}  // namespace attnviz::engine::cnn
