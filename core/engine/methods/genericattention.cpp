#include "core/engine/methods/genericattention.h"

#include "core/engine/methods/attentionmaps.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/methods/rollout.h"

#include <optional>

namespace attnviz::engine {

ClassMaps genericAttention(const Classifier& vit, const torch::Tensor& input, int classIndex, int startLayer)
{
    checkRolloutStart(startLayer, vit.spec().depth);
    // R = (I + Ā_L) ... (I + Ā_start), Ā = mean_h((dscore/dA ⊙ A)+) [T, T]; its image row
    // from the left, as the blocks come from the last to the first.
    TokenLayout layout;
    std::optional<ImageRowProduct> relevance;
    const auto visit = [&](int, const torch::Tensor& attention, const torch::Tensor& gradient) {
        if (!relevance)
            relevance.emplace(layout);
        relevance->multiplyIdentityPlus((gradient * attention).clamp_min(0).mean(0));
    };
    torch::AutoGradMode enableGrad(true);
    const int explained = streamAttentionGradients(vit, input, classIndex, startLayer,
                                                   "generic attention explainability", visit, layout);
    return {explained, {relevance->map()}};
}

ViewMaps genericAttentionView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const int start = rolloutStartBlock(trace, request);
    const auto result = genericAttention(model, trace.input, request.classIndex, start);
    return rolledOutView(result.maps[0], start, "mean", result.classIndex);
}

}  // namespace attnviz::engine
