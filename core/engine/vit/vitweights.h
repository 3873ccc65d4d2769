#pragma once

#include "core/engine/loading/weightsource.h"
#include "core/engine/model/modelspec.h"
#include "core/engine/vit/convstem.h"
#include "core/io/modelconfig.h"

#include <torch/torch.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// One pre-norm transformer block in timm's layout, whatever the checkpoint's naming.
struct ViTBlockWeights {
    torch::Tensor norm1W, norm1B;
    torch::Tensor qkvW, qkvB;  // [3D, D], [3D]; rows: q, k, v, each head-major
    torch::Tensor projW, projB;
    torch::Tensor ls1;  // [D] LayerScale or undefined
    torch::Tensor norm2W, norm2B;
    torch::Tensor fc1W, fc1B;  // [hidden, D]
    torch::Tensor fc2W, fc2B;  // [D, hidden]
    torch::Tensor ls2;
    // BEiT: relative position bias table [(2W-1)(2W-1)+3, heads] indexed by token pair
    // (relativebias.h), added to the attention logits; or undefined.
    torch::Tensor relTable;
};

// An attention-pooling head in timm's layout (AttentionPoolLatent; HF SigLIP's
// SiglipMultiheadAttentionPoolingHead is read into it): latent queries attend over the
// last tokens, y = proj(attention), then y + mlp(norm(y)).
struct AttentionPoolWeights {
    torch::Tensor latent;        // [1, L, D] learned queries (L = 1 in every known model)
    torch::Tensor qW, qB;        // [D, D], [D]; qW undefined: the latent is the query
    torch::Tensor kvW, kvB;      // [2D, D], [2D]; rows: k, v, each head-major
    torch::Tensor projW, projB;  // [D, D]
    torch::Tensor normW, normB;
    torch::Tensor fc1W, fc1B;  // [hidden, D]
    torch::Tensor fc2W, fc2B;  // [D, hidden]
};

struct ViTWeights {
    std::vector<ConvStemLayer> stem;   // a hybrid's convolutional stem, or empty
    torch::Tensor patchW, patchB;      // [D, C, K, K], [D]: C the image's (or the stem's) channels
    torch::Tensor clsToken;            // [1, 1, D] or undefined
    torch::Tensor distToken;           // [1, 1, D] or undefined
    torch::Tensor regTokens;           // [1, R, D] or undefined
    torch::Tensor posEmbed;            // [1, L, D]
    torch::Tensor preNormW, preNormB;  // CLIP's norm before the first block, or undefined
    std::vector<ViTBlockWeights> blocks;
    torch::Tensor normW, normB;      // final norm, undefined with fc_norm
    torch::Tensor fcNormW, fcNormB;  // norm after average pooling
    AttentionPoolWeights pool;       // SigLIP's head; pool.latent undefined without one
    torch::Tensor headW, headB;      // [classes, D] or undefined
    torch::Tensor headDistW, headDistB;
    torch::Tensor projW;  // [E, D] CLIP's image projection (no bias), or undefined

    // Every defined tensor under its timm name, in checkpoint order.
    std::vector<std::pair<std::string, torch::Tensor*>> named();
};

// The readers of the layouts (vit/families.cpp lists them): each reads a checkpoint's
// weights into timm's structure and fills spec.depth, embedDim, patchSize, the token
// flags, numClasses and what its family's keys say of the MLP. Heads and preprocessing
// are not set here.
ViTWeights readTimmViT(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
ViTWeights readTorchvisionViT(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
ViTWeights readHfViT(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
// The CLIP and SigLIP towers and HF DINOv2 (vitlayouts.cpp).
ViTWeights readOpenClip(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
ViTWeights readHfClip(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
ViTWeights readHfSiglip(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
ViTWeights readHfDinov2(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);

// What every layout's weights leave to the config (the MLP activation) and what follows
// from the weights whatever their layout (BEiT's relative bias, the embedding width).
void finishViTSpec(const ViTWeights& w, const io::ModelConfig& config, ModelSpec& spec);

// Shared by the layout readers: `prefix`.weight/.bias of a norm [d], of a linear layer
// (bias optional).
void readNormWeights(WeightSource& s, const std::string& prefix, int64_t d, torch::Tensor& w, torch::Tensor& b);
void readLinearWeights(WeightSource& s, const std::string& prefix, std::vector<std::int64_t> shape, torch::Tensor& w,
                       torch::Tensor& b);
// CLIP's blocks as open_clip names them, image and text towers alike: `prefix`N.{ln_1,
// attn.in_proj_*, attn.out_proj, ls_1.gamma, ln_2, mlp.c_fc, mlp.c_proj, ls_2.gamma} for
// N = 0, 1, ... while present (none: an empty list).
std::vector<ViTBlockWeights> readOpenClipBlocks(WeightSource& s, const std::string& prefix, int64_t d);
// HF CLIP's encoder layers (CLIP and SigLIP, image and text towers): `prefix`N.{layer_norm1,
// self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2} while present.
std::vector<ViTBlockWeights> readHfClipLayers(WeightSource& s, const std::string& prefix, int64_t d);
// Separate q, k, v linear layers (`prefix` + q, k, v names) into b.qkvW / b.qkvB.
void readSeparateQkv(WeightSource& s, const std::string& prefix, const std::array<const char*, 3>& names, int64_t d,
                     ViTBlockWeights& b);
// timm's attention pool under `prefix` ("attn_pool."), for a width d.
AttentionPoolWeights readTimmAttentionPool(WeightSource& s, const std::string& prefix, int64_t d);

}  // namespace attnviz::engine
