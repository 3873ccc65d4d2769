#include "core/engine/study/localization.h"

#include "core/engine/engineerror.h"
#include "core/engine/study/ckastudy.h"

#include <cmath>

namespace attnviz::engine {
namespace {

namespace F = torch::nn::functional;

// A ViT's patch tokens [n, T, D] -> [n, gridH * gridW, D].
torch::Tensor patchTokens(const torch::Tensor& tokens, const TokenLayout& layout)
{
    return tokens.narrow(1, layout.prefixTokens(), layout.gridH * layout.gridW);
}

// input [n, C, H, W] cut into gridH x gridW patches -> [n, gridH * gridW, C * ph * pw].
torch::Tensor inputPatches(const torch::Tensor& input, int gridH, int gridW)
{
    const int64_t ph = (input.size(2) + gridH - 1) / gridH, pw = (input.size(3) + gridW - 1) / gridW;
    auto x = input;
    if (input.size(2) != gridH * ph || input.size(3) != gridW * pw)
        x = F::interpolate(input, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{gridH * ph, gridW * pw})
                                      .mode(torch::kBilinear)
                                      .align_corners(false));
    // [n, C * ph * pw, P] -> [n, P, C * ph * pw]
    return F::unfold(x, F::UnfoldFuncOptions({ph, pw}).stride({ph, pw})).transpose(1, 2);
}

}  // namespace

PositionPair localizationPair(const Activations& activations, const torch::Tensor& input)
{
    PositionPair pair;
    if (activations.tokenStates.size() >= 2) {
        const auto& layout = activations.tokens;
        pair.outputs = patchTokens(activations.tokenStates.back(), layout).detach();
        pair.inputs = patchTokens(activations.tokenStates.front(), layout).detach();
        pair.gridH = layout.gridH;
        pair.gridW = layout.gridW;
        return pair;
    }
    if (activations.features.empty())
        throw EngineError("spatial localisation needs a ViT's tokens or a CNN's feature maps");
    const auto& last = activations.features.back().second.detach();  // [n, C, h, w]
    pair.gridH = int(last.size(2));
    pair.gridW = int(last.size(3));
    pair.outputs = last.flatten(2).transpose(1, 2);  // [n, P, C]
    pair.inputs = inputPatches(input.to(last.device(), torch::kFloat32), pair.gridH, pair.gridW);
    return pair;
}

void LocalizationAccumulator::add(const PositionPair& pair)
{
    const int positions = pair.gridH * pair.gridW;
    if (pair.outputs.size(0) < 4)
        throw EngineError("spatial localisation needs minibatches of at least 4 images");
    if (!m_cka) {
        m_cka = std::make_unique<CkaAccumulator>(positions, positions);
        m_gridH = pair.gridH;
        m_gridW = pair.gridW;
    } else if (pair.gridH != m_gridH || pair.gridW != m_gridW) {
        throw EngineError("a minibatch has a different grid than the first");
    }
    m_cka->addGrams(positionGramStack(pair.outputs), positionGramStack(pair.inputs));
    m_images += std::size_t(pair.outputs.size(0));
}

Localization LocalizationAccumulator::result() const
{
    if (!m_cka)
        throw EngineError("no minibatch has been measured yet");
    Localization out;
    out.gridH = m_gridH;
    out.gridW = m_gridW;
    out.images = m_images;
    out.similarity = m_cka->result();  // [P, P]
    const auto s = out.similarity.to(torch::kFloat64);
    const auto defined = s.isnan().logical_not();
    const auto eye = torch::eye(s.size(0), torch::kBool);
    const auto meanOf = [&](const torch::Tensor& mask) {
        const auto m = mask.logical_and(defined);
        return m.any().item<bool>() ? s.masked_select(m).mean().item<double>() : std::nan("");
    };
    out.meanDiagonal = meanOf(eye);
    out.meanOffDiagonal = meanOf(eye.logical_not());
    const auto best = torch::where(defined, s, torch::full_like(s, -1e300)).argmax(1);  // [P]
    const auto rows = torch::arange(s.size(0));
    out.diagonalHits = int(best.eq(rows).logical_and(defined.diagonal()).sum().item<int64_t>());
    return out;
}

Localization localize(const Classifier& model, std::size_t images, int batchSize, const LocalizationLoader& load,
                      const LocalizationProgress& progress)
{
    const auto used = ckaUsableImages(images, batchSize);
    if (batchSize < 4 || used < 4)
        throw EngineError("spatial localisation needs minibatches and a set of at least 4 images; got "
                          + std::to_string(images) + " images");
    LocalizationAccumulator sums;
    torch::NoGradGuard noGrad;
    for (std::size_t first = 0; first < used; first += std::size_t(batchSize)) {
        const auto input = load(first, std::min(std::size_t(batchSize), used - first));
        sums.add(localizationPair(model.activations(input), input));
        if (progress)
            progress(first + std::size_t(input.size(0)), used);
    }
    return sums.result();
}

}  // namespace attnviz::engine
