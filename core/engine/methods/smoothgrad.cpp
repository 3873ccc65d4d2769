// The `smoothgrad` view: max over channels of the mean absolute gradient, the reduction
// of the `saliency` view (Simonyan et al.), so that with no noise it is that view. PAIR's
// saliency library sums the channels instead; either is a choice of display.
#include "core/engine/methods/smoothgrad.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {
namespace {

constexpr int64_t kNoisyCopiesPerBatch = 16;
constexpr uint64_t kNoiseSeed = 0;  // fixed: the window's cache and the export show one map per request

}  // namespace

NoiseSource gaussianNoise(const torch::Tensor& input, double level, uint64_t seed)
{
    const double sigma = level * (input.max() - input.min()).item<double>();
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto shape = input.sizes().vec();
    const auto device = input.device();
    return [=](int64_t n) mutable {
        auto size = shape;
        size[0] = n;
        return (at::randn(size, generator, torch::kFloat32) * sigma).to(device);
    };
}

torch::Tensor smoothGrad(const Classifier& model, const torch::Tensor& input, int classIndex, int samples,
                         const NoiseSource& noise)
{
    if (c10::InferenceMode::is_enabled())
        throw EngineError("gradient methods cannot run under inference mode");
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("SmoothGrad explains one image [1, C, H, W]");
    if (classIndex < 0)
        throw EngineError("SmoothGrad needs the class to explain");
    if (samples < 1)
        throw EngineError("SmoothGrad needs at least one sample");
    const auto x = input.to(model.device(), torch::kFloat32).detach();
    torch::AutoGradMode enableGrad(true);
    auto sum = torch::zeros_like(x[0]);  // Σ_s |∂y_c/∂x| [C, H, W]
    for (int64_t start = 0; start < samples; start += kNoisyCopiesPerBatch) {
        throwIfCancelled();
        const auto n = std::min<int64_t>(kNoisyCopiesPerBatch, samples - start);
        const auto copies = (x + noise(n).to(x.options())).detach().requires_grad_(true);  // [n, C, H, W]
        const auto logits = model.activations(copies).logits;                              // [n, classes]
        classScore(logits, classIndex);  // checks the class is one of the model's
        const auto gradient = torch::autograd::grad({logits.select(1, classIndex).sum()}, {copies})[0];
        sum += gradient.abs().sum(0);
    }
    return (sum / double(samples)).to(torch::kCPU);
}

ViewMaps smoothGradView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    int classIndex = request.classIndex;
    classScore(trace.logits, classIndex);  // the model's own top-1 when none is asked for
    const auto& settings = request.settings;
    const auto noise = gaussianNoise(trace.input, settings.value(MethodSetting::Noise), kNoiseSeed);
    const auto mean = smoothGrad(model, trace.input, classIndex, settings.count(MethodSetting::Samples), noise);
    auto view = singleMapView(std::get<0>(mean.max(0)).to(torch::kFloat32), "input", "-");
    view.classIndex = classIndex;
    return view;
}

}  // namespace attnviz::engine
