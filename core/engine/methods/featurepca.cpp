// The `pca` view: per requested layer, one picture whose three columns are its red, green
// and blue (ViewMaps::rgb), over featureGrids.
#include "core/engine/methods/featurepca.h"

#include "core/engine/methods/featuregrids.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {
namespace {

// [h, w] true on the grid's outer ring.
torch::Tensor borderOf(int64_t h, int64_t w)
{
    auto border = torch::zeros({h, w}, torch::kBool);
    border.select(0, 0).fill_(true);
    border.select(0, h - 1).fill_(true);
    border.select(1, 0).fill_(true);
    border.select(1, w - 1).fill_(true);
    return border;
}

// [P, C] rows of features [C, h, w].
torch::Tensor rowsOf(const torch::Tensor& features)
{
    return features.reshape({features.size(0), -1}).t().to(torch::kFloat64);
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> principalAxes(const torch::Tensor& x, int k)
{
    const auto rows = x.to(torch::kFloat64);
    const auto mean = rows.mean(0);  // [C]
    const auto svd = torch::linalg::svd(rows - mean, /*full_matrices=*/false, /*driver=*/c10::nullopt);
    const auto& u = std::get<0>(svd);   // [P, r]
    const auto& s = std::get<1>(svd);   // [r]
    const auto& vh = std::get<2>(svd);  // [r, C]
    const auto r = std::min<int64_t>(k, s.size(0));
    auto axes = torch::zeros({rows.size(1), k}, torch::kFloat64);
    const auto kept = u.narrow(1, 0, r) * s.narrow(0, 0, r);  // [P, r]: the centred rows on the components
    const auto largest = kept.abs().argmax(0);                // svd_flip: the largest |score| of each positive
    const auto signs = torch::sign(kept.gather(0, largest.unsqueeze(0))).clamp_min(0) * 2 - 1;  // [1, r]
    axes.narrow(1, 0, r).copy_(vh.narrow(0, 0, r).t() * signs);
    return {mean, axes};
}

torch::Tensor principalScores(const torch::Tensor& x, int k)
{
    const auto [mean, axes] = principalAxes(x, k);
    return torch::matmul(x.to(torch::kFloat64) - mean, axes);
}

FeatureBasis fitFeatureBasis(const std::vector<torch::Tensor>& features)
{
    std::vector<torch::Tensor> rows, borders;
    for (const auto& f : features) {
        rows.push_back(rowsOf(f));
        borders.push_back(borderOf(f.size(1), f.size(2)).reshape({-1}));
    }
    const auto all = torch::cat(rows);        // [P, C] over every image
    const auto border = torch::cat(borders);  // [P]
    FeatureBasis b;
    std::tie(b.firstMean, b.firstAxis) = principalAxes(all, 1);
    b.firstAxis = b.firstAxis.select(1, 0);
    const auto first = torch::matmul(all - b.firstMean, b.firstAxis);  // [P]
    if ((first.masked_select(border) > 0).sum().item<int64_t>() * 2 > border.sum().item<int64_t>())
        b.firstAxis = -b.firstAxis;  // the background holds most of the border
    auto foreground = torch::matmul(all - b.firstMean, b.firstAxis) > 0;
    b.allForeground = foreground.sum().item<int64_t>() < 3;
    if (b.allForeground)
        foreground = torch::ones_like(foreground);
    const auto kept = all.index({foreground});
    std::tie(b.mean, b.axes) = principalAxes(kept, 3);
    const auto colours = torch::matmul(kept - b.mean, b.axes);  // [F, 3]
    b.lo = std::get<0>(colours.min(0));
    b.span = std::get<0>(colours.max(0)) - b.lo;
    return b;
}

FeaturePca applyFeatureBasis(const FeatureBasis& basis, const torch::Tensor& features)
{
    const auto h = features.size(1), w = features.size(2);
    const auto rows = rowsOf(features);
    const auto foreground = basis.allForeground ? torch::ones({h * w}, torch::kBool)
                                                : torch::matmul(rows - basis.firstMean, basis.firstAxis) > 0;
    // Each colour min-max scaled over the fitted foreground (a flat colour to 0).
    const auto colours = torch::matmul(rows.index({foreground}) - basis.mean, basis.axes);  // [F, 3]
    const auto scaled = torch::where(basis.span > 0, (colours - basis.lo) / basis.span.clamp_min(1e-12),
                                     torch::zeros_like(colours))
                            .clamp(0, 1);
    auto rgb = torch::zeros({h * w, 3}, torch::kFloat64);
    rgb.index_put_({foreground}, scaled);
    return {rgb.t().reshape({3, h, w}).to(torch::kFloat32), foreground.reshape({h, w})};
}

FeaturePca featurePca(const torch::Tensor& features)
{
    return applyFeatureBasis(fitFeatureBasis({features}), features);
}

ViewMaps pcaView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    ViewMaps view;
    view.heads = {"red", "green", "blue"};
    view.rgb = true;
    std::vector<torch::Tensor> rows;
    for (const auto& [name, grid] : featureGrids(model, trace, request.layer)) {
        view.layers.push_back(name);
        const FeatureBasis* basis = nullptr;
        if (request.featureBases)
            if (const auto found = request.featureBases->find(name); found != request.featureBases->end())
                basis = &found->second;
        rows.push_back((basis ? applyFeatureBasis(*basis, grid) : featurePca(grid)).rgb);  // [3, h, w]
    }
    view.maps = torch::stack(onFinestGrid(rows));
    return view;
}

}  // namespace attnviz::engine
