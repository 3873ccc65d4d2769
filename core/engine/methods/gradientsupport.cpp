#include "core/engine/methods/gradientsupport.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/layerselector.h"

#include <cstdlib>

namespace attnviz::engine {

Activations differentiableForward(const Classifier& model, const torch::Tensor& input)
{
    if (c10::InferenceMode::is_enabled())
        throw EngineError("gradient methods cannot run under inference mode");
    auto x = input.to(model.device(), torch::kFloat32).detach().requires_grad_(true);
    return model.activations(x);
}

torch::Tensor classScore(const Activations& acts, int& classIndex, int64_t image)
{
    if (!acts.logits.defined())
        throw EngineError("the model has no classification head, so there is no class to explain");
    const auto classes = int(acts.logits.size(1));
    if (classIndex < 0)
        classIndex = int(acts.logits[image].argmax().item<int64_t>());
    if (classIndex >= classes)
        throw EngineError("class " + std::to_string(classIndex) + " outside 0.." + std::to_string(classes - 1));
    return acts.logits[image][classIndex];
}

std::vector<torch::Tensor> gradientsOf(const torch::Tensor& score, const std::vector<torch::Tensor>& targets,
                                       bool retainGraph)
{
    auto grads = torch::autograd::grad({score}, targets, {}, retainGraph, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    for (std::size_t i = 0; i < grads.size(); ++i)
        if (!grads[i].defined())
            grads[i] = torch::zeros_like(targets[i]);
    return grads;
}

torch::Tensor patchGrid(const torch::Tensor& tokens, const TokenLayout& layout)
{
    return tokens.narrow(0, layout.prefixTokens(), layout.gridH * layout.gridW)
        .transpose(0, 1)
        .reshape({tokens.size(1), layout.gridH, layout.gridW});
}

int blockIndex(const std::string& layer, int depth)
{
    return LayerSelector::parse(layer).blockIn(depth);
}

AttentionGradients attentionGradients(const Classifier& vit, const torch::Tensor& input, int classIndex,
                                      const std::string& method)
{
    AttentionGradients out;
    out.acts = differentiableForward(vit, input);
    if (out.acts.attentions.empty())
        throw EngineError(method + " needs a ViT");
    out.classIndex = classIndex;
    const auto score = classScore(out.acts, out.classIndex);
    out.grads = gradientsOf(score, out.acts.attentions);
    return out;
}

void checkRolloutStart(int startLayer, int depth)
{
    if (startLayer < 0 || startLayer >= depth)
        throw EngineError("rollout start layer " + std::to_string(startLayer) + " outside the " + std::to_string(depth)
                          + " blocks");
}

}  // namespace attnviz::engine
