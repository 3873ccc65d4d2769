#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/overlayoutput.h"
#include "app/cli/studyjson.h"

#include "core/engine/engineerror.h"
#include "core/engine/study/ckastudy.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/colormap.h"
#include "core/imaging/montage.h"
#include "core/imaging/pngwriter.h"
#include "core/io/pngmetadata.h"
#endif

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

namespace attnviz::cli {
namespace {

std::string drawMatrix(const std::string& dir, const engine::CkaMatrix& m, const std::string& rowModel,
                       const std::string& colModel, std::size_t images, const std::string& degenerate)
{
#ifdef ATTNVIZ_HAVE_IMAGING
    const auto title = "linear CKA, " + m.rowRole + " x " + m.colRole + ", " + std::to_string(images) + " images";
    // Degenerate layers' cells are drawn grey (undefined) and named in the PNG's text.
    const auto image = imaging::renderMatrix(m.values, m.rowLayers, m.colLayers, title, {0.0f, 1.0f},
                                             imaging::Colormap::Viridis);
    auto path = (std::filesystem::path(outputDirectory(dir)) / ("cka-" + m.rowRole + "_" + m.colRole + ".png"))
                    .string();
    imaging::writePng(path, image,
                      {{io::pngkey::kSoftware, "attnviz"},
                       {io::pngkey::kMethod, "cka (linear, minibatch unbiased HSIC)"},
                       {io::pngkey::kRows, rowModel},
                       {io::pngkey::kColumns, colModel},
                       {io::pngkey::kImages, std::to_string(images)},
                       {io::pngkey::kDegenerate, degenerate.empty() ? std::string("none") : degenerate}});
    return path;
#else
    (void)dir, (void)m, (void)rowModel, (void)colModel, (void)images, (void)degenerate;
    throw UsageError("this build has no image support (built without OpenCV): --out-dir is unavailable");
#endif
}

}  // namespace

int runCka(const std::vector<std::string>& words)
{
    const Arguments args(words,
                         {"vit", "cnn", "images", "device", "heads", "input-size", "batch-size", "limit", "out-dir"});
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
    for (const auto family : engine::kFamilies)
        if (const auto role = engine::familyName(family); args.value(role)) {
            loaded[role] = loadRoleModel(args, family);
            models.push_back({role, loaded[role].get()});
        }
    const auto study = engine::compareLayers(models, limit, batchSize,
                                             [&](std::size_t first, std::size_t count, const engine::CkaModel& m) {
                                                 return inputs.batch(first, count, m.role, m.model->spec());
                                             });

    nlohmann::ordered_json out;
    out["images"] = inputs.size();
    out["images_used"] = study.imagesUsed;
    out["batch_size"] = batchSize;
    for (const auto& m : study.matrices)
        if (m.rowRole == m.colRole)
            out[m.rowRole + "_layers"] = m.rowLayers;
    // Layers constant over the images: their CKA is undefined (null in the matrices).
    out["degenerate"] = nlohmann::ordered_json::object();
    for (const auto& [role, names] : study.degenerateLayers)
        out["degenerate"][role] = names;
    const auto degenerate = degenerateSummary(study);
    for (const auto& m : study.matrices) {
        const auto name = m.rowRole + "_" + m.colRole;
        out["matrices"][name] = matrixJson(m.values);
        if (auto dir = args.value("out-dir"))
            out["files"][name] = drawMatrix(*dir, m, loaded[m.rowRole]->spec().description,
                                            loaded[m.colRole]->spec().description, study.imagesUsed, degenerate);
    }
    if (!degenerate.empty())
        std::cerr << "attnviz-cli cka: constant over the images, CKA undefined (null): " << degenerate << "\n";
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
