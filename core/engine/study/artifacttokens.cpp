#include "core/engine/study/artifacttokens.h"

#include "core/engine/engineerror.h"

#include <limits>

namespace attnviz::engine {
namespace {

// Iglewicz & Hoaglin's constant: the MAD of a standard normal is 0.6745.
constexpr double kNormalMad = 0.6745;

// The median with the two middle values averaged for an even count.
double medianOf(const torch::Tensor& values)
{
    return torch::quantile(values.to(torch::kFloat64), 0.5).item<double>();
}

// [L, H]: each block's CLS row summed over the key tokens in `keys`.
torch::Tensor clsMassOn(const AttentionRecord& attention, const std::vector<int64_t>& keys)
{
    std::vector<torch::Tensor> rows;
    const auto index = torch::tensor(keys, torch::kLong);
    for (int l = 0; l < attention.depth(); ++l) {
        const auto cls = attention.prefixRows(l).select(1, 0);  // [H, T]
        rows.push_back(keys.empty() ? torch::zeros({cls.size(0)}) : cls.index_select(1, index).sum(1));
    }
    return torch::stack(rows);
}

}  // namespace

BlockTokenNorms flagTokens(const torch::Tensor& norms, const TokenLayout& layout, double z)
{
    const int prefix = layout.prefixTokens();
    if (norms.dim() != 1 || norms.size(0) != layout.tokens())
        throw EngineError("token norms must be [" + std::to_string(layout.tokens()) + "]");
    BlockTokenNorms out;
    const auto patches = norms.narrow(0, prefix, norms.size(0) - prefix).to(torch::kFloat32);
    out.patchNorms = patches.reshape({layout.gridH, layout.gridW});
    out.prefixNorms = norms.narrow(0, 0, prefix).to(torch::kFloat32);
    out.median = medianOf(patches);
    out.mad = medianOf((patches.to(torch::kFloat64) - out.median).abs());
    out.threshold = out.mad > 0 ? out.median + z * out.mad / kNormalMad : std::numeric_limits<double>::infinity();
    const auto flagged = (patches.to(torch::kFloat64) > out.threshold).nonzero().flatten();
    out.flagged.assign(flagged.data_ptr<int64_t>(), flagged.data_ptr<int64_t>() + flagged.numel());
    return out;
}

torch::Tensor clsMassOnPatches(const Trace& trace, const std::vector<int64_t>& patches)
{
    if (!trace.tokens.hasCls)
        throw EngineError("the CLS token's attention needs a ViT with a CLS token");
    std::vector<int64_t> keys;
    keys.reserve(patches.size());
    for (const auto p : patches)
        keys.push_back(trace.tokens.prefixTokens() + p);
    return clsMassOn(trace.attention, keys);
}

TokenStudy studyTokens(const Trace& trace, double z)
{
    if (trace.tokenNorms.empty() || std::size_t(trace.attention.depth()) != trace.tokenNorms.size())
        throw EngineError("artifact tokens need a ViT trace with every block's token norms");
    TokenStudy out;
    out.layout = trace.tokens;
    out.z = z;
    for (const auto& norms : trace.tokenNorms)
        out.blocks.push_back(flagTokens(norms, trace.tokens, z));
    out.artifacts = out.blocks.back().flagged;

    const auto& layout = trace.tokens;
    const int prefix = layout.prefixTokens();
    const int64_t layers = trace.attention.depth(), heads = trace.attention.heads();
    std::vector<int64_t> registerKeys;  // positions in the sequence
    registerKeys.reserve(std::size_t(layout.regTokens));
    for (int r = 0; r < layout.regTokens; ++r)
        registerKeys.push_back(prefix - layout.regTokens + r);
    const auto undefined = torch::full({layers, heads}, std::numeric_limits<float>::quiet_NaN());
    out.clsOnArtifacts = layout.hasCls ? clsMassOnPatches(trace, out.artifacts) : undefined;
    out.clsOnRegisters = layout.hasCls && !registerKeys.empty() ? clsMassOn(trace.attention, registerKeys) : undefined;
    if (layout.regTokens > 0) {
        std::vector<torch::Tensor> perBlock;
        perBlock.reserve(std::size_t(trace.attention.depth()));
        const int firstRegister = prefix - layout.regTokens;
        for (int l = 0; l < trace.attention.depth(); ++l)  // [H, P, T] -> [H, R, gridH, gridW]
            perBlock.push_back(trace.attention.prefixRows(l)
                                   .narrow(1, firstRegister, layout.regTokens)
                                   .narrow(2, prefix, int64_t(layout.gridH) * layout.gridW)
                                   .reshape({heads, layout.regTokens, layout.gridH, layout.gridW}));
        out.registerAttention = torch::stack(perBlock);
    }
    return out;
}

}  // namespace attnviz::engine
