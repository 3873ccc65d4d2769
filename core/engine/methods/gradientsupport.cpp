#include "core/engine/methods/gradientsupport.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/layerselector.h"
#include "core/engine/vit/vit.h"

#include <cstdlib>

namespace attnviz::engine {

Activations differentiableForward(const Classifier& model, const torch::Tensor& input)
{
    if (c10::InferenceMode::is_enabled())
        throw EngineError("gradient methods cannot run under inference mode");
    auto x = input.to(model.device(), torch::kFloat32).detach().requires_grad_(true);
    return model.activations(x);
}

torch::Tensor classScore(const torch::Tensor& logits, int& classIndex, int64_t image)
{
    if (!logits.defined())
        throw EngineError("the model has no classification head, so there is no class to explain");
    const auto classes = int(logits.size(1));
    if (classIndex < 0)
        classIndex = int(logits[image].argmax().item<int64_t>());
    if (classIndex >= classes)
        throw EngineError("class " + std::to_string(classIndex) + " outside 0.." + std::to_string(classes - 1));
    return logits[image][classIndex];
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
    return tokens.narrow(0, layout.prefixTokens(), int64_t(layout.gridH) * layout.gridW)
        .transpose(0, 1)
        .reshape({tokens.size(1), layout.gridH, layout.gridW});
}

int blockIndex(const std::string& layer, int depth)
{
    return LayerSelector::parse(layer).blockIn(depth);
}

int streamAttentionGradients(const Classifier& vit, const torch::Tensor& input, int classIndex, int firstBlock,
                             const std::string& method, const AttentionGradientVisitor& visit, TokenLayout& layout)
{
    const auto* transformer = dynamic_cast<const VisionTransformer*>(&vit);
    if (!transformer)
        throw EngineError(method + " needs a ViT");
    if (c10::InferenceMode::is_enabled())
        throw EngineError("gradient methods cannot run under inference mode");
    // The block's attention, its gradient, the softmax's and the caller's products: about
    // five [H, T, T] float32 tensors at once (docs/benchmarks.md measures the peak).
    const auto& spec = vit.spec();
    checkAttentionBudget(input, spec.patchSize, spec.prefixTokens(), spec.heads, 5, 4, method);
    const auto score = [&classIndex](const torch::Tensor& logits) { return classScore(logits, classIndex); };
    transformer->visitAttentionGradients(input, firstBlock, score, visit, layout);
    return classIndex;
}

void checkRolloutStart(int startLayer, int depth)
{
    if (startLayer < 0 || startLayer >= depth)
        throw EngineError("rollout start layer " + std::to_string(startLayer) + " outside the " + std::to_string(depth)
                          + " blocks");
}

}  // namespace attnviz::engine
