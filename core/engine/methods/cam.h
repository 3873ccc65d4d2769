#pragma once

// The class activation map (CAM) family as pytorch-grad-cam defines it, for CNN
// feature maps and ViT blocks alike. docs/methods.md gives each formula and source.

#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/view.h"
#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace attnviz::engine {

// The CAMs are the method table's rows with camInput (methodlist.h):
//   gradcam      Selvaraju et al. 2017: weights = spatial mean of the gradient
//   gradcam++    Chattopadhay et al. 2018: weights from the 2nd and 3rd powers of the gradient
//   xgradcam     Fu et al. 2020: weights = Σ grad·F / Σ F
//   hirescam     Draelos & Carin 2020: Σ_k grad ⊙ F, no spatial averaging
//   layercam     Jiang et al. 2021: Σ_k ReLU(grad) ⊙ F
//   eigencam     Muhammad & Yeasin 2020: F projected on its first principal component
//   scorecam     Wang et al. 2020: weights = softmax of the class score of masked inputs
//   ablationcam  Desai & Ramaswamy 2020: weights = relative score drop when a channel is zeroed

struct CamOptions {
    ViewMethod method = ViewMethod::GradCam;  // a CAM row of the method table
    VitCamInput vitInput = VitCamInput::Norm1Output;
    // Score-CAM: masked inputs per forward. Ablation-CAM: the fewest ablated channels
    // per pass (more when their activations fit in 64 MB).
    int batchSize = 32;
};

bool camNeedsGradient(ViewMethod method);  // all but eigencam, scorecam and ablationcam

// The CAM of class `classIndex` (< 0: the top-1 class) for one image [1, C, H, W] at
// each of `layers`: CNN feature names ("layer4", "layer3.1", "conv1"), maps [h, w];
// ViT blocks ("3", "-1"), maps [gridH, gridW] over the patch tokens. Maps are
// non-negative (ReLU of the weighted sum, as pytorch-grad-cam), not rescaled.
// Gradient methods share one forward and one backward; Score-CAM runs one forward per
// channel and Ablation-CAM one pass of the layers after the target per channel, both
// in batches of options.batchSize.
ClassMaps classActivationMaps(const Classifier& model, const torch::Tensor& input, int classIndex,
                              const std::vector<std::string>& layers, const CamOptions& options = {});

// The gradient CAMs (camNeedsGradient) of N images at once: one differentiable pass of
// `batch` [N, C, H, W] and one backward of the sum of each image's class logit, whose
// gradient at image n is image n's own (in eval mode images do not interact).
// classIndices: one per image (< 0: its top-1). Image by image equal to
// classActivationMaps.
std::vector<ClassMaps> gradientCamsOfBatch(const Classifier& model, const torch::Tensor& batch,
                                           const std::vector<int>& classIndices, const std::vector<std::string>& layers,
                                           const CamOptions& options = {});

// The gradient CAMs at the last layer of the images whose traces are given, resumed
// from what each trace kept of that layer's input (Trace::lastLayerInput, which must be
// defined): one pass of the last layer and one backward over the batch, no full
// forward. Image by image equal to classActivationMaps at that layer.
std::vector<ClassMaps> gradientCamsAtLastLayer(const Classifier& model, const std::vector<const Trace*>& traces,
                                               const std::vector<int>& classIndices, const CamOptions& options = {});

// A gradient CAM request's views of several traces of one input size, as camView gives
// each, from one pass and one backward over the batch of their inputs
// (gradientCamsOfBatch), or, at the last layer alone, resumed from the traces
// (gradientCamsAtLastLayer). Throws EngineError for another method.
std::vector<ViewMaps> gradientCamViewsOfBatch(const Classifier& model, const std::vector<const Trace*>& traces,
                                              const ViewRequest& request);

}  // namespace attnviz::engine
