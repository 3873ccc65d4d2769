#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"
#include "app/cli/studyjson.h"

#include "core/engine/study/linearprobe.h"
#include "core/io/idxdataset.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/probeimages.h"
#endif

#include <nlohmann/json.hpp>

#include <iostream>

namespace attnviz::cli {
namespace {

engine::LabelledSet openLabelled(const Arguments& args)
{
    engine::LabelledSetOptions o;
    o.trainSplit = args.value("train-split").value_or(o.trainSplit);
    o.testSplit = args.value("test-split").value_or(o.testSplit);
    o.testRoot = args.value("test-data").value_or("");
    o.heldOut = args.doubleValue("held-out", o.heldOut, 0.01, 0.99);
    o.limit = std::size_t(args.intValue("limit", 0, 0));
    o.testLimit = std::size_t(args.intValue("test-limit", 0, 0));
    const auto path = args.required("data");
#ifdef ATTNVIZ_HAVE_IMAGING
    return imaging::openLabelledSet(path, o);
#else
    if (!io::holdsIdxSplit(path, o.trainSplit))
        throw UsageError("this build has no image support (built without OpenCV): only IDX data can be probed");
    return engine::openIdxSet(path, o);
#endif
}

nlohmann::ordered_json layersJson(const engine::ProbeStudy& study)
{
    auto layers = nlohmann::ordered_json::array();
    for (const auto& l : study.layers)
        layers.push_back({{"layer", l.name},
                          {"pooling", l.pooling},
                          {"relative_depth", studyNumber(l.relativeDepth)},
                          {"train_accuracy", studyNumber(l.score.trainAccuracy)},
                          {"test_accuracy", studyNumber(l.score.testAccuracy)}});
    return layers;
}

}  // namespace

int runProbe(const std::vector<std::string>& words)
{
    const Arguments args(words, {"vit", "cnn", "data", "test-data", "train-split", "test-split", "held-out", "limit",
                                 "test-limit", "device", "heads", "input-size", "batch-size", "l2", "iterations"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    const auto source = openLabelled(args);
    const auto models = studyModels(args);
    engine::ProbeOptions options;
    options.l2 = args.doubleValue("l2", options.l2, 0.0, 1e6);
    options.iterations = args.intValue("iterations", options.iterations, 1);
    const int batchSize = args.intValue("batch-size", 64, 1);

    InterruptScope interrupt;
    nlohmann::ordered_json out = {{"data", args.required("data")},
                                  {"source", source.description},
                                  {"probe",
                                   {{"kind", "multinomial logistic regression on standardised features, L-BFGS"},
                                    {"l2", options.l2},
                                    {"iterations", options.iterations}}}};
    for (const auto& m : models) {
        const auto data = source.forModel(m.model->spec().preprocessing);
        ProgressLine progress(std::cerr);
        const auto study = engine::probeLayers(*m.model, data, batchSize, options,
                                               [&](std::size_t done, std::size_t total) {
                                                   progress.imagesDone(("probe " + m.role).c_str(), done, total);
                                                   return true;
                                               });
        out["train_images"] = study.trainImages;
        out["test_images"] = study.testImages;
        out["classes"] = study.classes;
        out[m.role] = {{"model", m.path}, {"chance", studyNumber(1.0 / study.classes)}, {"layers", layersJson(study)}};
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
