#include "core/engine/methods/gradientmethods.h"

#include "core/engine/methods/attentionmaps.h"
#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/receptivefield.h"

#include <cstdlib>

namespace attnviz::engine {

namespace {

void checkUnit(int row, int col, int64_t height, int64_t width, const std::string& layer)
{
    if (row < 0 || col < 0 || row >= height || col >= width)
        throw EngineError("unit " + std::to_string(row) + "," + std::to_string(col) + " outside layer '" + layer
                          + "' grid of " + std::to_string(height) + "x" + std::to_string(width));
}

void checkStartLayer(int startLayer, int depth)
{
    if (startLayer < 0 || startLayer >= depth)
        throw EngineError("rollout start layer " + std::to_string(startLayer) + " outside the " + std::to_string(depth)
                          + " blocks");
}

// One differentiable pass of a ViT and d score / dA for every block's attention:
// attentions and grads [1, H, T, T] per block.
struct AttentionGradients {
    Activations acts;
    std::vector<torch::Tensor> grads;
    int classIndex = -1;
};

AttentionGradients attentionGradients(const Classifier& vit, const torch::Tensor& input, int classIndex,
                                      const std::string& method)
{
    AttentionGradients out;
    out.acts = differentiableForward(vit, input);
    if (out.acts.attentions.empty())
        throw EngineError(method + " needs a ViT");
    out.classIndex = classIndex;
    const auto score = classScore(out.acts, out.classIndex);
    out.grads = gradientsOf(score, out.acts.attentions);
    return out;
}

}  // namespace

ClassMaps genericAttention(const Classifier& vit, const torch::Tensor& input, int classIndex, int startLayer)
{
    torch::AutoGradMode enableGrad(true);
    const auto g = attentionGradients(vit, input, classIndex, "generic attention explainability");
    const int depth = int(g.acts.attentions.size());
    checkStartLayer(startLayer, depth);
    const auto t = g.acts.tokens.tokens();
    auto relevance = torch::eye(t, torch::kFloat64);
    for (int l = startLayer; l < depth; ++l) {
        // [H, T, T] -> [T, T]
        const auto weighted = (g.grads[l][0] * g.acts.attentions[l][0].detach()).clamp_min(0).mean(0);
        relevance = relevance + torch::matmul(weighted.to(torch::kCPU, torch::kFloat64), relevance);
    }
    return {g.classIndex, {imageRowMap(relevance, g.acts.tokens).to(torch::kFloat32)}};
}

ClassMaps gradientRollout(const Classifier& vit, const torch::Tensor& input, int classIndex,
                          const RolloutOptions& options)
{
    torch::AutoGradMode enableGrad(true);
    const auto g = attentionGradients(vit, input, classIndex, "gradient rollout");
    checkStartLayer(options.startLayer, int(g.acts.attentions.size()));
    // Each block's A ⊙ dscore/dA per head [H, T, T]; the rollout fuses the heads and
    // sets negative weights to 0 before it discards, adds I and renormalises.
    std::vector<torch::Tensor> weighted;
    for (std::size_t l = 0; l < g.acts.attentions.size(); ++l)
        weighted.push_back((g.grads[l][0] * g.acts.attentions[l][0].detach()).to(torch::kCPU));
    auto rolloutOptions = options;
    rolloutOptions.clampNegative = true;
    return {g.classIndex, {attentionRollout(weighted, g.acts.tokens, rolloutOptions)}};
}

namespace {

// The unit (row, col) of `layer` as [N, D]: a ViT's patch token after a block, "after
// the residual", or a CNN feature map's cell across its channels.
torch::Tensor unitOf(const Classifier& model, const Activations& acts, const std::string& layer, int row, int col)
{
    if (model.spec().family == Family::ViT) {
        const int block = blockIndex(layer, int(acts.attentions.size()));
        const auto& layout = acts.tokens;
        checkUnit(row, col, layout.gridH, layout.gridW, layer);
        return acts.tokenStates[block + 1].select(1, layout.prefixTokens() + row * layout.gridW + col);
    }
    const auto& features = acts.feature(layer);  // [N, C, h, w]
    checkUnit(row, col, features.size(2), features.size(3), layer);
    return features.select(3, col).select(2, row);
}

// |d unit / d x| summed over channels [N, C, H, W] -> per image normalised to sum 1,
// averaged over the batch: [H, W] float32 on the CPU.
torch::Tensor fieldFromGradient(const torch::Tensor& grad)
{
    auto erf = grad.abs().sum(1).to(torch::kCPU, torch::kFloat64);  // [N, H, W]
    const auto total = erf.sum({1, 2}, /*keepdim=*/true).clamp_min(1e-300);
    return (erf / total).mean(0).to(torch::kFloat32);
}

}  // namespace

torch::Tensor effectiveReceptiveField(const Classifier& model, const torch::Tensor& batch, const std::string& layer,
                                      int row, int col)
{
    torch::AutoGradMode enableGrad(true);
    auto x = batch.to(model.device(), torch::kFloat32).detach().requires_grad_(true);
    const auto acts = model.activations(x);
    // Images in a batch are independent in eval mode, so one backward of the summed
    // unit gives every image's own gradient.
    const auto unit = unitOf(model, acts, layer, row, col);
    return fieldFromGradient(torch::autograd::grad({unit.sum()}, {x})[0]);
}

double effectiveFieldSize(const torch::Tensor& erf, double centreRow, double centreCol, double mass)
{
    if (erf.dim() != 2)
        throw EngineError("an effective field is a map [H, W]");
    const auto map = erf.to(torch::kCPU, torch::kFloat64).abs();
    const auto rows = torch::arange(map.size(0), torch::kFloat64).sub(centreRow).abs().unsqueeze(1);
    const auto cols = torch::arange(map.size(1), torch::kFloat64).sub(centreCol).abs().unsqueeze(0);
    const auto radius = torch::maximum(rows, cols).flatten();  // Chebyshev distance of each pixel
    const auto order = radius.argsort();
    const auto cumulative = map.flatten().index_select(0, order).cumsum(0);
    const double total = cumulative[-1].item<double>();
    if (total <= 0)
        return 0;
    // The first pixel, nearest first, at which the mass is reached; its radius bounds the square.
    const auto reached = (cumulative >= mass * total).nonzero();
    const auto last = reached.size(0) > 0 ? reached[0][0].item<int64_t>() : order.size(0) - 1;
    const double r = radius[order[last]].item<double>();
    // The square's extent inside the map along each axis; the larger one is the size.
    const auto extent = [r](double centre, int64_t n) {
        return std::min(centre + r, double(n - 1)) - std::max(centre - r, 0.0) + 1;
    };
    return std::max(extent(centreRow, map.size(0)), extent(centreCol, map.size(1)));
}

std::vector<EffectiveFieldSize> effectiveFieldSizes(const Classifier& model, const torch::Tensor& input)
{
    torch::AutoGradMode enableGrad(true);
    auto x = input.to(model.device(), torch::kFloat32).detach().requires_grad_(true);
    const auto acts = model.activations(x);
    // Each layer's centre unit and where its field is centred on the input (pixel indices).
    struct Unit {
        EffectiveFieldSize size;
        double centreRow, centreCol;
    };
    std::vector<Unit> units;
    if (model.spec().family == Family::ViT) {
        const auto& t = acts.tokens;
        const double half = (t.patchSize - 1) / 2.0;  // a patch's centre from its first pixel
        const int row = t.gridH / 2, col = t.gridW / 2;
        for (std::size_t b = 0; b < acts.attentions.size(); ++b)
            units.push_back({{std::to_string(b), row, col, 0}, row * t.patchSize + half, col * t.patchSize + half});
    } else {
        for (const auto& field : stageReceptiveFields(model.spec())) {
            const auto& features = acts.feature(field.name);  // [1, C, h, w]
            const int row = int(features.size(2)) / 2, col = int(features.size(3)) / 2;
            units.push_back({{field.name, row, col, 0}, field.start + row * field.jump, field.start + col * field.jump});
        }
    }
    std::vector<EffectiveFieldSize> out;
    for (auto& u : units) {
        throwIfCancelled();
        const auto unit = unitOf(model, acts, u.size.layer, u.size.row, u.size.col);
        const auto grad = torch::autograd::grad({unit.sum()}, {x}, {}, /*retain_graph=*/true)[0];
        u.size.size = effectiveFieldSize(fieldFromGradient(grad), u.centreRow, u.centreCol);
        out.push_back(u.size);
    }
    return out;
}

}  // namespace attnviz::engine
