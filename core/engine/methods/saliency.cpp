// The `saliency` method: image-specific class saliency (Simonyan, Vedaldi & Zisserman,
// "Deep Inside Convolutional Networks", ICLR 2014 workshop, sec. 3.1). The class score
// S_c is the logit before the softmax; its gradient w = dS_c/dI over the input image
// [1, C, H, W] is taken at the image, and the map is M_ij = max_c |w_cij|, one value per
// input pixel, [H, W]. The same for a ViT and a CNN: it needs no layer.
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {

ViewMaps saliencyView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    torch::AutoGradMode enableGrad(true);
    const auto image = trace.input.to(model.device(), torch::kFloat32).detach().requires_grad_(true);
    const auto acts = model.activations(image);
    int classIndex = request.classIndex;
    const auto score = classScore(acts.logits, classIndex);
    const auto grad = torch::autograd::grad({score}, {image})[0][0];  // [C, H, W]
    auto view = singleMapView(std::get<0>(grad.abs().max(0)).to(torch::kCPU, torch::kFloat32), "input", "-");
    view.classIndex = classIndex;
    return view;
}

}  // namespace attnviz::engine
