#include "core/engine/study/testtimeregisters.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/methods/attentionmaps.h"
#include "core/engine/study/artifacttokens.h"

#include <algorithm>
#include <cmath>

namespace attnviz::engine {
namespace {

// The outlier tokens of one image, as positions in its sequence: norms [T] above the
// threshold (the authors' rule, every token), or the artifact patches (NaN: flagTokens).
std::vector<int64_t> outlierTokens(const torch::Tensor& norms, const TokenLayout& layout, double threshold)
{
    std::vector<int64_t> out;
    if (!std::isnan(threshold)) {
        const auto above = (norms.to(torch::kFloat64) > threshold).nonzero().flatten();
        out.assign(above.data_ptr<int64_t>(), above.data_ptr<int64_t>() + above.numel());
        return out;
    }
    for (const auto p : flagTokens(norms, layout).flagged)
        out.push_back(layout.prefixTokens() + p);
    return out;
}

// [H]: each unit's mean |activation| at the outliers of one block's units [T, H], zero where
// the unit is not sparse in this image (the authors' filter).
torch::Tensor unitScores(const torch::Tensor& units, const torch::Tensor& outliers, const RegisterSearch& options)
{
    const auto act = units.to(torch::kFloat64);
    const auto score = act.index_select(0, outliers).abs().mean(0);
    const auto sparse = (act < options.sparseBelow).sum(0).to(torch::kFloat64)
                        >= options.sparseFraction * double(act.size(0));
    return score * sparse.to(torch::kFloat64);
}

int checkedBlock(int block, int depth, const char* what)
{
    const int b = block < 0 ? depth + block : block;
    if (b < 0 || b >= depth)
        throw EngineError(std::string(what) + " " + std::to_string(block) + " outside the " + std::to_string(depth)
                          + " blocks");
    return b;
}

// [L]: the CLS row's mass on sequence position `key` in every block, mean of the heads.
torch::Tensor clsMassOnToken(const Trace& trace, int64_t key)
{
    std::vector<torch::Tensor> rows;
    rows.reserve(std::size_t(trace.attention.depth()));
    for (int l = 0; l < trace.attention.depth(); ++l)
        rows.push_back(trace.attention.prefixRows(l).select(1, 0).select(1, key).mean());  // [H] -> scalar
    return torch::stack(rows);
}

// [L, gridH, gridW]: the CLS row over the patches in every block, mean of the heads.
torch::Tensor clsMaps(const Trace& trace)
{
    std::vector<torch::Tensor> blocks;
    blocks.reserve(std::size_t(trace.attention.depth()));
    for (int l = 0; l < trace.attention.depth(); ++l)
        blocks.push_back(patchColumns(trace.attention.prefixRows(l).select(1, 0).mean(0), trace.tokens));
    return torch::stack(blocks);
}

double meanAt(const torch::Tensor& norms, const std::vector<int64_t>& positions)
{
    if (positions.empty())
        return std::nan("");
    return norms.index_select(0, torch::tensor(positions, torch::kLong)).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

RegisterNeuronSearch findRegisterNeurons(const VisionTransformer& vit, const std::vector<torch::Tensor>& inputs,
                                         const RegisterSearch& options)
{
    return findRegisterNeurons(
        vit, inputs.size(), [&](std::size_t i) { return inputs[i]; }, options);
}

RegisterNeuronSearch findRegisterNeurons(const VisionTransformer& vit, std::size_t count,
                                         const std::function<torch::Tensor(std::size_t)>& image,
                                         const RegisterSearch& options)
{
    const int depth = vit.spec().depth;
    RegisterNeuronSearch out;
    out.detectBlock = checkedBlock(options.detectBlock, depth, "the outliers' block");
    out.highestBlock = options.highestBlock < 0 ? std::max(0, depth / 2 - 1)
                                                : checkedBlock(options.highestBlock, depth, "block");
    if (options.topK < 1)
        throw EngineError("a test-time register needs one register neuron at least");
    torch::Tensor sum;  // [blocks 0..highest, H]
    for (std::size_t i = 0; i < count; ++i) {
        throwIfCancelled();
        const auto units = vit.mlpUnits(image(i), out.highestBlock);
        const auto outliers = outlierTokens(units.outputNorms[std::size_t(out.detectBlock)][0], units.layout,
                                            options.normThreshold);
        ++out.images;
        if (outliers.empty())
            continue;
        ++out.imagesWithOutliers;
        const auto index = torch::tensor(outliers, torch::kLong);
        std::vector<torch::Tensor> perBlock;
        for (int l = 0; l <= out.highestBlock; ++l)
            perBlock.push_back(unitScores(units.activations[std::size_t(l)][0], index, options));
        const auto scores = torch::stack(perBlock);
        sum = sum.defined() ? sum + scores : scores;
    }
    if (out.imagesWithOutliers == 0)
        throw EngineError("none of the " + std::to_string(out.images) + " images has an outlier token after block "
                          + std::to_string(out.detectBlock)
                          + (std::isnan(options.normThreshold) ? std::string(" (no artifact patch)")
                                                               : " above norm " + std::to_string(options.normThreshold))
                          + ": no register neurons to find");
    const auto mean = (sum / double(out.imagesWithOutliers)).flatten();
    const auto units = sum.size(1);
    const auto order = std::get<1>(mean.sort(/*stable=*/true, 0, /*descending=*/true));
    for (int64_t i = 0; i < order.numel(); ++i) {
        const auto flat = order[i].item<int64_t>();
        out.ranked.push_back({int(flat / units), flat % units, mean[flat].item<double>()});
    }
    for (std::size_t i = 0; i < std::min(out.ranked.size(), std::size_t(options.topK)); ++i)
        out.chosen.units[out.ranked[i].block].push_back(out.ranked[i].unit);
    for (auto& [block, chosen] : out.chosen.units)
        std::sort(chosen.begin(), chosen.end());
    return out;
}

RegisterEffect registerEffect(const Trace& without, const Trace& with)
{
    if (with.tokens.regTokens != without.tokens.regTokens + 1 || with.tokens.gridH != without.tokens.gridH
        || with.tokens.gridW != without.tokens.gridW)
        throw EngineError("a register's effect needs the traces of one image without and with the register");
    RegisterEffect e;
    e.artifacts = flagTokens(without.tokenNorms.back(), without.tokens).flagged;
    const int64_t reg = with.tokens.prefixTokens() - 1;  // the test-time register: the last prefix token
    if (without.tokens.hasCls) {
        e.clsOnArtifactsWithout = clsMassOnPatches(without, e.artifacts).mean(1);
        e.clsOnArtifactsWith = clsMassOnPatches(with, e.artifacts).mean(1);
        e.clsOnRegister = clsMassOnToken(with, reg);
        e.clsMapsWithout = clsMaps(without);
        e.clsMapsWith = clsMaps(with);
    } else {
        const auto nan = torch::full({without.attention.depth()}, std::nan(""));
        e.clsOnArtifactsWithout = e.clsOnArtifactsWith = e.clsOnRegister = nan;
    }
    std::vector<int64_t> before, after;  // the artifacts' positions in each sequence
    for (const auto p : e.artifacts) {
        before.push_back(without.tokens.prefixTokens() + p);
        after.push_back(with.tokens.prefixTokens() + p);
    }
    e.artifactNormWithout = meanAt(without.tokenNorms.back(), before);
    e.artifactNormWith = meanAt(with.tokenNorms.back(), after);
    e.registerNorm = with.tokenNorms.back()[reg].item<double>();
    if (without.logits.defined()) {
        e.logitsWithout = without.logits.flatten();
        e.logitsWith = with.logits.flatten();
    }
    return e;
}

}  // namespace attnviz::engine
