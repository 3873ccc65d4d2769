#include "core/engine/model/trace.h"

#include "core/engine/engineerror.h"

namespace attnviz::engine {

std::vector<torch::Tensor> stageMeanActivations(const Trace& trace)
{
    std::vector<torch::Tensor> maps;
    for (const auto& [name, features] : trace.features)
        maps.push_back(features[0].mean(0));  // [1, C, h, w] -> [h, w]
    return maps;
}

const torch::Tensor& Activations::feature(const std::string& name) const
{
    const torch::Tensor* stageOutput = nullptr;
    std::string known;
    for (const auto& [layer, tensor] : features) {
        if (layer == name)
            return tensor;
        // "layer4" is the output of the last block "layer4.N".
        if (layer.size() > name.size() && layer.compare(0, name.size() + 1, name + ".") == 0)
            stageOutput = &tensor;
        known += (known.empty() ? "" : ", ") + layer;
    }
    if (stageOutput)
        return *stageOutput;
    throw EngineError("no layer '" + name + "' (known: " + known + ", or a stage name like layer4)");
}

}  // namespace attnviz::engine
