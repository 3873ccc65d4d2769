// torchvision's RegNet X and Y: `stem` (3x3 stride 2 conv unit), trunk_output.block1..4
// of ResBottleneckBlocks "blockS-M": ReLU(proj(x) + f(x)) with f = a (1x1), b (3x3
// grouped, strided in a stage's first block), [se (Y)], c (1x1, linear); then global
// average pooling and `fc`.
#include "core/engine/cnn/families.h"
#include "core/engine/cnn/reading.h"
#include "core/engine/engineerror.h"

namespace attnviz::engine::cnn {
namespace {

int64_t appendRegNetBlock(Sequence& stage, WeightSource& s, const std::string& p, int64_t in, int stride)
{
    auto& block = named(stage.add<Sequence>(), p, kBlock);
    auto& residual = block.add<Residual>();
    residual.name = block.name;
    auto& f = residual.main;
    int64_t c = appendConvNormAct(f, s, p + ".f.a.0", p + ".f.a.1", in, {}, ActivationKind::ReLU);
    c = appendConvNormAct(f, s, p + ".f.b.0", p + ".f.b.1", c, {stride}, ActivationKind::ReLU);
    if (s.has(p + ".f.se.fc1.weight"))
        f.append(readSqueezeExcitation(s, p + ".f.se.fc1", p + ".f.se.fc2", c, ActivationKind::ReLU,
                                       ActivationKind::Sigmoid));
    c = appendConvNormAct(f, s, p + ".f.c.0", p + ".f.c.1", c, {}, std::nullopt);
    if (s.has(p + ".proj.0.weight"))
        appendConvNormAct(residual.shortcut, s, p + ".proj.0", p + ".proj.1", in, {stride, 1, 0}, std::nullopt);
    else if (stride != 1 || c != in)
        throw EngineError("block '" + p + "' changes shape but has no proj weights");
    block.add<Activation>(ActivationKind::ReLU);
    return c;
}

}  // namespace

bool looksLikeRegNet(const WeightSource& s)
{
    return s.has("stem.0.weight") && s.has("trunk_output.block1.block1-0.f.a.0.weight");
}

Network readRegNet(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    Network net;
    auto& f = net.features;
    const int64_t inputChannels = s.shapeOf("stem.0.weight").at(1);
    auto& stem = named(f.add<Sequence>(), "stem", kBoth);
    int64_t c = appendConvNormAct(stem, s, "stem.0", "stem.1", inputChannels, {2}, ActivationKind::ReLU);
    int stages = 0;
    int groupWidth = 0;
    for (; s.has("trunk_output.block" + std::to_string(stages + 1) + ".block" + std::to_string(stages + 1)
                 + "-0.f.a.0.weight");
         ++stages) {
        const auto n = std::to_string(stages + 1);
        const auto name = "trunk_output.block" + n;
        auto& stage = named(f.add<Sequence>(), name, kStage);
        const int blocks = countIndexed(s, name + ".block" + n + "-", ".f.a.0.weight");
        for (int b = 0; b < blocks; ++b)
            c = appendRegNetBlock(stage, s, name + ".block" + n + "-" + std::to_string(b), c, b == 0 ? 2 : 1);
        if (stages == 0)
            groupWidth = int(s.shapeOf(name + ".block1-0.f.b.0.weight").at(1));
    }
    spec.numClasses = appendPoolLinearHead(net.head, s, "fc", c);
    spec.embedDim = int(c);
    spec.preprocessing.inputSize[0] = int(inputChannels);
    spec.naming = Naming::Torchvision;
    describe(net, spec);
    const bool y = s.has("trunk_output.block1.block1-0.f.se.fc1.weight");
    spec.architecture = y ? "regnet_y" : "regnet_x";
    spec.description = spec.architecture + " (" + std::to_string(stages) + " stages, group width "
                       + std::to_string(groupWidth) + ", " + std::to_string(c) + " channels)";
    return net;
}

}  // namespace attnviz::engine::cnn
