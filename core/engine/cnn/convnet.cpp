#include "core/engine/cnn/convnet.h"

#include "core/engine/model/batchtraces.h"

#include "core/engine/engineerror.h"
#include "core/engine/tensorconvert.h"
#include "core/io/bytes.h"

#include <algorithm>
#include <chrono>

namespace attnviz::engine::cnn {

void describe(const Network& network, ModelSpec& spec)
{
    FieldSink sink;
    network.features.field({}, sink);
    spec.receptiveFields = std::move(sink.fields);
    spec.stages.clear();
    for (const auto& f : spec.receptiveFields)
        if (f.stage)
            spec.stages.push_back(f.name);
    // Model names count the classifier whether or not a checkpoint kept it.
    spec.depth = network.features.depth() + std::max(1, network.head.depth());
    spec.family = Family::CNN;
}

ConvNet::ConvNet(ModelSpec spec, Network network)
    : m_spec(std::move(spec))
    , m_network(std::move(network))
{
}

std::vector<NamedTensor> ConvNet::named() const
{
    std::vector<NamedTensor> out;
    m_network.features.collect(out);
    m_network.head.collect(out);
    return out;
}

void ConvNet::to(torch::Device device)
{
    for (auto& entry : named())
        *entry.tensor = entry.tensor->to(device);
    m_device = device;
}

std::vector<std::pair<std::string, torch::Tensor>> ConvNet::namedParameters() const
{
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& entry : named())
        if (!entry.isBuffer)
            out.emplace_back(entry.name, *entry.tensor);
    return out;
}

io::TensorMap ConvNet::stateDict() const
{
    io::TensorMap out;
    for (auto& entry : named())
        out[entry.name] = toRawF32(*entry.tensor);
    return out;
}

torch::Tensor ConvNet::run(const torch::Tensor& input, RunContext& context, torch::Tensor* lastFeatures) const
{
    const int channels = m_spec.preprocessing.inputSize[0];
    if (input.dim() != 4 || input.size(1) != channels)
        throw EngineError("CNN input must be [N, " + std::to_string(channels) + ", H, W], got "
                          + io::shapeString(input.sizes().vec()));
    const auto features = m_network.features.forward(input.to(m_device, torch::kFloat32), context);
    if (context.replacement && !context.replaced)
        throw EngineError("no layer '" + context.replacement->layer
                          + "' to replace (known: the stage and block names)");
    if (lastFeatures)
        *lastFeatures = features;
    if (m_network.head.empty())
        return {};
    return m_network.head.forward(features, context);
}

torch::Tensor ConvNet::logits(const torch::Tensor& batch, bool training) const
{
    RunContext context;
    context.training = training;
    return run(batch, context);
}

Activations ConvNet::activations(const torch::Tensor& batch) const
{
    Activations out;
    RunContext context;
    context.blocks = &out.features;
    out.logits = run(batch, context);
    return out;
}

Activations ConvNet::activationsOfLastLayer(const torch::Tensor& lastLayerInput, const TokenLayout&) const
{
    if (lastLayerInput.dim() != 4 || m_spec.stages.empty())
        throw EngineError("the last feature map must be [N, C, h, w], got "
                          + io::shapeString(lastLayerInput.sizes().vec()));
    Activations out;
    const auto x = lastLayerInput.to(m_device, torch::kFloat32);
    out.features.emplace_back(m_spec.stages.back(), x);
    RunContext context;
    if (!m_network.head.empty())
        out.logits = m_network.head.forward(x, context);
    return out;
}

torch::Tensor ConvNet::logitsReplacing(const torch::Tensor& input, const LayerReplacement& replacement) const
{
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("a replaced forward takes one image [1, C, H, W], got "
                          + io::shapeString(input.sizes().vec()));
    RunContext context;
    context.replacement = &replacement;
    return run(input, context);
}

std::vector<Trace> ConvNet::forwardBatch(const torch::Tensor& batch) const
{
    const auto start = std::chrono::steady_clock::now();
    torch::InferenceMode guard;
    if (batch.dim() != 4 || batch.size(0) < 1)
        throw EngineError("a trace takes images [N, C, H, W], got " + io::shapeString(batch.sizes().vec()));
    FeatureSink stages;                    // [N, C, h, w] each
    std::vector<ResidualNorms> residuals;  // [N, h * w] each
    RunContext context;
    context.stages = &stages;
    context.residuals = &residuals;
    torch::Tensor last;  // [N, C, h, w]
    const auto logits = run(batch, context, &last);
    // The head can resume from the last stage's output when that is the last feature map.
    const bool resumable = !stages.empty() && stages.back().second.is_same(last);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto traces = batchTraces(batch, logits, seconds);
    for (int64_t n = 0; n < batch.size(0); ++n) {
        auto& trace = traces[std::size_t(n)];
        for (auto& [name, t] : stages)
            trace.features.emplace_back(name, t.slice(0, n, n + 1).to(torch::kCPU));
        trace.residuals = residualsOf(residuals, n);
        if (resumable)
            trace.lastLayerInput = trace.features.back().second;
    }
    return traces;
}

}  // namespace attnviz::engine::cnn
