#include "core/engine/cnn/layers.h"

#include "core/engine/engineerror.h"

namespace attnviz::engine::cnn {
namespace F = torch::nn::functional;

namespace {

// One window of kernel k, stride s, padding p applied after `in` (Araujo et al. 2019).
ReceptiveField compose(const ReceptiveField& in, const std::string& name, int k, int s, int p)
{
    ReceptiveField out;
    out.name = name;
    out.size = in.size + (k - 1) * in.jump;
    out.jump = in.jump * s;
    out.start = in.start + ((k - 1) / 2.0 - p) * in.jump;
    return out;
}

void addParameter(std::vector<NamedTensor>& out, const std::string& name, torch::Tensor& t, bool buffer = false)
{
    if (t.defined())
        out.push_back({name, &t, buffer});
}

}  // namespace

torch::Tensor Conv2d::forward(const torch::Tensor& x, RunContext&) const
{
    return torch::conv2d(x, weight, bias, stride, padding, dilation, groups);
}

ReceptiveField Conv2d::field(const ReceptiveField& in, FieldSink& sink) const
{
    // A dilated kernel spans dilation * (k - 1) + 1 input units.
    auto out = compose(in, name, dilation * (kernel() - 1) + 1, stride, padding);
    sink.fields.push_back(out);
    return out;
}

void Conv2d::collect(std::vector<NamedTensor>& out)
{
    addParameter(out, name + ".weight", weight);
    addParameter(out, name + ".bias", bias);
}

torch::Tensor BatchNorm2d::forward(const torch::Tensor& x, RunContext& context) const
{
    return torch::batch_norm(x, weight, bias, runningMean, runningVar, context.training, momentum, eps, false);
}

void BatchNorm2d::collect(std::vector<NamedTensor>& out)
{
    addParameter(out, name + ".weight", weight);
    addParameter(out, name + ".bias", bias);
    addParameter(out, name + ".running_mean", runningMean, true);
    addParameter(out, name + ".running_var", runningVar, true);
}

torch::Tensor LayerNorm::forward(const torch::Tensor& x, RunContext&) const
{
    const std::vector<int64_t> shape{weight.size(0)};
    if (!channelsFirst)
        return torch::layer_norm(x, shape, weight, bias, eps);
    return torch::layer_norm(x.permute({0, 2, 3, 1}), shape, weight, bias, eps).permute({0, 3, 1, 2});
}

void LayerNorm::collect(std::vector<NamedTensor>& out)
{
    addParameter(out, name + ".weight", weight);
    addParameter(out, name + ".bias", bias);
}

const char* activationName(ActivationKind kind)
{
    switch (kind) {
    case ActivationKind::ReLU: return "ReLU";
    case ActivationKind::ReLU6: return "ReLU6";
    case ActivationKind::SiLU: return "SiLU";
    case ActivationKind::GELU: return "GELU";
    case ActivationKind::Hardswish: return "Hardswish";
    case ActivationKind::Hardsigmoid: return "Hardsigmoid";
    case ActivationKind::Sigmoid: return "Sigmoid";
    }
    return "?";
}

torch::Tensor activate(ActivationKind kind, const torch::Tensor& x)
{
    switch (kind) {
    case ActivationKind::ReLU: return torch::relu(x);
    case ActivationKind::ReLU6: return torch::hardtanh(x, 0.0, 6.0);
    case ActivationKind::SiLU: return torch::silu(x);
    case ActivationKind::GELU: return torch::gelu(x);  // exact (erf), as nn.GELU()
    case ActivationKind::Hardswish: return torch::hardswish(x);
    case ActivationKind::Hardsigmoid: return torch::hardsigmoid(x);
    case ActivationKind::Sigmoid: return torch::sigmoid(x);
    }
    return x;
}

torch::Tensor Activation::forward(const torch::Tensor& x, RunContext&) const
{
    return activate(kind, x);
}

torch::Tensor Pool2d::forward(const torch::Tensor& x, RunContext&) const
{
    if (kind == Kind::Max)
        return torch::max_pool2d(x, kernel, stride, padding, 1, ceilMode);
    return torch::avg_pool2d(x, kernel, stride, padding, ceilMode, countIncludePad);
}

ReceptiveField Pool2d::field(const ReceptiveField& in, FieldSink& sink) const
{
    auto out = compose(in, name, kernel, stride, padding);
    sink.fields.push_back(out);
    return out;
}

torch::Tensor AdaptiveAvgPool2d::forward(const torch::Tensor& x, RunContext&) const
{
    if (outH == 1 && outW == 1)
        return x.mean({2, 3}, /*keepdim=*/true);
    return torch::adaptive_avg_pool2d(x, {outH, outW});
}

torch::Tensor Flatten::forward(const torch::Tensor& x, RunContext&) const
{
    return x.flatten(1);
}

torch::Tensor Linear::forward(const torch::Tensor& x, RunContext&) const
{
    return F::linear(x, weight, bias);
}

void Linear::collect(std::vector<NamedTensor>& out)
{
    addParameter(out, name + ".weight", weight);
    addParameter(out, name + ".bias", bias);
}

torch::Tensor Permute::forward(const torch::Tensor& x, RunContext&) const
{
    return toChannelsLast ? x.permute({0, 2, 3, 1}) : x.permute({0, 3, 1, 2});
}

torch::Tensor ChannelScale::forward(const torch::Tensor& x, RunContext&) const
{
    return gamma.dim() == 1 ? x * gamma.view({-1, 1, 1}) : x * gamma;
}

void ChannelScale::collect(std::vector<NamedTensor>& out)
{
    addParameter(out, key, gamma);
}

torch::Tensor Residual::forward(const torch::Tensor& x, RunContext& context) const
{
    auto y = main.forward(x, context);
    auto skip = shortcut.forward(x, context);
    if (context.residuals) {  // per pixel, over channels: [N, C, h, w] -> [N, h * w]
        // sqrt(sum(t²)) rather than norm(): over the channels of an NCHW tensor it is 3-7x
        // faster in LibTorch 1.13 (docs/benchmarks.md).
        const auto norms = [](const torch::Tensor& t) { return (t * t).sum(1).sqrt().flatten(1).to(torch::kCPU); };
        context.residuals->push_back({name, norms(skip), norms(y)});
    }
    return y + skip;
}

ReceptiveField Residual::field(const ReceptiveField& in, FieldSink& sink) const
{
    const auto a = main.field(in, sink);
    const auto b = shortcut.field(in, sink);
    if (a.jump != b.jump)
        throw EngineError("the two paths of '" + name + "' have different strides");
    return unionField(a, b);
}

void Residual::collect(std::vector<NamedTensor>& out)
{
    main.collect(out);
    shortcut.collect(out);
}

torch::Tensor DenseConcat::forward(const torch::Tensor& x, RunContext& context) const
{
    return torch::cat({x, body.forward(x, context)}, 1);
}

ReceptiveField DenseConcat::field(const ReceptiveField& in, FieldSink& sink) const
{
    return unionField(body.field(in, sink), in);
}

void DenseConcat::collect(std::vector<NamedTensor>& out)
{
    body.collect(out);
}

torch::Tensor SqueezeExcitation::forward(const torch::Tensor& x, RunContext& context) const
{
    const auto squeezed = x.mean({2, 3}, /*keepdim=*/true);  // [N, C, 1, 1]
    const auto scale = activate(gate, expand.forward(activate(activation, reduce.forward(squeezed, context)), context));
    return x * scale;
}

void SqueezeExcitation::collect(std::vector<NamedTensor>& out)
{
    reduce.collect(out);
    expand.collect(out);
}

}  // namespace attnviz::engine::cnn
