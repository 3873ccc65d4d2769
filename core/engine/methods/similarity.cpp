// The `similarity` view: per requested layer, the cosine of every position with the query
// position (the click; the grid's centre without one), clamped at 0 like every view (the
// overlay's mass threshold and the audit read maps as non-negative). A ViT's positions are
// its patch tokens at a block's output (the residual stream after the block, before the
// final norm), from one pass without gradients; a CNN's are a stage output's cells, as the
// trace keeps them.
#include "core/engine/methods/similarity.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {
namespace {

// The feature grids [C, h, w] the request names, each with its row label.
std::vector<std::pair<std::string, torch::Tensor>> featureGrids(const Classifier& model, const Trace& trace,
                                                                const ViewRequest& request)
{
    std::vector<std::pair<std::string, torch::Tensor>> grids;
    if (model.spec().family == Family::CNN) {
        for (const auto& [name, tensor] : trace.features)
            if (request.layer.isAll()
                || (request.layer.isDefault() ? &tensor == &trace.features.back().second
                                              : name == request.layer.text()))
                grids.emplace_back(name, tensor[0]);
        if (grids.empty()) {
            std::string names;
            for (const auto& feature : trace.features)
                names += (names.empty() ? "" : ", ") + feature.first;
            throw EngineError("similarity reads a CNN stage (" + names + "), not '" + request.layer.text() + "'");
        }
        return grids;
    }
    if (request.layer.isPool())
        throw EngineError("similarity compares patch tokens: choose a block, not the attention pool");
    torch::NoGradGuard noGrad;
    const auto acts = model.activations(trace.input.to(model.device(), torch::kFloat32));
    for (int b : requestedBlocks(request.layer, int(acts.tokenStates.size()) - 1, -1))
        grids.emplace_back(std::to_string(b),
                           patchGrid(acts.tokenStates[std::size_t(b) + 1][0], acts.tokens).to(torch::kCPU));
    return grids;
}

}  // namespace

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
    const auto grids = featureGrids(model, trace, request);
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
