#include "core/engine/methods/featuregrids.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"

namespace attnviz::engine {

std::vector<std::pair<std::string, torch::Tensor>> featureGrids(const Classifier& model, const Trace& trace,
                                                                const LayerSelector& layer)
{
    std::vector<std::pair<std::string, torch::Tensor>> grids;
    if (model.spec().family == Family::CNN) {
        for (const auto& [name, tensor] : trace.features)
            if (layer.isAll() || (layer.isDefault() ? &tensor == &trace.features.back().second : name == layer.text()))
                grids.emplace_back(name, tensor[0]);
        if (grids.empty()) {
            std::string names;
            for (const auto& feature : trace.features)
                names += (names.empty() ? "" : ", ") + feature.first;
            throw EngineError("features are read at a CNN stage (" + names + "), not '" + layer.text() + "'");
        }
        return grids;
    }
    if (layer.isPool())
        throw EngineError("features are read at a block's patch tokens: choose a block, not the attention pool");
    torch::NoGradGuard noGrad;
    const auto acts = model.activations(trace.input.to(model.device(), torch::kFloat32));
    for (int b : requestedBlocks(layer, int(acts.tokenStates.size()) - 1, -1))
        grids.emplace_back(std::to_string(b),
                           patchGrid(acts.tokenStates[std::size_t(b) + 1][0], acts.tokens).to(torch::kCPU));
    return grids;
}

}  // namespace attnviz::engine
