#pragma once

#include "core/engine/cnn/layers.h"
#include "core/engine/model/classifier.h"

namespace attnviz::engine::cnn {

// A classification CNN as its description: the feature extractor and the classifier.
struct Network {
    Sequence features;  // [N, C, H, W] -> the last feature map [N, C', h, w]
    Sequence head;      // [N, C', h, w] -> logits [N, classes]; empty without a classifier
};

// Fills the parts of `spec` that the description determines: the stage names, every
// conv, pool and recorded output's receptive field, and the depth (the convs and linear
// layers on the main path: 50 for ResNet-50, 121 for DenseNet-121).
void describe(const Network& network, ModelSpec& spec);

// Any described CNN; forward() records the Stage outputs, activations() the Block ones.
class ConvNet : public Classifier {
public:
    ConvNet(ModelSpec spec, Network network);

    const ModelSpec& spec() const override { return m_spec; }
    std::vector<Trace> forwardBatch(const torch::Tensor& batch) const override;
    void to(torch::Device device) override;
    torch::Device device() const override { return m_device; }
    torch::Tensor logits(const torch::Tensor& batch, bool training) const override;
    Activations activations(const torch::Tensor& batch) const override;
    torch::Tensor logitsReplacing(const torch::Tensor& input, const LayerReplacement& replacement) const override;
    Activations activationsOfLastLayer(const torch::Tensor& lastLayerInput, const TokenLayout& tokens) const override;
    std::vector<std::pair<std::string, torch::Tensor>> namedParameters() const override;
    io::TensorMap stateDict() const override;

private:
    // input [N, C, H, W] -> logits [N, classes] (undefined without a classifier);
    // `lastFeatures`, when given, receives the last feature map [N, C', h, w].
    torch::Tensor run(const torch::Tensor& input, RunContext& context, torch::Tensor* lastFeatures = nullptr) const;
    std::vector<NamedTensor> named() const;

    ModelSpec m_spec;
    mutable Network m_network;  // mutable only for named(): running stats update in place
    torch::Device m_device{torch::kCPU};
};

}  // namespace attnviz::engine::cnn
