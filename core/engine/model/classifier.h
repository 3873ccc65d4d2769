#pragma once

#include "core/engine/model/modelspec.h"
#include "core/engine/model/trace.h"
#include "core/io/modelconfig.h"
#include "core/io/rawtensor.h"

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>

namespace attnviz::engine {

// A layer output that a forward pass replaces (Ablation-CAM). `layer`: a CNN feature
// name as in Activations::features, or a stage name ("layer4" = its last block); a ViT
// block as "<b>.norm1" (that block's norm1 output) or "<b>" (the residual stream
// entering it). `value` is [K, ...] for one input image: the layers after it run on K.
struct LayerReplacement {
    std::string layer;
    torch::Tensor value;
};

// One loaded model of either family. forward() and forwardBatch() are reentrant: they run
// under inference mode with eval semantics and return everything the views need in one pass.
class Classifier {
public:
    virtual ~Classifier() = default;

    virtual const ModelSpec& spec() const = 0;
    // input: [1, C, H, W] float32 (any device); H, W need not match the checkpoint's.
    Trace forward(const torch::Tensor& input) const;
    // batch: [N, C, H, W]; one pass for the N images, one trace each (forwardSeconds: the
    // pass's time divided by N).
    virtual std::vector<Trace> forwardBatch(const torch::Tensor& batch) const = 0;
    virtual void to(torch::Device device) = 0;
    virtual torch::Device device() const = 0;

    // Differentiable batch forward: [N, C, H, W] -> logits [N, classes]. `training`
    // uses batch statistics in batch norm and updates its running statistics.
    virtual torch::Tensor logits(const torch::Tensor& batch, bool training) const = 0;
    // Eval-mode batch forward [N, C, H, W] that keeps the intermediates; differentiable
    // when the caller has gradients enabled (never under inference mode).
    virtual Activations activations(const torch::Tensor& batch) const = 0;
    // Eval-mode logits [K, classes] of one image [1, C, H, W] with one layer's output
    // replaced by replacement.value [K, ...]; the layers before it run once. Throws
    // EngineError for an unknown layer or a value of the wrong shape.
    virtual torch::Tensor logitsReplacing(const torch::Tensor& input, const LayerReplacement& replacement) const = 0;
    // Eval-mode forward of the last layer only, from what traces keep of its input
    // (Trace::lastLayerInput, batched: [N, T, D] or [N, C, h, w]); `tokens` is a ViT's
    // token layout. Differentiable when the caller has gradients enabled. The result has
    // the logits and the last layer's intermediates only: a ViT's entries at its last
    // block's index (the earlier ones undefined), a CNN's last feature map under its
    // stage name. Gradient methods at the last layer need no second full pass with it.
    virtual Activations activationsOfLastLayer(const torch::Tensor& lastLayerInput,
                                               const TokenLayout& tokens) const = 0;
    // The trainable tensors (batch-norm running statistics excluded) under their
    // checkpoint names, in the order the forward pass uses them (input first, head
    // last). They share storage with the model: an optimizer over them trains it, and
    // the randomisation check overwrites them.
    virtual std::vector<std::pair<std::string, torch::Tensor>> namedParameters() const = 0;
    std::vector<torch::Tensor> parameters() const;
    // The weights under the names a checkpoint of this family uses (timm for ViTs,
    // torchvision for ResNets), as F32, ready for io::writeSafetensors.
    virtual io::TensorMap stateDict() const = 0;
};

struct LoadOptions {
    int heads = 0;  // > 0 overrides config.json and the head_dim-64 rule
    std::string device = "cpu";
    // {H, W} > 0: the input resolution instead of the checkpoint's (a ViT resamples its
    // position embedding; DINO-style maps are finer at 448-518 px). A ViT's must be a
    // multiple of its patch size.
    std::array<int, 2> inputSize{0, 0};
};

// Loads a model path (file or HF folder), recognises the architecture from its keys,
// checks every shape and moves it to the device. Throws EngineError or io::FormatError.
std::unique_ptr<Classifier> loadClassifier(const std::string& modelPath, const LoadOptions& options = {});

// The same from tensors already in memory (e.g. freshly initialised for training).
std::unique_ptr<Classifier> buildClassifier(const io::TensorMap& tensors, const io::ModelConfig& config,
                                            const LoadOptions& options = {});

// "" when the model loaded from `modelPath` is of `wanted` family, else what it is
// instead ("'path' is a ResNet-50 (…), not a ViT"), for the side of a comparison.
std::string familyMismatch(const ModelSpec& spec, Family wanted, const std::string& modelPath);

}  // namespace attnviz::engine
