#include "core/engine/methods/attentionmaps.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/methodtable.h"
#include "core/io/rawtensor.h"

namespace attnviz::engine {
torch::Tensor patchColumns(const torch::Tensor& rows, const TokenLayout& layout)
{
    auto sizes = rows.sizes().vec();
    sizes.pop_back();
    sizes.push_back(layout.gridH);
    sizes.push_back(layout.gridW);
    return rows.narrow(-1, layout.prefixTokens(), int64_t(layout.gridH) * layout.gridW).reshape(sizes);
}

namespace {

// The row that stands for "the image": CLS, or the mean over patch queries. [..., T, T] -> [..., T]
torch::Tensor summaryRow(const torch::Tensor& matrix, const TokenLayout& layout)
{
    if (layout.hasCls)
        return matrix.select(-2, 0);
    return matrix.narrow(-2, layout.prefixTokens(), int64_t(layout.gridH) * layout.gridW).mean(-2);
}

}  // namespace

void expectAttentionLayout(const torch::Tensor& attention, const TokenLayout& layout)
{
    if (attention.dim() != 3 || attention.size(1) != layout.tokens() || attention.size(2) != layout.tokens())
        throw EngineError("attention " + io::shapeString(attention.sizes().vec()) + " does not match "
                          + std::to_string(layout.tokens()) + " tokens");
}

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
    expectAttentionLayout(attention, layout);
    if (query < 0 || query >= layout.tokens())
        throw EngineError("query token " + std::to_string(query) + " outside 0.."
                          + std::to_string(layout.tokens() - 1));
    return patchColumns(attention.select(1, query), layout);
}

torch::Tensor clsAttention(const torch::Tensor& attention, const TokenLayout& layout)
{
    expectAttentionLayout(attention, layout);
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

// The attention method's view: per requested block, the CLS row (or the query patch's
// row) per head; with an attention-pooling head, its row as the layer kPoolLayer.
ViewMaps attentionView(const Classifier&, const Trace& trace, const ViewRequest& request)
{
    ViewMaps view;
    std::vector<torch::Tensor> rows;
    const auto& layout = trace.tokens;
    // An attention-pooling head stands for the CLS token a SigLIP lacks: its map is the
    // default, and "all" ends with it (a query patch is a block's token: blocks only).
    const bool hasPool = trace.poolAttention.defined();
    const bool poolOnly = request.layer.isPool() || (request.layer.isDefault() && hasPool && !request.query);
    if (poolOnly && !hasPool)
        throw EngineError("this model has no attention-pooling head (layer '" + std::string(kPoolLayer) + "')");
    if (poolOnly && request.query)
        throw EngineError("a query patch selects a block's token; the attention pool's only query is its latent");
    const bool withPool = poolOnly || (request.layer.isAll() && hasPool && !request.query);
    const auto blocks = poolOnly ? std::vector<int>{} : requestedBlocks(request.layer, trace.attention.depth(), -1);
    for (int b : blocks) {
        torch::Tensor row;  // [H, T], read from the record without the block's whole matrix
        if (request.query) {
            const auto [r, c] = *request.query;
            if (r < 0 || c < 0 || r >= layout.gridH || c >= layout.gridW)
                throw EngineError("query patch " + std::to_string(r) + "," + std::to_string(c) + " outside the "
                                  + std::to_string(layout.gridH) + "x" + std::to_string(layout.gridW) + " grid");
            row = trace.attention.row(b, layout.prefixTokens() + int64_t(r) * layout.gridW + c);
        } else {
            row = trace.attention.summaryRow(b, layout.hasCls);
        }
        rows.push_back(selectHeads(patchColumns(row, layout), request.head, view.heads));
        view.layers.push_back(std::to_string(b));
    }
    if (withPool) {
        rows.push_back(selectHeads(poolAttentionMap(trace.poolAttention, layout), request.head, view.heads));
        view.layers.push_back(kPoolLayer);
    }
    view.maps = torch::stack(rows);
    return view;
}

}  // namespace attnviz::engine
