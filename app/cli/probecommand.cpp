#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"
#include "app/cli/studyjson.h"

#include "core/engine/imageset.h"
#include "core/engine/study/linearprobe.h"
#include "core/io/idxdataset.h"
#include "core/io/imagefolder.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/probeimages.h"
#endif

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <iostream>

namespace attnviz::cli {
namespace {

bool holdsIdxSplit(const std::string& dir, const std::string& split)
{
    const auto labels = std::filesystem::path(dir) / (split + "-labels-idx1-ubyte");
    return std::filesystem::exists(labels) || std::filesystem::exists(labels.string() + ".gz");
}

// Where the labelled images come from, and how they are read for one model.
struct LabelledData {
    std::string description;
    std::function<engine::ProbeData(const engine::Preprocessing&)> forModel;
};

LabelledData idxData(const Arguments& args, const std::string& dir)
{
    const auto trainSplit = args.value("train-split").value_or("train");
    const auto testSplit = args.value("test-split").value_or("t10k");
    const auto train = engine::toImageSet(io::readIdxDataset(dir, trainSplit)).first(args.intValue("limit", 0, 0));
    const auto test = engine::toImageSet(io::readIdxDataset(dir, testSplit)).first(args.intValue("test-limit", 0, 0));
    return {"IDX files, splits " + trainSplit + " / " + testSplit,
            [train, test](const engine::Preprocessing& p) { return engine::probeDataFrom(train, test, p); }};
}

LabelledData folderData(const Arguments& args, const std::string& root)
{
#ifdef ATTNVIZ_HAVE_IMAGING
    io::ImageFolderSplit split;
    std::string description;
    if (auto heldOutRoot = args.value("test-data")) {
        split.train = io::readImageFolder(root);
        split.test = io::readImageFolder(*heldOutRoot);
        if (split.test.classes != split.train.classes)
            throw UsageError("--test-data has other class folders than --data");
        description = "ImageFolder trees, held out: " + *heldOutRoot;
    } else {
        const double heldOut = args.doubleValue("held-out", 0.2, 0.01, 0.99);
        split = io::splitImageFolder(io::readImageFolder(root), heldOut);
        description = "ImageFolder tree, " + std::to_string(int(heldOut * 100 + 0.5)) + " % of each class held out";
    }
    split.train = io::evenlySpaced(split.train, std::size_t(args.intValue("limit", 0, 0)));
    split.test = io::evenlySpaced(split.test, std::size_t(args.intValue("test-limit", 0, 0)));
    return {description, [split](const engine::Preprocessing& p) { return imaging::probeDataFrom(split, p); }};
#else
    (void)args, (void)root;
    throw UsageError("this build has no image support (built without OpenCV): only IDX data can be probed");
#endif
}

nlohmann::ordered_json layersJson(const engine::ProbeStudy& study)
{
    auto layers = nlohmann::ordered_json::array();
    for (const auto& l : study.layers)
        layers.push_back({{"layer", l.name}, {"pooling", l.pooling}, {"relative_depth", studyNumber(l.relativeDepth)},
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
    const auto dir = args.required("data");
    const auto source = holdsIdxSplit(dir, args.value("train-split").value_or("train")) ? idxData(args, dir)
                                                                                        : folderData(args, dir);
    const auto models = studyModels(args);
    engine::ProbeOptions options;
    options.l2 = args.doubleValue("l2", options.l2, 0.0, 1e6);
    options.iterations = args.intValue("iterations", options.iterations, 1);
    const int batchSize = args.intValue("batch-size", 64, 1);

    InterruptScope interrupt;
    nlohmann::ordered_json out = {{"data", dir}, {"source", source.description},
                                  {"probe", {{"kind", "multinomial logistic regression on standardised features, L-BFGS"},
                                             {"l2", options.l2}, {"iterations", options.iterations}}}};
    for (const auto& m : models) {
        const auto data = source.forModel(m.model->spec().preprocessing);
        ProgressLine progress(std::cerr);
        const auto study = engine::probeLayers(*m.model, data, batchSize, options, [&](std::size_t done, std::size_t total) {
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
