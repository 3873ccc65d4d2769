#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/overlayoutput.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/effectivefield.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/methods/receptivefield.h"
#include "core/engine/tensorconvert.h"
#include "core/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace attnviz::cli {
namespace {

// The smallest box holding every non-zero pixel of a map [H, W]: [x0, y0, x1, y1].
std::vector<int64_t> supportBox(const torch::Tensor& map)
{
    const auto rows = (map.sum(1) > 0).nonzero(), cols = (map.sum(0) > 0).nonzero();
    if (rows.numel() == 0)
        return {};
    return {cols.min().item<int64_t>(), rows.min().item<int64_t>(), cols.max().item<int64_t>(),
            rows.max().item<int64_t>()};
}

// The mass-weighted centre of a map [H, W] as [x, y].
std::vector<double> centroid(const torch::Tensor& map)
{
    const auto w = map.to(torch::kFloat64) / map.sum().to(torch::kFloat64);
    const auto ys = torch::arange(map.size(0), torch::kFloat64).view({-1, 1});
    const auto xs = torch::arange(map.size(1), torch::kFloat64).view({1, -1});
    return {(w * xs).sum().item<double>(), (w * ys).sum().item<double>()};
}

}  // namespace

int runErf(const std::vector<std::string>& words)
{
    const Arguments args(words,
                         {"vit", "cnn", "image", "images", "tensor", "layer", "at", "dump", "out-dir", "device",
                          "heads", "input-size", "batch-size", "colormap", "alpha", "upsample", "keep-mass"},
                         {"no-colorbar"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (bool(args.value("vit")) == bool(args.value("cnn")))
        throw UsageError("give exactly one of --vit MODEL and --cnn MODEL");
    const auto layer = args.required("layer");
    const auto at = args.rowCol("at");
    if (!at)
        throw UsageError("give the unit as --at ROW,COL in the layer's own grid");
    const InputSet inputs(args, /*folderAllowed=*/true);
    const int batchSize = args.intValue("batch-size", 8, 1);
    const auto family = args.value("vit") ? engine::Family::ViT : engine::Family::CNN;
    const auto role = engine::familyName(family);
    const auto model = loadRoleModel(args, family);

    // The average over all images of each image's normalised ERF.
    torch::Tensor sum;
    for (std::size_t first = 0; first < inputs.size(); first += std::size_t(batchSize)) {
        const auto batch = inputs.batch(first, std::size_t(batchSize), role, model->spec());
        const auto erf = engine::effectiveReceptiveField(*model, batch, layer, at->first, at->second)
                         * double(batch.size(0));
        sum = sum.defined() ? sum + erf : erf;
    }
    const auto erf = sum / double(inputs.size());

    nlohmann::ordered_json out;
    out["model"] = *args.value(role);
    out["layer"] = layer;
    out["at"] = {at->first, at->second};
    out["images"] = inputs.size();
    out["input_size"] = erf.sizes().vec();
    out["support_box"] = supportBox(erf);  // [x0, y0, x1, y1], inclusive
    out["centroid"] = centroid(erf);       // [x, y]
    if (family == engine::Family::CNN)
        if (const auto field = engine::theoreticalField(model->spec(), layer)) {
            const auto box = engine::receptiveBox(*field, at->first, at->second, int(erf.size(0)), int(erf.size(1)));
            out["theoretical_box"] = {box.x0, box.y0, box.x1, box.y1};
        }
    if (auto path = args.value("dump"))
        io::writeSafetensors(*path, {{"erf", engine::toRawF32(erf)}});
    if (auto dir = args.value("out-dir")) {
        const auto view = engine::effectiveFieldView(erf, layer, at->first, at->second);
        engine::Trace first;
        first.input = inputs.at(0, role, model->spec());
        out["file"] = writeViewPng(*dir, outputStem(args), args.value("image").value_or(""), role, *args.value(role),
                                   first, view, model->spec(), args);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
