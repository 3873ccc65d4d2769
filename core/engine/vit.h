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

private:
    // [1, T, D] tokens for an input [1, C, H, W]; fills the layout.
    torch::Tensor embed(const torch::Tensor& input, TokenLayout& layout) const;
    // Position embedding for the patch part at grid gh x gw: [1, gh*gw, D]
    torch::Tensor patchPositions(int gh, int gw) const;
    torch::Tensor block(const ViTBlockWeights& b, const torch::Tensor& x, torch::Tensor& attention) const;
    torch::Tensor attend(const ViTBlockWeights& b, const torch::Tensor& x, torch::Tensor& attention) const;
    torch::Tensor classify(const torch::Tensor& x) const;

    ModelSpec m_spec;
    ViTWeights m_w;
    torch::Device m_device{torch::kCPU};
};

}  // namespace attnviz::engine
