#pragma once

#include "core/engine/loading/weightsource.h"

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// One layer of timm's ConvStem (vision_transformer_hybrid.py), the convolutional
// backbone of a hybrid ViT's patch embedding (HybridEmbed): a 3x3 convolution of stride
// 2 and padding 1, then batch norm and ReLU on every layer but the last, which has a
// bias instead. Xiao et al. 2021 ("Early convolutions help transformers see better")
// show that such a stem makes a ViT train faster and more stably than one linear
// patch projection.
struct ConvStemLayer {
    torch::Tensor convW, convB;             // [Cout, Cin, 3, 3]; convB on the last layer only
    torch::Tensor bnW, bnB, bnMean, bnVar;  // [Cout]; undefined on the last layer
    bool normed() const { return bnW.defined(); }
};

// The stem under `prefix` ("patch_embed.backbone."): its layers "0", "1", ... in order;
// empty when the checkpoint has none. Throws EngineError for a backbone that is not a
// ConvStem of 3x3 layers (timm's ResNet hybrids, MobileCLIP's patchify stem).
std::vector<ConvStemLayer> readConvStem(WeightSource& s, const std::string& prefix);

// How many input pixels one stem output pixel advances: 2 per layer.
int convStemStride(const std::vector<ConvStemLayer>& stem);

// Every tensor of the stem under its timm name (prefix + "0.conv.weight", ...), batch
// norm running statistics included.
std::vector<std::pair<std::string, torch::Tensor*>> namedConvStem(std::vector<ConvStemLayer>& stem,
                                                                  const std::string& prefix);

// A ViT's patch embedding: image [N, C, H, W] through the stem (none: the image itself)
// and the projection patchW [D, C', K, K] of stride K -> [N, D, gh, gw]. `training` uses
// batch statistics in the stem's batch norms and updates their running statistics.
torch::Tensor embedPatches(const std::vector<ConvStemLayer>& stem, const torch::Tensor& patchW,
                           const torch::Tensor& patchB, const torch::Tensor& image, bool training);

}  // namespace attnviz::engine
