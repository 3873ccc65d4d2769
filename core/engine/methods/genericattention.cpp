#include "core/engine/methods/genericattention.h"

#include "core/engine/methods/attentionmaps.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {

ClassMaps genericAttention(const Classifier& vit, const torch::Tensor& input, int classIndex, int startLayer)
{
    torch::AutoGradMode enableGrad(true);
    const auto g = attentionGradients(vit, input, classIndex, "generic attention explainability");
    const int depth = int(g.acts.attentions.size());
    checkRolloutStart(startLayer, depth);
    const auto t = g.acts.tokens.tokens();
    auto relevance = torch::eye(t, torch::kFloat64);
    for (int l = startLayer; l < depth; ++l) {
        // [H, T, T] -> [T, T]
        const auto weighted = (g.grads[l][0] * g.acts.attentions[l][0].detach()).clamp_min(0).mean(0);
        relevance = relevance + torch::matmul(weighted.to(torch::kCPU, torch::kFloat64), relevance);
    }
    return {g.classIndex, {imageRowMap(relevance, g.acts.tokens).to(torch::kFloat32)}};
}

ViewMaps genericAttentionView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const int start = rolloutStartBlock(trace, request);
    const auto result = genericAttention(model, trace.input, request.classIndex, start);
    return rolledOutView(result.maps[0], start, "mean", result.classIndex);
}

}  // namespace attnviz::engine
