#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attnviz::engine {

struct TokenLayout;

// What a pass may hold of attention at once where its matrices cannot be avoided (a
// differentiable pass keeps every block's softmax for its backward; a streamed gradient
// method one block's matrices and their gradients): 4 GiB.
constexpr double kAttentionMemoryBudget = 4.0 * double(int64_t(1) << 30);

// Throws EngineError, one line that says `what` and the size it would need, when
// `copies` attention matrices [heads, T, T] of `elementBytes` each, at the tokens of a
// patchSize-pixel grid over `input` [N, C, H, W] plus `prefixTokens`, exceed the budget.
void checkAttentionBudget(const torch::Tensor& input, int patchSize, int prefixTokens, int heads, double copies,
                          int elementBytes, const std::string& what);

// softmax(q kᵀ + bias) over the keys, the one formula every attention map of a ViT is
// computed by (the forward pass, in whole or by rows, and the record's recomputation):
// q [..., Q, hd] already scaled by 1/√hd, k [..., T, hd], bias [H, Q, T] or undefined.
// -> [..., Q, T]
torch::Tensor attentionWeights(const torch::Tensor& scaledQueries, const torch::Tensor& keys,
                               const torch::Tensor& bias);

// BEiT's relative position bias of one block: its table at the grid [R, H] and the
// grid's pair index [T*T] int64 (shared by the blocks); both undefined for other ViTs.
struct RelativeBias {
    torch::Tensor table;
    torch::Tensor pairIndex;
    // [H, count, T]: the bias of query rows first..first+count-1; undefined without a table.
    torch::Tensor rows(int64_t first, int64_t count, int64_t tokens) const;
};

// What a ViT trace keeps of one block's attention for one image: enough to give any
// row, or the whole matrix, again, in memory linear in the tokens T.
struct BlockAttention {
    torch::Tensor queries;       // [H, T, hd], scaled by 1/√hd
    torch::Tensor keys;          // [H, T, hd]
    RelativeBias bias;           // BEiT's; empty otherwise
    torch::Tensor prefixRows;    // [H, P, T]: the rows of the prefix tokens (CLS first), P >= 0
    torch::Tensor patchRowMean;  // [H, T]: the mean of the patch tokens' rows (a trace keeps it without CLS)
    torch::Tensor whole;         // [H, T, T] when the record was made from matrices; else undefined
};

// Every block's attention of one image, kept as queries and keys instead of the
// [heads, T, T] matrices (blocks x heads x T² floats: 3.7 GB for a ViT-S/8 at 480 px).
// The rows the views show (the prefix tokens', the patch mean, a query patch's) cost
// O(T · hd) per head; a whole block's matrix is recomputed on demand, one at a time.
class AttentionRecord {
public:
    AttentionRecord() = default;
    explicit AttentionRecord(std::vector<BlockAttention> blocks);
    // A record of whole matrices [H, T, T] (synthetic attention in tests and studies).
    static AttentionRecord ofMatrices(const std::vector<torch::Tensor>& matrices, const TokenLayout& layout);

    bool empty() const { return m_blocks.empty(); }
    int depth() const { return int(m_blocks.size()); }
    int heads() const;
    int64_t tokens() const;

    // Block `block`'s softmax [H, T, T], recomputed (T² · hd per head).
    torch::Tensor matrix(int block) const;
    // Every block's matrix at once: T² each, for small models and tests.
    std::vector<torch::Tensor> matrices() const;
    // Token `query`'s row [H, T] without the whole matrix.
    torch::Tensor row(int block, int64_t query) const;
    // [H, P, T]: the prefix tokens' rows (CLS, distillation, registers).
    const torch::Tensor& prefixRows(int block) const { return at(block).prefixRows; }
    // [H, T]: the row that stands for the image, CLS's when there is one, else the mean
    // over the patch queries (as imageRowMap reads a matrix; kept by a trace of a model
    // without CLS, recomputed otherwise).
    torch::Tensor summaryRow(int block, bool hasCls) const;
    // Bytes of tensors the record holds.
    int64_t bytes() const;

private:
    const BlockAttention& at(int block) const;

    std::vector<BlockAttention> m_blocks;
};

}  // namespace attnviz::engine
