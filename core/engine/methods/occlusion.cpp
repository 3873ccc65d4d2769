// The `occlusion` view: the positive part of the fall of the class score per pixel, where
// covering the input lowers the score (Captum's tutorials draw occlusion with sign
// "positive"); like every view it is non-negative, as the overlay's mass threshold and the
// audit's energy read it. occlusion() keeps the sign.
#include "core/engine/methods/occlusion.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace attnviz::engine {
namespace {

constexpr int64_t kCoveredCopiesPerBatch = 16;

// The offsets of the windows along one axis of `length`: 0, s, 2s, ..., ceil((length - w) / s) of them past the first.
std::vector<int64_t> windowOffsets(int64_t length, int window, int stride)
{
    const int64_t shifts = (length - window + stride - 1) / stride;
    std::vector<int64_t> offsets;
    for (int64_t i = 0; i <= shifts; ++i)
        offsets.push_back(i * stride);
    return offsets;
}

}  // namespace

std::pair<int, int> occlusionPatch(int window, int stride, int64_t height, int64_t width)
{
    const int64_t side = std::min(height, width);
    if (window == 0)
        window = int(std::max<int64_t>(1, std::llround(double(side) / 14.0)));
    if (stride == 0)
        stride = std::max(1, window / 2);
    if (window > side)
        throw EngineError("an occlusion window of " + std::to_string(window) + " px is larger than the "
                          + std::to_string(height) + "x" + std::to_string(width) + " input");
    if (stride > window)
        throw EngineError("an occlusion stride of " + std::to_string(stride)
                          + " px would skip pixels: it must not exceed the window (" + std::to_string(window) + ")");
    return {window, stride};
}

torch::Tensor occlusion(const Classifier& model, const torch::Tensor& input, int classIndex, int window, int stride)
{
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("occlusion explains one image [1, C, H, W]");
    if (classIndex < 0)
        throw EngineError("occlusion needs the class to explain");
    const int64_t height = input.size(2), width = input.size(3);
    std::tie(window, stride) = occlusionPatch(window, stride, height, width);
    torch::NoGradGuard noGrad;
    const auto x = input.to(model.device(), torch::kFloat32);
    const auto logits = model.activations(x).logits;  // [1, classes]
    const double score = classScore(logits, classIndex).item<double>();
    struct Patch {
        int64_t top, left;
    };
    std::vector<Patch> patches;
    for (const auto top : windowOffsets(height, window, stride))
        for (const auto left : windowOffsets(width, window, stride))
            patches.push_back({top, left});
    auto total = torch::zeros({height, width}, torch::kFloat64);  // Σ over covering windows of the fall
    auto covers = torch::zeros({height, width}, torch::kFloat64);
    for (std::size_t start = 0; start < patches.size(); start += kCoveredCopiesPerBatch) {
        throwIfCancelled();
        const auto n = std::min<std::size_t>(kCoveredCopiesPerBatch, patches.size() - start);
        auto copies = x.repeat({int64_t(n), 1, 1, 1});  // [n, C, H, W]
        for (std::size_t i = 0; i < n; ++i) {
            const auto& p = patches[start + i];
            copies[int64_t(i)]
                .narrow(1, p.top, std::min<int64_t>(window, height - p.top))
                .narrow(2, p.left, std::min<int64_t>(window, width - p.left))
                .zero_();
        }
        const auto falls = (score - model.activations(copies).logits.select(1, classIndex))
                               .to(torch::kCPU, torch::kFloat64);  // [n]
        for (std::size_t i = 0; i < n; ++i) {
            const auto& p = patches[start + i];
            auto cell = [&](torch::Tensor& t) {
                return t.narrow(0, p.top, std::min<int64_t>(window, height - p.top))
                    .narrow(1, p.left, std::min<int64_t>(window, width - p.left));
            };
            cell(total) += falls[int64_t(i)].item<double>();
            cell(covers) += 1.0;
        }
    }
    return (total / covers).to(torch::kFloat32);
}

ViewMaps occlusionView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    int classIndex = request.classIndex;
    classScore(trace.logits, classIndex);  // the model's own top-1 when none is asked for
    const auto& settings = request.settings;
    const auto fall = occlusion(model, trace.input, classIndex, settings.count(MethodSetting::Window),
                                settings.count(MethodSetting::Stride));  // [H, W], signed
    auto view = singleMapView(fall.clamp_min(0), "input", "-");
    view.classIndex = classIndex;
    return view;
}

}  // namespace attnviz::engine
