#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/overlayoutput.h"

#include "core/engine/ckastudy.h"
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

std::string drawMatrix(const std::string& dir, const engine::CkaMatrix& m, const std::string& rowModel,
                       const std::string& colModel, std::size_t images)
{
#ifdef ATTNVIZ_HAVE_IMAGING
    const auto title = "linear CKA, " + m.rowRole + " x " + m.colRole + ", " + std::to_string(images) + " images";
    const auto image = imaging::renderMatrix(m.values, m.rowLayers, m.colLayers, title, {0.0f, 1.0f},
                                             imaging::Colormap::Viridis);
    const auto path = (std::filesystem::path(outputDirectory(dir)) / ("cka-" + m.rowRole + "_" + m.colRole + ".png")).string();
    imaging::writePng(path, image,
                      {{"Software", "attnviz"},
                       {"attnviz:method", "cka (linear, minibatch unbiased HSIC)"},
                       {"attnviz:rows", rowModel},
                       {"attnviz:columns", colModel},
                       {"attnviz:images", std::to_string(images)}});
    return path;
#else
    (void)dir, (void)m, (void)rowModel, (void)colModel, (void)images;
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

    std::map<std::string, std::unique_ptr<engine::Classifier>> loaded;
    std::vector<engine::CkaModel> models;
    for (const char* role : {"vit", "cnn"})
        if (args.value(role)) {
            loaded[role] = loadRoleModel(args, role);
            models.push_back({role, loaded[role].get()});
        }
    const auto study = engine::compareLayers(models, limit, batchSize, [&](std::size_t first, std::size_t count, const engine::CkaModel& m) {
        return inputs.batch(first, count, m.role, m.model->spec());
    });

    nlohmann::ordered_json out;
    out["images"] = inputs.size();
    out["images_used"] = study.imagesUsed;
    out["batch_size"] = batchSize;
    for (const auto& m : study.matrices)
        if (m.rowRole == m.colRole)
            out[m.rowRole + "_layers"] = m.rowLayers;
    for (const auto& m : study.matrices) {
        const auto name = m.rowRole + "_" + m.colRole;
        out["matrices"][name] = matrixJson(m.values);
        if (auto dir = args.value("out-dir"))
            out["files"][name] = drawMatrix(*dir, m, loaded[m.rowRole]->spec().description,
                                            loaded[m.colRole]->spec().description, study.imagesUsed);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
