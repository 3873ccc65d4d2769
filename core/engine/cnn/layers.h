#pragma once

#include "core/engine/cnn/layer.h"

// The layers torchvision's and timm's classification CNNs are made of. Each keeps the
// weights under the names its checkpoint uses; shapes are given as [N, C, H, W] unless
// said otherwise.
namespace attnviz::engine::cnn {

struct Conv2d : Layer {
    torch::Tensor weight;  // [out, in / groups, k, k]
    torch::Tensor bias;    // [out] or undefined
    int stride = 1;
    int padding = 0;
    int dilation = 1;
    int groups = 1;

    int kernel() const { return int(weight.size(2)); }
    int depth() const override { return 1; }
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    ReceptiveField field(const ReceptiveField& in, FieldSink& sink) const override;
    void collect(std::vector<NamedTensor>& out) override;
};

// Eval: running statistics; training: batch statistics, running ones updated (momentum).
struct BatchNorm2d : Layer {
    torch::Tensor weight, bias, runningMean, runningVar;  // [C]
    double eps = 1e-5;
    double momentum = 0.1;

    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    void collect(std::vector<NamedTensor>& out) override;
};

// LayerNorm over the last dimension (a channels-last tensor or [N, C] features), or over
// the channels of [N, C, H, W] (`channelsFirst`: torchvision's LayerNorm2d, timm's
// LayerNorm2d), which permutes to channels-last and back as they do.
struct LayerNorm : Layer {
    torch::Tensor weight, bias;  // [C]
    double eps = 1e-6;
    bool channelsFirst = false;

    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    void collect(std::vector<NamedTensor>& out) override;
};

enum class ActivationKind { ReLU, ReLU6, SiLU, GELU, Hardswish, Hardsigmoid, Sigmoid };
const char* activationName(ActivationKind kind);
torch::Tensor activate(ActivationKind kind, const torch::Tensor& x);

struct Activation : Layer {
    explicit Activation(ActivationKind k)
        : kind(k)
    {
    }
    ActivationKind kind;
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
};

struct Pool2d : Layer {
    enum class Kind { Max, Average } kind = Kind::Max;
    int kernel = 3;
    int stride = 2;
    int padding = 1;
    bool ceilMode = false;
    bool countIncludePad = true;  // average pooling only

    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    ReceptiveField field(const ReceptiveField& in, FieldSink& sink) const override;
};

// [N, C, H, W] -> [N, C, outH, outW] (the classifier's input; no field: head only).
struct AdaptiveAvgPool2d : Layer {
    int outH = 1, outW = 1;
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
};

// [N, C, h, w] -> [N, C * h * w]
struct Flatten : Layer {
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
};

// Over the last dimension: [..., in] -> [..., out].
struct Linear : Layer {
    torch::Tensor weight;  // [out, in]
    torch::Tensor bias;    // [out] or undefined
    int depth() const override { return 1; }
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    void collect(std::vector<NamedTensor>& out) override;
};

// [N, C, H, W] <-> [N, H, W, C] (torchvision's ConvNeXt block runs its MLP channels-last).
struct Permute : Layer {
    explicit Permute(bool toLast)
        : toChannelsLast(toLast)
    {
    }
    bool toChannelsLast;
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
};

// x * gamma per channel of [N, C, H, W] (ConvNeXt layer scale): gamma [C, 1, 1]
// (torchvision) or [C] (timm). `key` is the parameter's full state-dict name.
struct ChannelScale : Layer {
    torch::Tensor gamma;
    std::string key;
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    void collect(std::vector<NamedTensor>& out) override;
};

// main(x) + shortcut(x) (an empty shortcut is the identity). The output sees what either
// path sees. `name` is the residual block's, under which its norms are reported.
struct Residual : Layer {
    Sequence main;
    Sequence shortcut;
    int depth() const override { return main.depth(); }
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    ReceptiveField field(const ReceptiveField& in, FieldSink& sink) const override;
    void collect(std::vector<NamedTensor>& out) override;
};

// cat([x, body(x)], channels): one DenseNet layer appending its new features.
struct DenseConcat : Layer {
    Sequence body;
    int depth() const override { return body.depth(); }
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    ReceptiveField field(const ReceptiveField& in, FieldSink& sink) const override;
    void collect(std::vector<NamedTensor>& out) override;
};

// x * gate(fc2(act(fc1(mean_hw(x))))) with 1x1 convs fc1, fc2 (torchvision
// SqueezeExcitation, timm SqueezeExcite). By convention the gate, a global statistic,
// does not widen the receptive field.
struct SqueezeExcitation : Layer {
    Conv2d reduce, expand;
    ActivationKind activation = ActivationKind::ReLU;
    ActivationKind gate = ActivationKind::Sigmoid;
    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    void collect(std::vector<NamedTensor>& out) override;
};

}  // namespace attnviz::engine::cnn
