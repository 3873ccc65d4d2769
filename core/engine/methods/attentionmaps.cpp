#include "core/engine/methods/attentionmaps.h"

#include "core/engine/engineerror.h"
#include "core/io/rawtensor.h"

namespace attnviz::engine {
namespace {

void expectLayout(const torch::Tensor& attention, const TokenLayout& layout)
{
    if (attention.dim() != 3 || attention.size(1) != layout.tokens() || attention.size(2) != layout.tokens())
        throw EngineError("attention " + io::shapeString(attention.sizes().vec()) + " does not match "
                          + std::to_string(layout.tokens()) + " tokens");
}

// [..., T] -> [..., gridH, gridW]: the patch columns only.
torch::Tensor patchColumns(const torch::Tensor& rows, const TokenLayout& layout)
{
    auto sizes = rows.sizes().vec();
    sizes.pop_back();
    sizes.push_back(layout.gridH);
    sizes.push_back(layout.gridW);
    return rows.narrow(-1, layout.prefixTokens(), layout.gridH * layout.gridW).reshape(sizes);
}

// The row that stands for "the image": CLS, or the mean over patch queries. [..., T, T] -> [..., T]
torch::Tensor summaryRow(const torch::Tensor& matrix, const TokenLayout& layout)
{
    if (layout.hasCls)
        return matrix.select(-2, 0);
    return matrix.narrow(-2, layout.prefixTokens(), layout.gridH * layout.gridW).mean(-2);
}

}  // namespace

HeadFusion headFusionFromName(const std::string& name)
{
    if (name == "mean")
        return HeadFusion::Mean;
    if (name == "max")
        return HeadFusion::Max;
    if (name == "min")
        return HeadFusion::Min;
    throw EngineError("unknown head fusion '" + name + "' (use mean, max or min)");
}

torch::Tensor queryAttention(const torch::Tensor& attention, const TokenLayout& layout, int query)
{
    expectLayout(attention, layout);
    if (query < 0 || query >= layout.tokens())
        throw EngineError("query token " + std::to_string(query) + " outside 0.." + std::to_string(layout.tokens() - 1));
    return patchColumns(attention.select(1, query), layout);
}

torch::Tensor clsAttention(const torch::Tensor& attention, const TokenLayout& layout)
{
    expectLayout(attention, layout);
    return imageRowMap(attention, layout);
}

torch::Tensor poolAttentionMap(const torch::Tensor& poolAttention, const TokenLayout& layout)
{
    if (poolAttention.dim() != 3 || poolAttention.size(2) != layout.tokens())
        throw EngineError("pool attention " + io::shapeString(poolAttention.sizes().vec()) + " does not match "
                          + std::to_string(layout.tokens()) + " tokens");
    return patchColumns(poolAttention.mean(1), layout);
}

torch::Tensor imageRowMap(const torch::Tensor& matrix, const TokenLayout& layout)
{
    return patchColumns(summaryRow(matrix, layout), layout);
}

torch::Tensor fuseHeads(const torch::Tensor& perHead, HeadFusion fusion)
{
    switch (fusion) {
    case HeadFusion::Mean: return perHead.mean(0);
    case HeadFusion::Max: return std::get<0>(perHead.max(0));
    case HeadFusion::Min: return std::get<0>(perHead.min(0));
    }
    return perHead.mean(0);
}

torch::Tensor attentionRollout(const std::vector<torch::Tensor>& attentions, const TokenLayout& layout,
                               const RolloutOptions& options)
{
    if (attentions.empty() || options.startLayer < 0 || options.startLayer >= int(attentions.size()))
        throw EngineError("rollout start layer " + std::to_string(options.startLayer) + " outside the "
                          + std::to_string(attentions.size()) + " blocks");
    if (!(options.discardRatio >= 0.0 && options.discardRatio < 1.0))
        throw EngineError("discard ratio must be in [0, 1)");
    const auto t = layout.tokens();
    const auto eye = torch::eye(t, torch::kFloat64);
    auto rollout = eye.clone();
    for (std::size_t l = std::size_t(options.startLayer); l < attentions.size(); ++l) {
        expectLayout(attentions[l], layout);
        auto fused = fuseHeads(attentions[l].to(torch::kFloat64), options.fusion);  // [T, T]
        if (options.clampNegative)
            fused = fused.clamp_min(0.0);
        if (options.discardRatio > 0.0) {
            // Zero the smallest weights, but never a row's attention to CLS (column 0).
            const auto k = int64_t(double(t * t) * options.discardRatio);
            auto flat = fused.flatten().clone();
            const auto smallest = std::get<1>(flat.topk(k, -1, /*largest=*/false));
            flat.index_fill_(0, smallest, 0.0);
            auto pruned = flat.view({t, t});
            if (layout.hasCls)
                pruned.select(1, 0).copy_(fused.select(1, 0));
            fused = pruned;
        }
        auto a = 0.5 * fused + 0.5 * eye;
        a = a / a.sum(-1, /*keepdim=*/true);
        rollout = torch::matmul(a, rollout);
    }
    return imageRowMap(rollout, layout).to(torch::kFloat32);
}

}  // namespace attnviz::engine
