#include "core/engine/methods/gradrollout.h"

#include "core/engine/methods/methodtable.h"

#include <optional>

namespace attnviz::engine {

ClassMaps gradientRollout(const Classifier& vit, const torch::Tensor& input, int classIndex,
                          const RolloutOptions& options)
{
    checkRolloutOptions(options, vit.spec().depth);
    // Each block's A ⊙ dscore/dA per head [H, T, T]; the rollout fuses the heads and
    // sets negative weights to 0 before it discards, adds I and renormalises. The blocks
    // come from the last to the first, as the image row is rolled out from the left.
    auto rolloutOptions = options;
    rolloutOptions.clampNegative = true;
    TokenLayout layout;
    std::optional<ImageRowProduct> rollout;
    const auto visit = [&](int, const torch::Tensor& attention, const torch::Tensor& gradient) {
        if (!rollout)
            rollout.emplace(layout);
        rollout->multiply(rolloutMatrix(gradient * attention, layout, rolloutOptions));
    };
    torch::AutoGradMode enableGrad(true);
    const int explained = streamAttentionGradients(vit, input, classIndex, options.startLayer, "gradient rollout",
                                                   visit, layout);
    return {explained, {rollout->map()}};
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
