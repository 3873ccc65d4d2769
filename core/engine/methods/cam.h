#pragma once

// The class activation map (CAM) family as pytorch-grad-cam defines it, for CNN
// feature maps and ViT blocks alike. docs/methods.md gives each formula and source.

#include "core/engine/model/classifier.h"
#include "core/engine/methods/gradientmethods.h"

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace attnviz::engine {

enum class CamMethod {
    GradCam,          // Selvaraju et al. 2017: weights = spatial mean of the gradient
    GradCamPlusPlus,  // Chattopadhay et al. 2018: weights from the 2nd and 3rd powers of the gradient
    XGradCam,         // Fu et al. 2020: weights = Σ grad·F / Σ F
    HiResCam,         // Draelos & Carin 2020: Σ_k grad ⊙ F, no spatial averaging
    LayerCam,         // Jiang et al. 2021: Σ_k ReLU(grad) ⊙ F
    EigenCam,         // Muhammad & Yeasin 2020: F projected on its first principal component
    ScoreCam,         // Wang et al. 2020: weights = softmax of the class score of masked inputs
    AblationCam,      // Desai & Ramaswamy 2020: weights = relative score drop when a channel is zeroed
};

// Where a ViT CAM reads a block's tokens: the output of its norm1 (pytorch-grad-cam's
// target_layers=[blocks[i].norm1]) or the residual stream entering it (norm1's input).
enum class VitCamInput { Norm1Output, ResidualStream };

struct CamOptions {
    CamMethod method = CamMethod::GradCam;
    VitCamInput vitInput = VitCamInput::Norm1Output;
    // Score-CAM: masked inputs per forward. Ablation-CAM: the fewest ablated channels
    // per pass (more when their activations fit in 64 MB).
    int batchSize = 32;
};

// "gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "scorecam",
// "ablationcam", in that order.
const std::vector<std::string>& camMethodNames();
std::optional<CamMethod> camMethodFromName(const std::string& name);
std::string camMethodName(CamMethod method);
bool camNeedsGradient(CamMethod method);

VitCamInput vitCamInputFromName(const std::string& name);  // "norm1" | "residual"; throws EngineError
std::string vitCamInputName(VitCamInput input);

// The CAM of class `classIndex` (< 0: the top-1 class) for one image [1, C, H, W] at
// each of `layers`: CNN feature names ("layer4", "layer3.1", "conv1"), maps [h, w];
// ViT blocks ("3", "-1"), maps [gridH, gridW] over the patch tokens. Maps are
// non-negative (ReLU of the weighted sum, as pytorch-grad-cam), not rescaled.
// Gradient methods share one forward and one backward; Score-CAM runs one forward per
// channel and Ablation-CAM one pass of the layers after the target per channel, both
// in batches of options.batchSize.
ClassMaps classActivationMaps(const Classifier& model, const torch::Tensor& input, int classIndex,
                              const std::vector<std::string>& layers, const CamOptions& options = {});

}  // namespace attnviz::engine
