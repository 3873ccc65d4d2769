#include "core/engine/methods/rollout.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {

ImageRowProduct::ImageRowProduct(const TokenLayout& layout)
    : m_layout(layout)
    , m_row(torch::zeros({1, layout.tokens()}, torch::kFloat64))
{
    // The selector of the row imageRowMap reads: e_CLS, or the patch rows' mean.
    const int64_t patches = int64_t(layout.gridH) * layout.gridW;
    if (layout.hasCls)
        m_row[0][0] = 1.0;
    else
        m_row.narrow(1, layout.prefixTokens(), patches).fill_(1.0 / double(patches));
}

void ImageRowProduct::multiply(const torch::Tensor& matrix)
{
    m_row = torch::matmul(m_row, matrix.to(torch::kCPU, torch::kFloat64));
}

void ImageRowProduct::multiplyIdentityPlus(const torch::Tensor& matrix)
{
    m_row = m_row + torch::matmul(m_row, matrix.to(torch::kCPU, torch::kFloat64));
}

torch::Tensor ImageRowProduct::map() const
{
    return patchColumns(m_row[0], m_layout).to(torch::kFloat32);
}

void checkRolloutOptions(const RolloutOptions& options, int depth)
{
    checkRolloutStart(options.startLayer, depth);
    if (!(options.discardRatio >= 0.0 && options.discardRatio < 1.0))
        throw EngineError("discard ratio must be in [0, 1)");
}

namespace {

// fuseHeads in float64, one head at a time: [H, T, T] -> [T, T], so that no [H, T, T]
// float64 copy exists (622 MB for a ViT-S/8 at 480 px).
torch::Tensor fuseHeads64(const torch::Tensor& perHead, HeadFusion fusion)
{
    // A copy even when the input is float64 already: the sum below is in place.
    auto fused = perHead[0].to(torch::kCPU, torch::kFloat64, /*non_blocking=*/false, /*copy=*/true);
    for (int64_t h = 1; h < perHead.size(0); ++h) {
        const auto head = perHead[h].to(torch::kCPU, torch::kFloat64);
        switch (fusion) {
        case HeadFusion::Mean: fused.add_(head); break;
        case HeadFusion::Max: fused = torch::maximum(fused, head); break;
        case HeadFusion::Min: fused = torch::minimum(fused, head); break;
        }
    }
    return fusion == HeadFusion::Mean ? fused.div_(double(perHead.size(0))) : fused;
}

template <typename BlockMatrix>
torch::Tensor rollOut(int depth, const BlockMatrix& blockMatrix, const TokenLayout& layout,
                      const RolloutOptions& options)
{
    checkRolloutOptions(options, depth);
    ImageRowProduct product(layout);
    for (int l = depth - 1; l >= options.startLayer; --l)
        product.multiply(rolloutMatrix(blockMatrix(l), layout, options));
    return product.map();
}

}  // namespace

torch::Tensor rolloutMatrix(const torch::Tensor& perHead, const TokenLayout& layout, const RolloutOptions& options)
{
    expectAttentionLayout(perHead, layout);
    const auto t = layout.tokens();
    auto fused = fuseHeads64(perHead, options.fusion);  // [T, T]
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
    auto a = 0.5 * fused;
    a.diagonal().add_(0.5);
    return a / a.sum(-1, /*keepdim=*/true);
}

torch::Tensor attentionRollout(const AttentionRecord& attention, const TokenLayout& layout,
                               const RolloutOptions& options)
{
    return rollOut(
        attention.depth(), [&](int l) { return attention.matrix(l); }, layout, options);
}

torch::Tensor attentionRollout(const std::vector<torch::Tensor>& attentions, const TokenLayout& layout,
                               const RolloutOptions& options)
{
    return rollOut(
        int(attentions.size()), [&](int l) { return attentions[std::size_t(l)]; }, layout, options);
}

ViewMaps rolloutView(const Classifier&, const Trace& trace, const ViewRequest& request)
{
    RolloutOptions options;
    options.fusion = request.head.fusion;
    options.discardRatio = request.discardRatio;
    options.startLayer = rolloutStartBlock(trace, request);
    return rolledOutView(attentionRollout(trace.attention, trace.tokens, options), options.startLayer,
                         headChoiceName(request.head));
}

}  // namespace attnviz::engine
