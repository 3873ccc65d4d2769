#pragma once

#include "core/engine/model/trace.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

enum class HeadFusion { Mean, Max, Min };

HeadFusion headFusionFromName(const std::string& name);  // "mean" | "max" | "min"

// Throws EngineError unless `attention` is one block's [H, T, T] for the layout's T tokens.
void expectAttentionLayout(const torch::Tensor& attention, const TokenLayout& layout);

// Where query token `query` of one block looks, per head: rows of attention
// [H, T, T] restricted to the patch columns, as [H, gridH, gridW].
torch::Tensor queryAttention(const torch::Tensor& attention, const TokenLayout& layout, int query);

// The CLS row per head, [H, gridH, gridW]. Models without a CLS token: the mean of
// the rows of all patch queries (docs/methods.md).
torch::Tensor clsAttention(const torch::Tensor& attention, const TokenLayout& layout);

// An attention-pooling head's weights [H, L, T] (Trace::poolAttention) over the patch
// columns, its latent queries averaged (L is 1 in every known model): [H, gridH, gridW].
torch::Tensor poolAttentionMap(const torch::Tensor& poolAttention, const TokenLayout& layout);

// Token rows [..., T] over the patch columns: [..., gridH, gridW].
torch::Tensor patchColumns(const torch::Tensor& rows, const TokenLayout& layout);

// The row of a token matrix [..., T, T] that stands for the whole image (CLS, or the
// mean of the patch rows without one), over the patch columns: [..., gridH, gridW].
torch::Tensor imageRowMap(const torch::Tensor& matrix, const TokenLayout& layout);

// [H, ...] -> [...] by mean, max or min over heads.
torch::Tensor fuseHeads(const torch::Tensor& perHead, HeadFusion fusion);

}  // namespace attnviz::engine
