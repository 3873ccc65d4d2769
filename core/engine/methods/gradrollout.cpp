#include "core/engine/methods/gradrollout.h"

#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {

ClassMaps gradientRollout(const Classifier& vit, const torch::Tensor& input, int classIndex,
                          const RolloutOptions& options)
{
    torch::AutoGradMode enableGrad(true);
    const auto g = attentionGradients(vit, input, classIndex, "gradient rollout");
    checkRolloutStart(options.startLayer, int(g.acts.attentions.size()));
    // Each block's A ⊙ dscore/dA per head [H, T, T]; the rollout fuses the heads and
    // sets negative weights to 0 before it discards, adds I and renormalises.
    std::vector<torch::Tensor> weighted;
    for (std::size_t l = 0; l < g.acts.attentions.size(); ++l)
        weighted.push_back((g.grads[l][0] * g.acts.attentions[l][0].detach()).to(torch::kCPU));
    auto rolloutOptions = options;
    rolloutOptions.clampNegative = true;
    return {g.classIndex, {attentionRollout(weighted, g.acts.tokens, rolloutOptions)}};
}

ViewMaps gradRolloutView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    RolloutOptions options;
    options.fusion = request.head.fusion;
    options.discardRatio = request.discardRatio;
    options.startLayer = rolloutStartBlock(trace, request);
    const auto result = gradientRollout(model, trace.input, request.classIndex, options);
    return rolledOutView(result.maps[0], options.startLayer, headChoiceName(request.head), result.classIndex);
}

}  // namespace attnviz::engine
