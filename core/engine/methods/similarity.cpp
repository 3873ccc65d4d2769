// The `similarity` view: per requested layer, the cosine of every position with the query
// position (the click; the grid's centre without one), clamped at 0 like every view (the
// overlay's mass threshold and the audit read maps as non-negative), over featureGrids.
#include "core/engine/methods/similarity.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/featuregrids.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {

torch::Tensor cosineToCell(const torch::Tensor& features, int row, int col)
{
    const auto h = features.size(1), w = features.size(2);
    if (row < 0 || row >= h || col < 0 || col >= w)
        throw EngineError("position " + std::to_string(row) + "," + std::to_string(col) + " outside the "
                          + std::to_string(h) + "x" + std::to_string(w) + " grid");
    namespace F = torch::nn::functional;
    const auto unit = F::normalize(features.to(torch::kFloat32).flatten(1), F::NormalizeFuncOptions().dim(0));
    return unit.select(1, row * w + col).matmul(unit).view({h, w});  // [C] · [C, h*w]
}

ViewMaps similarityView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const auto grids = featureGrids(model, trace, request.layer);
    ViewMaps view;
    view.heads = {"-"};
    std::vector<torch::Tensor> rows;
    for (const auto& [name, grid] : grids) {
        const auto [row, col] = request.query.value_or(std::make_pair(int(grid.size(1) / 2), int(grid.size(2) / 2)));
        view.layers.push_back(name);
        rows.push_back(cosineToCell(grid, row, col).clamp_min(0).unsqueeze(0));
    }
    view.maps = torch::stack(onFinestGrid(rows));
    return view;
}

}  // namespace attnviz::engine
