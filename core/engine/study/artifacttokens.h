#pragma once

#include "core/engine/model/trace.h"

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace attnviz::engine {

// High-norm "artifact" tokens (Darcet et al. 2023, "Vision Transformers Need
// Registers"): patch tokens whose output norm is far above the rest of the image's,
// found on background patches of large ViTs, where they soak up the CLS token's
// attention.
//
// The outlier rule is Iglewicz & Hoaglin's modified z-score over one block's patch
// norms: M = 0.6745 (x − median) / MAD, flagged when M > z (3.5, their recommendation).
// Median and MAD resist the outliers they look for; MAD = 0 flags nothing.
constexpr double kArtifactZ = 3.5;

struct BlockTokenNorms {
    torch::Tensor patchNorms;   // [gridH, gridW]: ‖token‖ of each patch token after the block
    torch::Tensor prefixNorms;  // [prefix]: CLS, distillation, registers, in sequence order
    double median = 0, mad = 0;
    double threshold = 0;          // median + z · MAD / 0.6745 (+inf when MAD = 0)
    std::vector<int64_t> flagged;  // patch indices (row-major), ascending
};

// One block output's norms [T] (Trace::tokenNorms) under the rule with `z`.
BlockTokenNorms flagTokens(const torch::Tensor& norms, const TokenLayout& layout, double z = kArtifactZ);

struct TokenStudy {
    TokenLayout layout;
    double z = kArtifactZ;
    std::vector<BlockTokenNorms> blocks;  // per block output
    // The artifact tokens: the patches flagged after the last block (Darcet et al. read
    // them off the output), whose pull on the attention every block's heads are scored by.
    std::vector<int64_t> artifacts;
    // [L, H]: the CLS query's attention mass on the artifacts, and on the register
    // tokens; NaN without a CLS token, and on registers for a model without them.
    torch::Tensor clsOnArtifacts, clsOnRegisters;
    // [L, H, R, gridH, gridW]: each register query's attention over the patches;
    // undefined without registers.
    torch::Tensor registerAttention;
};

// [L, H]: the CLS query's attention mass on the patches `patches` (row-major indices) in
// every block of a trace with a CLS token.
torch::Tensor clsMassOnPatches(const Trace& trace, const std::vector<int64_t>& patches);

// Everything above from one ViT trace (its tokenNorms and attentions). Throws
// EngineError for a trace without token norms (a CNN's).
TokenStudy studyTokens(const Trace& trace, double z = kArtifactZ);

}  // namespace attnviz::engine
