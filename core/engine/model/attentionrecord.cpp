#include "core/engine/model/attentionrecord.h"

#include "core/engine/engineerror.h"
#include "core/engine/model/trace.h"
#include "core/io/rawtensor.h"

namespace attnviz::engine {

torch::Tensor attentionWeights(const torch::Tensor& scaledQueries, const torch::Tensor& keys, const torch::Tensor& bias)
{
    auto logits = torch::matmul(scaledQueries, keys.transpose(-2, -1));
    if (bias.defined())
        logits = logits + bias;
    return torch::softmax(logits, -1);
}

torch::Tensor RelativeBias::rows(int64_t first, int64_t count, int64_t tokens) const
{
    if (!table.defined())
        return {};
    // [count*T, H] -> [H, count, T]
    return table.index_select(0, pairIndex.narrow(0, first * tokens, count * tokens))
        .view({count, tokens, -1})
        .permute({2, 0, 1});
}

void checkAttentionBudget(const torch::Tensor& input, int patchSize, int prefixTokens, int heads, double copies,
                          int elementBytes, const std::string& what)
{
    if (input.dim() != 4 || patchSize <= 0)
        return;  // the pass itself reports a wrong shape
    const double tokens = double(input.size(2) / patchSize) * double(input.size(3) / patchSize) + prefixTokens;
    const double bytes = copies * elementBytes * heads * tokens * tokens;
    if (bytes > kAttentionMemoryBudget)
        throw EngineError(what + " at " + std::to_string(int64_t(tokens)) + " tokens needs about "
                          + std::to_string(int64_t(bytes / (1 << 20))) + " MB of attention matrices (at most "
                          + std::to_string(int64_t(kAttentionMemoryBudget / (1 << 20))) + " MB)");
}

AttentionRecord::AttentionRecord(std::vector<BlockAttention> blocks)
    : m_blocks(std::move(blocks))
{
}

AttentionRecord AttentionRecord::ofMatrices(const std::vector<torch::Tensor>& matrices, const TokenLayout& layout)
{
    std::vector<BlockAttention> blocks;
    const int prefix = layout.prefixTokens();
    const int64_t patches = int64_t(layout.gridH) * layout.gridW;
    for (const auto& m : matrices) {
        if (m.dim() != 3 || m.size(1) != layout.tokens() || m.size(2) != layout.tokens())
            throw EngineError("attention " + io::shapeString(m.sizes().vec()) + " does not match "
                              + std::to_string(layout.tokens()) + " tokens");
        BlockAttention b;
        b.whole = m;
        b.prefixRows = m.narrow(1, 0, prefix);
        b.patchRowMean = m.narrow(1, prefix, patches).mean(1);
        blocks.push_back(std::move(b));
    }
    return AttentionRecord(std::move(blocks));
}

const BlockAttention& AttentionRecord::at(int block) const
{
    if (block < 0 || block >= depth())
        throw EngineError("block " + std::to_string(block) + " outside the " + std::to_string(depth())
                          + " recorded blocks");
    return m_blocks[std::size_t(block)];
}

int AttentionRecord::heads() const
{
    return empty() ? 0 : int(m_blocks.front().prefixRows.size(0));
}

int64_t AttentionRecord::tokens() const
{
    return empty() ? 0 : m_blocks.front().prefixRows.size(2);
}

torch::Tensor AttentionRecord::matrix(int block) const
{
    const auto& b = at(block);
    if (b.whole.defined())
        return b.whole;
    return attentionWeights(b.queries, b.keys, b.bias.rows(0, tokens(), tokens()));
}

std::vector<torch::Tensor> AttentionRecord::matrices() const
{
    std::vector<torch::Tensor> out;
    for (int l = 0; l < depth(); ++l)
        out.push_back(matrix(l));
    return out;
}

torch::Tensor AttentionRecord::row(int block, int64_t query) const
{
    const auto& b = at(block);
    if (query < 0 || query >= tokens())
        throw EngineError("query token " + std::to_string(query) + " outside 0.." + std::to_string(tokens() - 1));
    if (b.whole.defined())
        return b.whole.select(1, query);
    // [H, 1, hd] x [H, hd, T] -> [H, 1, T]
    return attentionWeights(b.queries.narrow(1, query, 1), b.keys, b.bias.rows(query, 1, tokens())).select(1, 0);
}

torch::Tensor AttentionRecord::summaryRow(int block, bool hasCls) const
{
    const auto& b = at(block);
    if (hasCls)
        return b.prefixRows.select(1, 0);
    if (b.patchRowMean.defined())
        return b.patchRowMean;
    const auto prefix = b.prefixRows.size(1);  // a record of a model with CLS, asked for the patch mean
    return matrix(block).narrow(1, prefix, tokens() - prefix).mean(1);
}

int64_t AttentionRecord::bytes() const
{
    const auto size = [](const torch::Tensor& t) { return t.defined() ? int64_t(t.nbytes()) : int64_t(0); };
    int64_t total = empty() ? 0 : size(m_blocks.front().bias.pairIndex);  // one index for every block
    for (const auto& b : m_blocks)
        total += size(b.queries) + size(b.keys) + size(b.bias.table) + size(b.prefixRows) + size(b.patchRowMean)
                 + size(b.whole);
    return total;
}

}  // namespace attnviz::engine
