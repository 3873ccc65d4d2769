#pragma once

#include "core/engine/classifier.h"
#include "core/engine/vitweights.h"

namespace attnviz::engine {

// A Vision Transformer (timm semantics: pre-norm blocks, exact GELU, optional
// LayerScale, CLS/distillation/register tokens) whose attention is computed
// explicitly so that every block's weights can be recorded.
class VisionTransformer : public Classifier {
public:
    VisionTransformer(ModelSpec spec, ViTWeights weights);

    const ModelSpec& spec() const override { return m_spec; }
    Trace forward(const torch::Tensor& input) const override;
    void to(torch::Device device) override;
    torch::Device device() const override { return m_device; }
    torch::Tensor logits(const torch::Tensor& batch, bool training) const override;
    Activations activations(const torch::Tensor& batch) const override;
    std::vector<torch::Tensor> parameters() const override;
    io::TensorMap stateDict() const override;
    // The weights in timm's layout, on device(), for methods that walk the network
    // themselves (relevance propagation).
    const ViTWeights& weights() const { return m_w; }

private:
    // [N, T, D] tokens after the last block for an input [N, C, H, W]; fills the
    // layout and, when given, appends each block's attention [N, H, T, T] and the
    // residual stream before each block and after the last ([N, T, D]).
    torch::Tensor encode(const torch::Tensor& input, TokenLayout& layout, std::vector<torch::Tensor>* attentions,
                         std::vector<torch::Tensor>* tokenStates = nullptr) const;
    torch::Tensor embed(const torch::Tensor& input, TokenLayout& layout) const;
    // Position embedding for the patch part at grid gh x gw: [1, gh*gw, D]
    torch::Tensor patchPositions(int gh, int gw) const;
    torch::Tensor block(const ViTBlockWeights& b, const torch::Tensor& x, torch::Tensor& attention) const;
    torch::Tensor attend(const ViTBlockWeights& b, const torch::Tensor& x, torch::Tensor& attention) const;
    torch::Tensor classify(const torch::Tensor& x) const;

    ModelSpec m_spec;
    mutable ViTWeights m_w;  // mutable only for named(): forward never changes weights
    torch::Device m_device{torch::kCPU};
};

}  // namespace attnviz::engine
