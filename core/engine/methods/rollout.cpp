#include "core/engine/methods/rollout.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {

torch::Tensor attentionRollout(const std::vector<torch::Tensor>& attentions, const TokenLayout& layout,
                               const RolloutOptions& options)
{
    if (attentions.empty() || options.startLayer < 0 || options.startLayer >= int(attentions.size()))
        throw EngineError("rollout start layer " + std::to_string(options.startLayer) + " outside the "
                          + std::to_string(attentions.size()) + " blocks");
    if (!(options.discardRatio >= 0.0 && options.discardRatio < 1.0))
        throw EngineError("discard ratio must be in [0, 1)");
    const auto t = layout.tokens();
    const auto eye = torch::eye(t, torch::kFloat64);
    auto rollout = eye.clone();
    for (std::size_t l = std::size_t(options.startLayer); l < attentions.size(); ++l) {
        expectAttentionLayout(attentions[l], layout);
        auto fused = fuseHeads(attentions[l].to(torch::kFloat64), options.fusion);  // [T, T]
        if (options.clampNegative)
            fused = fused.clamp_min(0.0);
        if (options.discardRatio > 0.0) {
            // Zero the smallest weights, but never a row's attention to CLS (column 0).
            const auto k = int64_t(double(t * t) * options.discardRatio);
            auto flat = fused.flatten().clone();
            const auto smallest = std::get<1>(flat.topk(k, -1, /*largest=*/false));
            flat.index_fill_(0, smallest, 0.0);
            auto pruned = flat.view({t, t});
            if (layout.hasCls)
                pruned.select(1, 0).copy_(fused.select(1, 0));
            fused = pruned;
        }
        auto a = 0.5 * fused + 0.5 * eye;
        a = a / a.sum(-1, /*keepdim=*/true);
        rollout = torch::matmul(a, rollout);
    }
    return imageRowMap(rollout, layout).to(torch::kFloat32);
}

ViewMaps rolloutView(const Classifier&, const Trace& trace, const ViewRequest& request)
{
    RolloutOptions options;
    options.fusion = request.head.fusion;
    options.discardRatio = request.discardRatio;
    options.startLayer = rolloutStartBlock(trace, request);
    return rolledOutView(attentionRollout(trace.attentions, trace.tokens, options), options.startLayer,
                         headChoiceName(request.head));
}

}  // namespace attnviz::engine
