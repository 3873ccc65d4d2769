// The `logit-lens` method: what each block's patch tokens would predict if the head read
// them, as ViT-Prisma's logit lens does for a ViT (after nostalgebraist's "logit lens" for
// language models, 2020): each patch token of a block's output through the final norm and
// the head (VisionTransformer::tokenLogits), softmax over the classes, and the map is the
// chosen class's probability at every patch, [gh, gw] per block, one pass without
// gradients. `--layer all` gives every block, the lens's picture block by block. Each
// patch's most probable class and its probability come with it (ViewMaps::topClasses).
#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/vit/vit.h"

namespace attnviz::engine {

ViewMaps logitLensView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const auto* vit = dynamic_cast<const VisionTransformer*>(&model);
    if (!vit)
        throw EngineError("the logit lens reads a ViT's tokens");
    if (request.layer.isPool())
        throw EngineError("the logit lens reads a block's tokens: choose a block, not the attention pool");
    int classIndex = request.classIndex;
    classScore(trace.logits, classIndex);  // the model's own top-1 when none is asked for
    torch::NoGradGuard noGrad;
    const auto acts = model.activations(trace.input.to(model.device(), torch::kFloat32));
    ViewMaps view;
    view.heads = {"-"};
    view.classIndex = classIndex;
    std::vector<torch::Tensor> rows, topClasses, topProbabilities;
    for (int b : requestedBlocks(request.layer, int(acts.tokenStates.size()) - 1, -1)) {
        const auto probabilities = torch::softmax(vit->tokenLogits(acts.tokenStates[std::size_t(b) + 1]), -1)[0];
        const auto ofClass = probabilities.select(1, classIndex).unsqueeze(1);             // [T, 1]
        rows.push_back(patchGrid(ofClass, acts.tokens).to(torch::kCPU, torch::kFloat32));  // [1, gh, gw]
        const auto [top, index] = probabilities.max(1);                                    // [T] each
        topProbabilities.push_back(patchGrid(top.unsqueeze(1), acts.tokens)[0].to(torch::kCPU, torch::kFloat32));
        topClasses.push_back(patchGrid(index.unsqueeze(1), acts.tokens)[0].to(torch::kCPU));
        view.layers.push_back(std::to_string(b));
    }
    view.maps = torch::stack(rows);
    view.topClasses = torch::stack(topClasses);
    view.topProbabilities = torch::stack(topProbabilities);
    return view;
}

}  // namespace attnviz::engine
