#include "core/engine/cnn/reading.h"

#include "core/engine/engineerror.h"
#include "core/io/bytes.h"

namespace attnviz::engine::cnn {

std::unique_ptr<Conv2d> readConv(WeightSource& s, const std::string& name, int64_t in, const ConvOptions& options)
{
    auto conv = std::make_unique<Conv2d>();
    conv->name = name;
    conv->weight = s.take(name + ".weight", {-1, -1, -1, -1});
    const auto& w = conv->weight;
    if (w.numel() == 0 || w.size(2) != w.size(3))
        throw EngineError("key '" + name + ".weight' has shape " + io::shapeString(w.sizes().vec())
                          + ", expected a non-empty square kernel");
    if (in % w.size(1) != 0 || w.size(0) % (in / w.size(1)) != 0)
        throw EngineError("key '" + name + ".weight' has shape " + io::shapeString(w.sizes().vec())
                          + " but its input has " + std::to_string(in) + " channels");
    conv->groups = int(in / w.size(1));
    conv->bias = options.bias ? s.take(name + ".bias", {w.size(0)}) : s.takeIfPresent(name + ".bias", {w.size(0)});
    conv->stride = options.stride;
    conv->dilation = options.dilation;
    conv->padding = options.padding.value_or(options.dilation * int(w.size(2) / 2));
    return conv;
}

std::unique_ptr<BatchNorm2d> readBatchNorm(WeightSource& s, const std::string& name, int64_t channels, double eps)
{
    auto bn = std::make_unique<BatchNorm2d>();
    bn->name = name;
    bn->weight = s.take(name + ".weight", {channels});
    bn->bias = s.take(name + ".bias", {channels});
    bn->runningMean = s.take(name + ".running_mean", {channels});
    bn->runningVar = s.take(name + ".running_var", {channels});
    if (s.has(name + ".num_batches_tracked"))
        s.ignore(name + ".num_batches_tracked");
    bn->eps = eps;
    return bn;
}

std::unique_ptr<LayerNorm> readLayerNorm(WeightSource& s, const std::string& name, int64_t channels, double eps,
                                         bool channelsFirst)
{
    auto ln = std::make_unique<LayerNorm>();
    ln->name = name;
    ln->weight = s.take(name + ".weight", {channels});
    ln->bias = s.take(name + ".bias", {channels});
    ln->eps = eps;
    ln->channelsFirst = channelsFirst;
    return ln;
}

std::unique_ptr<Linear> readLinear(WeightSource& s, const std::string& name, int64_t in)
{
    auto fc = std::make_unique<Linear>();
    fc->name = name;
    fc->weight = s.take(name + ".weight", {-1, in});
    fc->bias = s.takeIfPresent(name + ".bias", {fc->weight.size(0)});
    return fc;
}

std::unique_ptr<SqueezeExcitation> readSqueezeExcitation(WeightSource& s, const std::string& reduce,
                                                         const std::string& expand, int64_t channels,
                                                         ActivationKind activation, ActivationKind gate)
{
    auto se = std::make_unique<SqueezeExcitation>();
    se->reduce = std::move(*readConv(s, reduce, channels, {1, 1, std::nullopt, true}));
    se->expand = std::move(*readConv(s, expand, outChannels(se->reduce), {1, 1, std::nullopt, true}));
    if (outChannels(se->expand) != channels || se->reduce.kernel() != 1 || se->expand.kernel() != 1)
        throw EngineError("squeeze-excitation '" + reduce + "', '" + expand + "' does not map "
                          + std::to_string(channels) + " channels back to themselves with 1x1 convs");
    se->activation = activation;
    se->gate = gate;
    return se;
}

int64_t outChannels(const Conv2d& conv)
{
    return conv.weight.size(0);
}

int64_t appendConvNormAct(Sequence& seq, WeightSource& s, const std::string& conv, const std::string& norm, int64_t in,
                          const ConvOptions& options, std::optional<ActivationKind> activation, double eps)
{
    auto& c = seq.append(readConv(s, conv, in, options));
    const auto out = outChannels(static_cast<Conv2d&>(c));
    seq.append(readBatchNorm(s, norm, out, eps));
    if (activation)
        seq.add<Activation>(*activation);
    return out;
}

Pool2d& addPool(Sequence& seq, Pool2d::Kind kind, int kernel, int stride, int padding)
{
    auto& pool = seq.add<Pool2d>();
    pool.kind = kind;
    pool.kernel = kernel;
    pool.stride = stride;
    pool.padding = padding;
    return pool;
}

int appendPoolLinearHead(Sequence& head, WeightSource& s, const std::string& fc, int64_t channels)
{
    if (!s.has(fc + ".weight"))
        return 0;
    head.add<AdaptiveAvgPool2d>();
    head.add<Flatten>();
    auto& linear = static_cast<Linear&>(head.append(readLinear(s, fc, channels)));
    return int(linear.weight.size(0));
}

}  // namespace attnviz::engine::cnn
