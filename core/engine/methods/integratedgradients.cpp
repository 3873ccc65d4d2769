// The `integrated-gradients` view: |Σ_c attr_c| over the input's pixels, as Captum's
// visualize_image_attr draws attributions by default (sign "absolute_value" of the
// channels' sum).
#include "core/engine/methods/integratedgradients.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/training/imageset.h"

#include <cmath>

namespace attnviz::engine {
namespace {

constexpr int64_t kPointsPerBatch = 16;

// Legendre P_n and its derivative at z, by the three-term recurrence.
std::pair<double, double> legendre(int n, double z)
{
    double p = 1.0, previous = 0.0;
    for (int j = 1; j <= n; ++j) {
        const double before = previous;
        previous = p;
        p = ((2.0 * j - 1.0) * z * previous - (j - 1.0) * before) / j;
    }
    return {p, n * (z * p - previous) / (z * z - 1.0)};
}

// torchvision's _get_gaussian_kernel1d: exp(-x²/2σ²) at x = -(k-1)/2 .. (k-1)/2, summing to 1.
torch::Tensor gaussianKernel(int64_t taps, double sigma, const torch::TensorOptions& options)
{
    const double half = double(taps - 1) * 0.5;
    const auto x = torch::linspace(-half, half, taps, options);
    const auto pdf = torch::exp(-0.5 * (x / sigma).pow(2));
    return pdf / pdf.sum();
}

// [N, C, H, W] blurred along one axis (dim 2 or 3), reflected at the borders.
torch::Tensor blurAlong(const torch::Tensor& image, int64_t dim, double sigma)
{
    const int64_t taps = 2 * int64_t(std::ceil(3.0 * sigma)) + 1;
    const int64_t channels = image.size(1);
    if (taps / 2 >= image.size(dim))
        throw EngineError("the input is too small to blur for a baseline");
    auto kernel = gaussianKernel(taps, sigma, image.options());
    kernel = dim == 2 ? kernel.view({1, 1, taps, 1}) : kernel.view({1, 1, 1, taps});
    const int64_t pad = taps / 2;
    const auto padded = torch::reflection_pad2d(image, dim == 2 ? std::vector<int64_t>{0, 0, pad, pad}
                                                                : std::vector<int64_t>{pad, pad, 0, 0});
    const std::vector<int64_t> one{1, 1}, none{0, 0};
    return torch::conv2d(padded, kernel.expand({channels, 1, -1, -1}), torch::Tensor(), one, none, one, channels);
}

}  // namespace

std::pair<std::vector<double>, std::vector<double>> gaussLegendre(int n)
{
    if (n < 1)
        throw EngineError("a Gauss-Legendre rule needs at least one point");
    std::vector<double> nodes(static_cast<std::size_t>(n)), nodeWeights(static_cast<std::size_t>(n));
    for (int i = 0; i < (n + 1) / 2; ++i) {
        // Newton's method from the usual first guess for the i-th largest root of P_n
        double z = std::cos(M_PI * (i + 0.75) / (n + 0.5));
        auto [p, dp] = legendre(n, z);
        for (int iteration = 0; iteration < 100; ++iteration) {
            const double step = p / dp;
            z -= step;
            std::tie(p, dp) = legendre(n, z);
            if (std::abs(step) < 1e-16)
                break;
        }
        const double w = 2.0 / ((1.0 - z * z) * dp * dp);
        const auto low = std::size_t(i), high = std::size_t(n - 1 - i);
        nodes[low] = 0.5 * (1.0 - z);
        nodes[high] = 0.5 * (1.0 + z);
        nodeWeights[low] = nodeWeights[high] = 0.5 * w;
    }
    return {nodes, nodeWeights};
}

torch::Tensor pathBaseline(const torch::Tensor& input, PathBaseline baseline, const Preprocessing& preprocessing)
{
    if (baseline == PathBaseline::Blur)
        return blurAlong(blurAlong(input, 2, double(input.size(2)) / 16.0), 3, double(input.size(3)) / 16.0);
    // A black pixel as the normalisation makes it (normalizeBatch, float32): a start one
    // rounding away moves every path point, and a ReLU network's gradient jumps at its kinks
    // (against Captum, 0.3 % of a ResNet's attributions then differed by up to 3e-4)
    auto onePixel = preprocessing;
    onePixel.inputSize = {int(input.size(1)), 1, 1};
    const auto black = normalizeBatch(torch::zeros({1, input.size(1), 1, 1}, torch::kUInt8), onePixel);
    return black.to(input.options()).expand_as(input).clone();
}

InputAttribution integratedGradients(const Classifier& model, const torch::Tensor& input, int classIndex, int steps,
                                     PathBaseline baseline)
{
    if (c10::InferenceMode::is_enabled())
        throw EngineError("gradient methods cannot run under inference mode");
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("integrated gradients explain one image [1, C, H, W]");
    if (classIndex < 0)
        throw EngineError("integrated gradients need the class to explain");
    const auto x = input.to(model.device(), torch::kFloat32).detach();
    const auto x0 = pathBaseline(x, baseline, model.spec().preprocessing);
    const auto [alphas, weights] = gaussLegendre(steps);
    torch::AutoGradMode enableGrad(true);
    auto sum = torch::zeros_like(x);  // Σ_k w_k ∂y_c/∂x at the path's points [1, C, H, W]
    const auto options = x.options();
    for (int64_t start = 0; start < steps; start += kPointsPerBatch) {
        throwIfCancelled();
        const auto n = std::min<int64_t>(kPointsPerBatch, steps - start);
        const auto a = torch::tensor(std::vector<double>(alphas.begin() + start, alphas.begin() + start + n))
                           .to(options)
                           .view({n, 1, 1, 1});
        const auto w = torch::tensor(std::vector<double>(weights.begin() + start, weights.begin() + start + n))
                           .to(options)
                           .view({n, 1, 1, 1});
        const auto points = (x0 + a * (x - x0)).detach().requires_grad_(true);  // [n, C, H, W]
        const auto logits = model.activations(points).logits;                   // [n, classes]
        classScore(logits, classIndex);  // checks the class is one of the model's
        const auto gradient = torch::autograd::grad({logits.select(1, classIndex).sum()}, {points})[0];
        sum += (gradient * w).sum(0, /*keepdim=*/true);
    }
    return {classIndex, ((x - x0) * sum)[0].to(torch::kCPU), x0[0].to(torch::kCPU)};
}

ViewMaps integratedGradientsView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    int classIndex = request.classIndex;
    classScore(trace.logits, classIndex);  // the model's own top-1 when none is asked for
    const auto& settings = request.settings;
    const auto result = integratedGradients(model, trace.input, classIndex, settings.count(MethodSetting::Steps),
                                            PathBaseline(settings.count(MethodSetting::Baseline)));
    auto view = singleMapView(result.attributions.sum(0).abs().to(torch::kFloat32), "input", "-");
    view.classIndex = classIndex;
    return view;
}

}  // namespace attnviz::engine
