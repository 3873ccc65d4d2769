#include "core/engine/resnet.h"

#include "core/engine/engineerror.h"
#include "core/engine/tensorconvert.h"

#include <chrono>

namespace attnviz::engine {
namespace {

constexpr double kBnEps = 1e-5;  // torchvision and timm ResNets

ConvBn readConvBn(WeightSource& s, const std::string& conv, const std::string& bn,
                  std::vector<std::int64_t> shape, int stride)
{
    ConvBn c;
    c.convW = s.take(conv + ".weight", shape);
    if (c.convW.numel() == 0 || c.convW.size(2) != c.convW.size(3))
        throw EngineError("key '" + conv + ".weight' has shape " + io::shapeString(c.convW.sizes().vec())
                          + ", expected a non-empty square kernel");
    const auto out = c.convW.size(0);
    c.bnW = s.take(bn + ".weight", {out});
    c.bnB = s.take(bn + ".bias", {out});
    c.bnMean = s.take(bn + ".running_mean", {out});
    c.bnVar = s.take(bn + ".running_var", {out});
    if (s.has(bn + ".num_batches_tracked"))
        s.ignore(bn + ".num_batches_tracked");
    c.stride = stride;
    c.padding = int(c.convW.size(2) / 2);
    return c;
}

// training: batch statistics, and running statistics updated with momentum 0.1.
torch::Tensor applyConvBn(const ConvBn& c, const torch::Tensor& x, bool training)
{
    auto y = torch::conv2d(x, c.convW, {}, c.stride, c.padding);
    return torch::batch_norm(y, c.bnW, c.bnB, c.bnMean, c.bnVar, training, 0.1, kBnEps, false);
}

int countBlocks(const WeightSource& s, int stage)
{
    int n = 0;
    while (s.has("layer" + std::to_string(stage) + "." + std::to_string(n) + ".conv1.weight"))
        ++n;
    return n;
}

ResidualBlockWeights readBlock(WeightSource& s, const std::string& p, int64_t in, int stride, bool bottleneck)
{
    ResidualBlockWeights b;
    // Bottleneck v1.5 (torchvision, timm): the stride sits on the 3x3 conv2.
    b.convs.push_back(readConvBn(s, p + "conv1", p + "bn1", {-1, in, -1, -1}, bottleneck ? 1 : stride));
    const auto mid = b.convs[0].convW.size(0);
    b.convs.push_back(readConvBn(s, p + "conv2", p + "bn2", {-1, mid, -1, -1}, bottleneck ? stride : 1));
    if (bottleneck)
        b.convs.push_back(readConvBn(s, p + "conv3", p + "bn3", {-1, b.convs[1].convW.size(0), 1, 1}, 1));
    const auto out = b.convs.back().convW.size(0);
    b.hasDownsample = s.has(p + "downsample.0.weight");
    if (b.hasDownsample)
        b.downsample = readConvBn(s, p + "downsample.0", p + "downsample.1", {out, in, 1, 1}, stride);
    else if (stride != 1 || out != in)
        throw EngineError("block '" + p.substr(0, p.size() - 1) + "' changes shape (" + std::to_string(in) + " -> "
                          + std::to_string(out) + " channels, stride " + std::to_string(stride)
                          + ") but has no downsample weights");
    return b;
}

int resnetDepth(const std::vector<int>& blocks, bool bottleneck)
{
    int total = 0;
    for (int n : blocks)
        total += n;
    return total * (bottleneck ? 3 : 2) + 2;
}

}  // namespace

bool looksLikeResNet(const WeightSource& s)
{
    return s.has("conv1.weight") && s.has("bn1.weight") && s.has("layer1.0.conv1.weight");
}

ResNetWeights readResNetWeights(WeightSource& s, ModelSpec& spec)
{
    ResNetWeights w;
    w.stem = readConvBn(s, "conv1", "bn1", {-1, -1, -1, -1}, spec.stemStride);
    spec.stemKernel = int(w.stem.convW.size(2));
    spec.stemWidth = int(w.stem.convW.size(0));
    spec.preprocessing.inputSize[0] = int(w.stem.convW.size(1));
    spec.bottleneck = s.has("layer1.0.conv3.weight");
    int64_t channels = w.stem.convW.size(0);
    for (int stage = 1; s.has("layer" + std::to_string(stage) + ".0.conv1.weight"); ++stage) {
        const int blocks = countBlocks(s, stage);
        std::vector<ResidualBlockWeights> stageWeights;
        for (int i = 0; i < blocks; ++i) {
            const int stride = (stage > 1 && i == 0) ? 2 : 1;
            const auto p = "layer" + std::to_string(stage) + "." + std::to_string(i) + ".";
            stageWeights.push_back(readBlock(s, p, channels, stride, spec.bottleneck));
            channels = stageWeights.back().convs.back().convW.size(0);
        }
        // The convs' geometry as the forward pass applies it, for the receptive fields.
        const auto geometry = [](const ConvBn& c) {
            return ModelSpec::Conv{int(c.convW.size(2)), c.stride, c.padding};
        };
        auto& blockSpecs = spec.blocks.emplace_back();
        for (const auto& b : stageWeights) {
            auto& blockSpec = blockSpecs.emplace_back();
            for (const auto& c : b.convs)
                blockSpec.convs.push_back(geometry(c));
            if (b.hasDownsample)
                blockSpec.downsample = geometry(b.downsample);
        }
        w.stages.push_back(std::move(stageWeights));
        spec.stageBlocks.push_back(blocks);
        spec.stageWidths.push_back(int(channels));
    }
    if (s.has("fc.weight")) {
        w.fcW = s.take("fc.weight", {-1, channels});
        w.fcB = s.takeIfPresent("fc.bias", {w.fcW.size(0)});
    }
    spec.family = Family::ResNet;
    spec.naming = Naming::Torchvision;
    spec.depth = resnetDepth(spec.stageBlocks, spec.bottleneck);
    spec.embedDim = int(channels);
    spec.numClasses = w.fcW.defined() ? int(w.fcW.size(0)) : 0;
    return w;
}

std::vector<ResNetWeights::Named> ResNetWeights::named()
{
    std::vector<Named> out;
    auto add = [&out](ConvBn& c, const std::string& conv, const std::string& bn) {
        out.push_back({conv + ".weight", &c.convW, false});
        out.push_back({bn + ".weight", &c.bnW, false});
        out.push_back({bn + ".bias", &c.bnB, false});
        out.push_back({bn + ".running_mean", &c.bnMean, true});
        out.push_back({bn + ".running_var", &c.bnVar, true});
    };
    add(stem, "conv1", "bn1");
    for (std::size_t s = 0; s < stages.size(); ++s)
        for (std::size_t i = 0; i < stages[s].size(); ++i) {
            auto& b = stages[s][i];
            const auto p = "layer" + std::to_string(s + 1) + "." + std::to_string(i) + ".";
            for (std::size_t c = 0; c < b.convs.size(); ++c)
                add(b.convs[c], p + "conv" + std::to_string(c + 1), p + "bn" + std::to_string(c + 1));
            if (b.hasDownsample)
                add(b.downsample, p + "downsample.0", p + "downsample.1");
        }
    if (fcW.defined())
        out.push_back({"fc.weight", &fcW, false});
    if (fcB.defined())
        out.push_back({"fc.bias", &fcB, false});
    return out;
}

ResNet::ResNet(ModelSpec spec, ResNetWeights weights)
    : m_spec(std::move(spec))
    , m_w(std::move(weights))
{
}

void ResNet::to(torch::Device device)
{
    for (auto& entry : m_w.named())
        *entry.tensor = entry.tensor->to(device);
    m_device = device;
}

std::vector<torch::Tensor> ResNet::parameters() const
{
    std::vector<torch::Tensor> out;
    for (auto& entry : m_w.named())
        if (!entry.isBuffer)
            out.push_back(*entry.tensor);
    return out;
}

io::TensorMap ResNet::stateDict() const
{
    io::TensorMap out;
    for (auto& entry : m_w.named())
        out[entry.name] = toRawF32(*entry.tensor);
    return out;
}

torch::Tensor ResNet::residualBlock(const ResidualBlockWeights& b, const torch::Tensor& x, bool training) const
{
    auto y = x;
    for (std::size_t i = 0; i < b.convs.size(); ++i) {
        y = applyConvBn(b.convs[i], y, training);
        if (i + 1 < b.convs.size())
            y = torch::relu(y);
    }
    const auto identity = b.hasDownsample ? applyConvBn(b.downsample, x, training) : x;
    return torch::relu(y + identity);
}

torch::Tensor ResNet::run(const torch::Tensor& input, bool training, FeatureSink* stages, FeatureSink* blocks,
                          const LayerReplacement* replacement) const
{
    if (input.dim() != 4 || input.size(1) != m_spec.preprocessing.inputSize[0])
        throw EngineError("ResNet input must be [N, " + std::to_string(m_spec.preprocessing.inputSize[0])
                          + ", H, W], got " + io::shapeString(input.sizes().vec()));
    const auto record = [](FeatureSink* sink, const std::string& name, const torch::Tensor& t) {
        if (sink)
            sink->emplace_back(name, t);
    };
    bool replaced = replacement == nullptr;
    // The named output [N, C, h, w] becomes replacement->value [K, C, h, w].
    const auto replace = [&](const std::string& name, torch::Tensor& x) {
        if (!replacement || replacement->layer != name)
            return;
        const auto& v = replacement->value;
        if (v.dim() != 4 || v.size(1) != x.size(1) || v.size(2) != x.size(2) || v.size(3) != x.size(3))
            throw EngineError("replacement for '" + name + "' must be [K, " + std::to_string(x.size(1)) + ", "
                              + std::to_string(x.size(2)) + ", " + std::to_string(x.size(3)) + "], got "
                              + io::shapeString(v.sizes().vec()));
        x = v.to(x.device(), x.scalar_type());
        replaced = true;
    };
    auto x = torch::relu(applyConvBn(m_w.stem, input.to(m_device, torch::kFloat32), training));
    replace("conv1", x);
    record(stages, "conv1", x);
    record(blocks, "conv1", x);
    if (m_spec.stemPool) {
        x = torch::max_pool2d(x, 3, 2, 1);
        replace("maxpool", x);
        record(stages, "maxpool", x);
        record(blocks, "maxpool", x);
    }
    for (std::size_t s = 0; s < m_w.stages.size(); ++s) {
        const auto stage = "layer" + std::to_string(s + 1);
        for (std::size_t i = 0; i < m_w.stages[s].size(); ++i) {
            x = residualBlock(m_w.stages[s][i], x, training);
            replace(stage + "." + std::to_string(i), x);
            record(blocks, stage + "." + std::to_string(i), x);
        }
        replace(stage, x);  // a stage stands for its last block's output
        record(stages, stage, x);
    }
    if (!replaced)
        throw EngineError("no layer '" + replacement->layer + "' to replace (conv1, maxpool, layerN or layerN.M)");
    if (!m_w.fcW.defined())
        return {};
    return torch::nn::functional::linear(x.mean({2, 3}), m_w.fcW, m_w.fcB);
}

torch::Tensor ResNet::logits(const torch::Tensor& batch, bool training) const
{
    return run(batch, training, nullptr);
}

Activations ResNet::activations(const torch::Tensor& batch) const
{
    Activations out;
    out.logits = run(batch, false, nullptr, &out.features);
    return out;
}

torch::Tensor ResNet::logitsReplacing(const torch::Tensor& input, const LayerReplacement& replacement) const
{
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("a replaced forward takes one image [1, C, H, W], got " + io::shapeString(input.sizes().vec()));
    return run(input, false, nullptr, nullptr, &replacement);
}

Trace ResNet::forward(const torch::Tensor& input) const
{
    const auto start = std::chrono::steady_clock::now();
    torch::InferenceMode guard;
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("a trace takes one image [1, C, H, W], got " + io::shapeString(input.sizes().vec()));
    Trace trace;
    trace.input = input.to(torch::kCPU, torch::kFloat32);
    FeatureSink features;
    const auto logits = run(input, false, &features);
    for (auto& [name, t] : features)
        trace.features.emplace_back(name, t.to(torch::kCPU));
    if (logits.defined())
        trace.logits = logits.to(torch::kCPU);
    trace.forwardSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return trace;
}

}  // namespace attnviz::engine
