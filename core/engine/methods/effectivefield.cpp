#include "core/engine/methods/effectivefield.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"
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

// The unit (row, col) of `layer` as [N, D]: a ViT's patch token after a block, "after
// the residual", or a CNN feature map's cell across its channels.
torch::Tensor unitOf(const Classifier& model, const Activations& acts, const std::string& layer, int row, int col)
{
    if (model.spec().family == Family::ViT) {
        const int block = blockIndex(layer, int(acts.norm1Outputs.size()));
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
        const int row = t.gridH / 2, col = t.gridW / 2;
        const double centreRow = row * t.patchSize + t.firstPatchCentre;
        const double centreCol = col * t.patchSize + t.firstPatchCentre;
        for (std::size_t b = 0; b < acts.norm1Outputs.size(); ++b)
            units.push_back({{std::to_string(b), row, col, 0}, centreRow, centreCol});
    } else {
        for (const auto& field : stageReceptiveFields(model.spec())) {
            const auto& features = acts.feature(field.name);  // [1, C, h, w]
            const int row = int(features.size(2)) / 2, col = int(features.size(3)) / 2;
            units.push_back(
                {{field.name, row, col, 0}, field.start + row * field.jump, field.start + col * field.jump});
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

ViewMaps effectiveFieldView(const torch::Tensor& erf, const std::string& layer, int row, int col)
{
    auto view = singleMapView(erf, layer + " @" + std::to_string(row) + "," + std::to_string(col), "-");
    view.method = ViewMethod::EffectiveField;
    return view;
}

// The `erf` method on the trace's own image: the unit request.query of request.layer.
ViewMaps effectiveFieldView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const auto layer = request.layer.isDefault() ? trace.features.back().first : request.layer.text();
    const auto [row, col] = request.query.value();
    return effectiveFieldView(effectiveReceptiveField(model, trace.input, layer, row, col), layer, row, col);
}

}  // namespace attnviz::engine
