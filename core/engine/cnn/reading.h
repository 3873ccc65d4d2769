#pragma once

#include "core/engine/cnn/layers.h"
#include "core/engine/loading/weightsource.h"

#include <optional>

// Reading layers out of a checkpoint: every tensor's shape is checked against the
// channels flowing through the network, so a checkpoint that does not fit fails with
// the key that does not.
namespace attnviz::engine::cnn {

struct ConvOptions {
    ConvOptions(int stride_ = 1, int dilation_ = 1, std::optional<int> padding_ = std::nullopt, bool bias_ = false)
        : stride(stride_)
        , dilation(dilation_)
        , padding(padding_)
        , bias(bias_)
    {
    }
    int stride;
    int dilation;
    std::optional<int> padding;  // default: dilation * (kernel / 2), "same" for odd kernels
    bool bias;                   // whether the checkpoint must hold a bias (else: if present)
};

// `name`.weight [out, in / groups, k, k] (square); groups = in / weight.size(1).
std::unique_ptr<Conv2d> readConv(WeightSource& s, const std::string& name, int64_t in, const ConvOptions& options = {});
std::unique_ptr<BatchNorm2d> readBatchNorm(WeightSource& s, const std::string& name, int64_t channels,
                                           double eps = 1e-5);
std::unique_ptr<LayerNorm> readLayerNorm(WeightSource& s, const std::string& name, int64_t channels, double eps,
                                         bool channelsFirst);
// `name`.weight [out, in], `name`.bias [out] when present.
std::unique_ptr<Linear> readLinear(WeightSource& s, const std::string& name, int64_t in);
// `reduce` and `expand` 1x1 convs with biases around a squeeze of `channels`.
std::unique_ptr<SqueezeExcitation> readSqueezeExcitation(WeightSource& s, const std::string& reduce,
                                                         const std::string& expand, int64_t channels,
                                                         ActivationKind activation, ActivationKind gate);

int64_t outChannels(const Conv2d& conv);

// conv (`conv`), batch norm (`norm`), then the activation if any, appended to `seq`;
// returns the output channels.
int64_t appendConvNormAct(Sequence& seq, WeightSource& s, const std::string& conv, const std::string& norm, int64_t in,
                          const ConvOptions& options, std::optional<ActivationKind> activation, double eps = 1e-5);

template <typename T>
T& named(T& layer, const std::string& name, unsigned record)
{
    layer.name = name;
    layer.record = record;
    return layer;
}

Pool2d& addPool(Sequence& seq, Pool2d::Kind kind, int kernel, int stride, int padding);

// The classifier most torchvision CNNs end with: global average pool, flatten, then
// the linear layer `fc` when the checkpoint has one. Returns its class count (0: none).
int appendPoolLinearHead(Sequence& head, WeightSource& s, const std::string& fc, int64_t channels);

}  // namespace attnviz::engine::cnn
