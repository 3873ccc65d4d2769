#pragma once

#include "core/engine/classifier.h"
#include "core/engine/weightsource.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

// Convolution followed by batch norm (eval statistics).
struct ConvBn {
    torch::Tensor convW;  // [out, in, k, k]
    torch::Tensor bnW, bnB, bnMean, bnVar;
    int stride = 1;
    int padding = 0;
};

// BasicBlock (conv1, conv2) or Bottleneck (conv1 1x1, conv2 3x3 strided, conv3 1x1).
struct ResidualBlockWeights {
    std::vector<ConvBn> convs;
    bool hasDownsample = false;
    ConvBn downsample;
};

struct ResNetWeights {
    ConvBn stem;
    std::vector<std::vector<ResidualBlockWeights>> stages;
    torch::Tensor fcW, fcB;  // [classes, features] or undefined

    // Every tensor under its torchvision name; `isBuffer` marks batch-norm running
    // statistics, which are state rather than trainable parameters.
    struct Named {
        std::string name;
        torch::Tensor* tensor;
        bool isBuffer;
    };
    std::vector<Named> named();
};

// Reads torchvision/timm-named ResNet weights (BasicBlock vs Bottleneck from the keys),
// filling the ResNet part of `spec`.
ResNetWeights readResNetWeights(WeightSource& source, ModelSpec& spec);
bool looksLikeResNet(const WeightSource& source);

class ResNet : public Classifier {
public:
    ResNet(ModelSpec spec, ResNetWeights weights);

    const ModelSpec& spec() const override { return m_spec; }
    Trace forward(const torch::Tensor& input) const override;
    void to(torch::Device device) override;
    torch::Device device() const override { return m_device; }
    torch::Tensor logits(const torch::Tensor& batch, bool training) const override;
    Activations activations(const torch::Tensor& batch) const override;
    torch::Tensor logitsReplacing(const torch::Tensor& input, const LayerReplacement& replacement) const override;
    std::vector<torch::Tensor> parameters() const override;
    io::TensorMap stateDict() const override;

private:
    using FeatureSink = std::vector<std::pair<std::string, torch::Tensor>>;
    // Runs the network on [N, C, H, W]. When given, `stages` receives conv1, maxpool
    // and the stage outputs (layer1..), `blocks` conv1, maxpool and every block output,
    // and `replacement` substitutes the output of the layer it names.
    torch::Tensor run(const torch::Tensor& input, bool training, FeatureSink* stages, FeatureSink* blocks = nullptr,
                      const LayerReplacement* replacement = nullptr) const;
    torch::Tensor residualBlock(const ResidualBlockWeights& b, const torch::Tensor& x, bool training) const;

    ModelSpec m_spec;
    mutable ResNetWeights m_w;  // mutable only for named(): running stats update in place
    torch::Device m_device{torch::kCPU};
};

}  // namespace attnviz::engine
