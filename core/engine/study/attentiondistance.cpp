#include "core/engine/study/attentiondistance.h"

#include "core/engine/engineerror.h"
#include "core/io/rawtensor.h"

namespace attnviz::engine {
namespace {

// [N, N] pixel distances between patch centres, N = gridH * gridW in row-major order.
torch::Tensor patchDistances(const TokenLayout& layout)
{
    const auto rows = torch::arange(layout.gridH, torch::kFloat64).repeat_interleave(layout.gridW);
    const auto cols = torch::arange(layout.gridW, torch::kFloat64).repeat(layout.gridH);
    const auto dy = rows.unsqueeze(1) - rows.unsqueeze(0);
    const auto dx = cols.unsqueeze(1) - cols.unsqueeze(0);
    return (dy * dy + dx * dx).sqrt() * double(layout.patchSize);
}

}  // namespace

torch::Tensor meanAttentionDistance(const torch::Tensor& attention, const TokenLayout& layout, bool renormalize)
{
    if (attention.dim() != 3 || attention.size(1) != layout.tokens() || attention.size(2) != layout.tokens())
        throw EngineError("attention " + io::shapeString(attention.sizes().vec()) + " does not match "
                          + std::to_string(layout.tokens()) + " tokens");
    const auto n = int64_t(layout.gridH) * layout.gridW;
    const auto p = layout.prefixTokens();
    // [H, N, N]: patch queries attending to patch keys
    auto patches = attention.to(torch::kFloat64).narrow(1, p, n).narrow(2, p, n);
    if (renormalize) {
        // Each query's patch weights sum to 1; a row with none (all on prefix tokens) stays 0.
        const auto mass = patches.sum(-1, /*keepdim=*/true);
        patches = torch::where(mass > 0, patches / mass, torch::zeros_like(patches));
    }
    return (patches * patchDistances(layout)).sum(-1).mean(-1).to(torch::kFloat32);
}

}  // namespace attnviz::engine
