#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/overlayoutput.h"

#include "core/engine/cka.h"
#include "core/engine/engineerror.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/colormap.h"
#include "core/imaging/montage.h"
#include "core/imaging/pngwriter.h"
#endif

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <map>

namespace attnviz::cli {
namespace {

// One side of a comparison: a model and the names of the layers CKA compares.
struct Side {
    std::string role;
    std::unique_ptr<engine::Classifier> model;
    std::vector<std::string> layers;
};

// A matrix [rows, cols] as nested JSON arrays, rounded to 4 decimals for reading.
nlohmann::ordered_json matrixJson(const torch::Tensor& m)
{
    auto rows = nlohmann::ordered_json::array();
    for (int64_t i = 0; i < m.size(0); ++i) {
        auto row = nlohmann::ordered_json::array();
        for (int64_t j = 0; j < m.size(1); ++j)
            row.push_back(std::round(double(m[i][j].item<float>()) * 1e4) / 1e4);
        rows.push_back(row);
    }
    return rows;
}

std::string drawMatrix(const std::string& dir, const std::string& name, const torch::Tensor& m, const Side& rows,
                       const Side& cols, std::size_t images)
{
#ifdef ATTNVIZ_HAVE_IMAGING
    const auto title = "linear CKA, " + rows.role + " x " + cols.role + ", " + std::to_string(images) + " images";
    const auto image = imaging::renderMatrix(m, rows.layers, cols.layers, title, {0.0f, 1.0f},
                                             imaging::Colormap::Viridis);
    const auto path = (std::filesystem::path(outputDirectory(dir)) / ("cka-" + name + ".png")).string();
    imaging::writePng(path, image,
                      {{"Software", "attnviz"},
                       {"attnviz:method", "cka (linear, minibatch unbiased HSIC)"},
                       {"attnviz:rows", rows.model->spec().description},
                       {"attnviz:columns", cols.model->spec().description},
                       {"attnviz:images", std::to_string(images)}});
    return path;
#else
    (void)dir, (void)name, (void)m, (void)rows, (void)cols, (void)images;
    throw UsageError("this build has no image support (built without OpenCV): --out-dir is unavailable");
#endif
}

}  // namespace

int runCka(const std::vector<std::string>& words)
{
    const Arguments args(words, {"vit", "cnn", "images", "device", "heads", "batch-size", "limit", "out-dir"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (!args.value("vit") && !args.value("cnn"))
        throw UsageError("give --vit MODEL, --cnn MODEL or both");
    if (!args.value("images"))
        throw UsageError("give the images to compare on as --images DIR");
    const InputSet inputs(args, /*folderAllowed=*/true);
    const int batchSize = args.intValue("batch-size", 32, 4);
    const auto limit = std::min<std::size_t>(inputs.size(), std::size_t(args.intValue("limit", int(inputs.size()), 1)));
    // The unbiased estimator needs n > 3 per minibatch; a shorter tail is left out.
    std::size_t used = limit;
    const auto tail = limit % std::size_t(batchSize);
    if (tail > 0 && tail < 4)
        used -= tail;
    if (used < 4)
        throw engine::EngineError("CKA needs at least 4 images, the folder gives " + std::to_string(limit));

    std::vector<Side> sides;
    for (const char* role : {"vit", "cnn"})
        if (args.value(role))
            sides.push_back({role, loadRoleModel(args, role), {}});
    // Pairs compared: each model with itself, and the two with each other.
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    for (std::size_t i = 0; i < sides.size(); ++i)
        for (std::size_t j = i; j < sides.size(); ++j)
            pairs.emplace_back(i, j);
    std::vector<engine::CkaAccumulator> accumulators;

    torch::NoGradGuard noGrad;
    for (std::size_t first = 0; first < used; first += std::size_t(batchSize)) {
        const auto count = std::min(std::size_t(batchSize), used - first);
        std::vector<engine::LayerRepresentations> reps;
        for (auto& side : sides) {
            reps.push_back(engine::ckaLayers(side.model->activations(inputs.batch(first, count, side.role, side.model->spec()))));
            side.layers = reps.back().names;
        }
        if (accumulators.empty())
            for (const auto& [i, j] : pairs)
                accumulators.emplace_back(int(reps[i].names.size()), int(reps[j].names.size()));
        for (std::size_t p = 0; p < pairs.size(); ++p)
            accumulators[p].add(reps[pairs[p].first].values, reps[pairs[p].second].values);
    }

    nlohmann::ordered_json out;
    out["images"] = inputs.size();
    out["images_used"] = used;
    out["batch_size"] = batchSize;
    for (const auto& side : sides)
        out[side.role + "_layers"] = side.layers;
    for (std::size_t p = 0; p < pairs.size(); ++p) {
        const auto& rows = sides[pairs[p].first];
        const auto& cols = sides[pairs[p].second];
        const auto name = rows.role + "_" + cols.role;
        const auto matrix = accumulators[p].result();
        out["matrices"][name] = matrixJson(matrix);
        if (auto dir = args.value("out-dir"))
            out["files"][name] = drawMatrix(*dir, name, matrix, rows, cols, used);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
