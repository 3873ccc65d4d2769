#include "app/cli/pcafit.h"

#include "core/engine/methods/featuregrids.h"
#include "core/engine/methods/featurepca.h"
#include "core/io/imagefolder.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"
#endif

#include <map>
#include <memory>

namespace attnviz::cli {
namespace {

bool hasPca(const ExportModel& m)
{
    for (const auto& plan : m.methods)
        if (plan.method == engine::ViewMethod::Pca)
            return true;
    return false;
}

}  // namespace

nlohmann::ordered_json fitExportPca(std::vector<ExportModel>& models, const std::vector<ExportImage>& all,
                                    const Arguments& args)
{
    const auto mode = args.value("pca-fit").value_or("folder");
    if (mode != "folder" && mode != "image")
        throw UsageError("--pca-fit takes folder or image, not '" + mode + "'");
    const bool anyPca = std::any_of(models.begin(), models.end(), hasPca);
    if (args.value("pca-fit") && !anyPca)
        throw UsageError("--pca-fit only applies to --methods pca");
    nlohmann::ordered_json fitted = nlohmann::ordered_json::object();
    if (mode == "image" || !anyPca)
        return fitted;
#ifdef ATTNVIZ_HAVE_IMAGING
    const auto sample = io::evenlySpacedIndices(all.size(), kPcaFitImages);
    for (auto& m : models) {
        if (!hasPca(m))
            continue;
        std::map<std::string, std::vector<torch::Tensor>> grids;  // per layer: [C, h, w] per image
        std::size_t used = 0;
        for (const auto i : sample) {
            torch::Tensor input;
            try {
                input = imaging::preprocessImage(imaging::decodeImageRgb(all[i].path), m.model->spec().preprocessing)
                            .tensor;
            } catch (const std::exception&) {
                continue;  // export reports it with its reason
            }
            const auto trace = m.model->forwardBatch(input).at(0);
            for (const auto& plan : m.methods)
                if (plan.method == engine::ViewMethod::Pca)
                    for (const auto& row : plan.requests)
                        for (const auto& [name, grid] : engine::featureGrids(*m.model, trace, row.front().layer))
                            grids[name].push_back(grid);
            ++used;
        }
        auto bases = std::make_shared<std::map<std::string, engine::FeatureBasis>>();
        auto layers = nlohmann::ordered_json::array();
        for (const auto& [name, perImage] : grids) {
            (*bases)[name] = engine::fitFeatureBasis(perImage);
            layers.push_back(name);
        }
        for (auto& plan : m.methods)
            if (plan.method == engine::ViewMethod::Pca)
                for (auto& row : plan.requests)
                    for (auto& request : row)
                        request.featureBases = bases;
        fitted[m.role] = {{"images", used}, {"layers", layers}};
    }
#else
    (void)all;  // export refuses to run without image support before it gets here
#endif
    return fitted;
}

}  // namespace attnviz::cli
