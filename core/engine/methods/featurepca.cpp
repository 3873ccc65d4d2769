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

// Each column of x [P, k] scaled to [0, 1] (a flat column to 0).
torch::Tensor minMaxColumns(const torch::Tensor& x)
{
    const auto lo = std::get<0>(x.min(0, /*keepdim=*/true));
    const auto span = std::get<0>(x.max(0, /*keepdim=*/true)) - lo;
    return torch::where(span > 0, (x - lo) / span.clamp_min(1e-12), torch::zeros_like(x));
}

}  // namespace

torch::Tensor principalScores(const torch::Tensor& x, int k)
{
    const auto centred = x.to(torch::kFloat64) - x.to(torch::kFloat64).mean(0, /*keepdim=*/true);  // [P, C]
    const auto svd = torch::linalg::svd(centred, /*full_matrices=*/false, /*driver=*/c10::nullopt);
    const auto& u = std::get<0>(svd);  // [P, r]
    const auto& s = std::get<1>(svd);  // [r]
    const auto r = std::min<int64_t>(k, s.size(0));
    auto scores = torch::zeros({x.size(0), k}, torch::kFloat64);
    auto kept = u.narrow(1, 0, r) * s.narrow(0, 0, r);  // [P, r]: the centred rows on the components
    const auto largest = kept.abs().argmax(0);          // svd_flip: the largest |score| of each positive
    const auto signs = torch::sign(kept.gather(0, largest.unsqueeze(0))).clamp_min(0) * 2 - 1;
    scores.narrow(1, 0, r).copy_(kept * signs);
    return scores;
}

FeaturePca featurePca(const torch::Tensor& features)
{
    const auto c = features.size(0), h = features.size(1), w = features.size(2);
    const auto rows = features.reshape({c, h * w}).t();  // [P, C]
    auto first = principalScores(rows, 1).select(1, 0);  // [P]
    const auto border = borderOf(h, w).reshape({-1});
    if ((first.masked_select(border) > 0).sum().item<int64_t>() * 2 > border.sum().item<int64_t>())
        first = -first;  // the background holds most of the border
    auto foreground = first > 0;
    if (foreground.sum().item<int64_t>() < 3)
        foreground = torch::ones_like(foreground);
    const auto colours = minMaxColumns(principalScores(rows.index({foreground}), 3));  // [F, 3]
    auto rgb = torch::zeros({h * w, 3}, torch::kFloat64);
    rgb.index_put_({foreground}, colours);
    return {rgb.t().reshape({3, h, w}).to(torch::kFloat32), foreground.reshape({h, w})};
}

ViewMaps pcaView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    ViewMaps view;
    view.heads = {"red", "green", "blue"};
    view.rgb = true;
    std::vector<torch::Tensor> rows;
    for (const auto& [name, grid] : featureGrids(model, trace, request.layer)) {
        view.layers.push_back(name);
        rows.push_back(featurePca(grid).rgb);  // [3, h, w]
    }
    view.maps = torch::stack(onFinestGrid(rows));
    return view;
}

}  // namespace attnviz::engine
