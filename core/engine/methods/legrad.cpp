#include "core/engine/methods/legrad.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/attentionmaps.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/vit/vit.h"

#include <algorithm>

namespace attnviz::engine {
namespace {

constexpr const char* kMethod = "legrad";

// The first block summed: LeWrapper's layer_index=-2 by default.
int firstSummedBlock(int startLayer, int depth)
{
    if (startLayer < 0)
        return std::max(0, depth - 2);
    checkRolloutStart(startLayer, depth);
    return startLayer;
}

// (m - min) / (max - min) over the whole map; zeros for a flat one (the authors' code divides by zero).
torch::Tensor minMax(const torch::Tensor& map)
{
    const auto low = map.min();
    const auto range = map.max() - low;
    if (range.item<double>() <= 0.0)
        return torch::zeros_like(map);
    return (map - low) / range;
}

// The cells where a SigLIP's map of the neutral prompt, min-max normalised, exceeds this
// are zeroed in the prompt's map (compute_legrad_siglip's correction_threshold).
constexpr double kCorrectionThreshold = 0.8;

// Σ_l E_l over the patch grid [gridH, gridW], float64, unnormalised.
torch::Tensor summedRelevance(const VisionTransformer& vit, const torch::Tensor& input, int classIndex, int first)
{
    TokenLayout layout;
    torch::Tensor sum;  // [T]: the column means summed over the blocks
    const auto visit = [&](int, const torch::Tensor&, const torch::Tensor& gradient) {
        // [H, T, T] (or the pool's [H, 1, T]) -> [T]: the mean over heads and query rows
        const auto columns = gradient.clamp_min(0).mean(0).mean(0).to(torch::kFloat64);
        sum = sum.defined() ? sum + columns : columns;
    };
    const auto score = [&classIndex](const torch::Tensor& logits) { return classScore(logits, classIndex); };
    vit.visitReadoutGradients(input, first, score, visit, layout);
    return sum.narrow(0, layout.prefixTokens(), int64_t(layout.gridH) * layout.gridW)
        .reshape({layout.gridH, layout.gridW});
}

}  // namespace

ClassMaps legrad(const Classifier& vit, const torch::Tensor& input, int classIndex, int startLayer)
{
    const auto* transformer = dynamic_cast<const VisionTransformer*>(&vit);
    if (!transformer)
        throw EngineError(std::string(kMethod) + " needs a ViT");
    const auto& spec = vit.spec();
    if (classIndex < 0)
        throw EngineError(std::string(kMethod) + " needs the class to explain");
    if (c10::InferenceMode::is_enabled())
        throw EngineError("gradient methods cannot run under inference mode");
    const int first = firstSummedBlock(startLayer, spec.depth);
    // The block's attention, its gradient and the products: as generic attention's.
    checkAttentionBudget(input, spec.patchSize, spec.prefixTokens(), spec.heads, 5, 4, kMethod);
    auto map = summedRelevance(*transformer, input, classIndex, first);
    // A SigLIP's correction: the cells the neutral prompt maps brightly are SigLIP's own,
    // whatever is asked; its score's gradient equals the authors' cosine's up to a factor.
    if (spec.attentionPool && transformer->neutralPrompt().defined()) {
        const auto neutral = transformer->withPromptClasses(transformer->neutralPrompt().unsqueeze(0), {"neutral"});
        const auto neutralMap = minMax(summedRelevance(*neutral, input, 0, first));
        map = map.masked_fill(neutralMap > kCorrectionThreshold, 0.0);
    }
    return {classIndex, {minMax(map).to(torch::kCPU, torch::kFloat32)}};
}

ViewMaps legradView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    int classIndex = request.classIndex;
    classScore(trace.logits, classIndex);  // the model's own top-1 when none is asked for
    const int start = request.layer.isDefault() ? -1 : request.layer.blockIn(model.spec().depth);
    const auto result = legrad(model, trace.input, classIndex, start);
    return rolledOutView(result.maps[0], firstSummedBlock(start, model.spec().depth), "mean", result.classIndex);
}

}  // namespace attnviz::engine
