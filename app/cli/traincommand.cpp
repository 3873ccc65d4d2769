#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"

#include "core/engine/model/classifier.h"
#include "core/engine/model/device.h"
#include "core/engine/training/evaluation.h"
#include "core/engine/training/modelfactory.h"
#include "core/engine/training/trainer.h"
#include "core/io/checkpointfile.h"
#include "core/io/labels.h"
#include "core/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace attnviz::cli {
namespace {

std::vector<std::string> parseLabels(const std::optional<std::string>& text)
{
    if (!text || *text == "none")
        return {};
    if (*text == "fashion-mnist")
        return io::fashionMnistLabels();
    std::vector<std::string> out;
    std::istringstream in(*text);
    for (std::string item; std::getline(in, item, ',');)
        out.push_back(item);
    return out;
}

// The earlier run's record from MODEL_DIR/config.json, so a continued run keeps its history.
nlohmann::ordered_json previousTraining(const std::string& modelDir)
{
    std::ifstream in(std::filesystem::path(modelDir) / "config.json");
    try {
        const auto j = nlohmann::ordered_json::parse(in);
        return j.contains("training") ? j["training"] : nlohmann::ordered_json();
    } catch (const nlohmann::ordered_json::exception&) {
        return {};
    }
}

// The patch size that gives the largest patch grid of at most 8 x 8 (28 px: 4, 64 px: 8).
int defaultPatchSize(int imageSize)
{
    for (int p = 1; p <= imageSize; ++p)
        if (imageSize % p == 0 && imageSize / p <= 8)
            return p;
    return imageSize;
}

// Starting weights: those of --init MODEL_DIR (to continue training), else fresh ones
// shaped for the data (channels, size, pixel statistics) and the shape options.
engine::FreshModel startingModel(const Arguments& args, std::uint64_t seed, const engine::ImageSet& data)
{
    if (auto init = args.value("init")) {
        auto ckpt = io::loadCheckpoint(*init);
        return {std::move(ckpt.tensors), std::move(ckpt.config)};
    }
    const auto arch = args.required("arch");
    const int channels = int(data.images.size(1));
    const int size = int(data.images.size(2));
    if (data.images.size(3) != size)
        throw UsageError("training takes square images; these are " + std::to_string(data.images.size(3)) + "x"
                         + std::to_string(size));
    const auto pixels = engine::channelStatistics(data);
    if (arch == "vit") {
        engine::ViTShape shape{channels, size, pixels};
        shape.patchSize = args.intValue("patch-size", defaultPatchSize(size), 1);
        shape.embedDim = args.intValue("width", shape.embedDim, 8);
        shape.depth = args.intValue("depth", shape.depth, 1);
        shape.mlpHidden = args.intValue("mlp-ratio", 2, 1) * shape.embedDim;  // timm's ViTs use 4
        shape.convStem = args.flag("conv-stem");
        if (shape.convStem && (shape.patchSize < 2 || (shape.patchSize & (shape.patchSize - 1)) != 0))
            throw UsageError("--conv-stem halves the image once per layer, so --patch-size must be a power of 2, not "
                             + std::to_string(shape.patchSize));
        if (size % shape.patchSize != 0)
            throw UsageError("--patch-size " + std::to_string(shape.patchSize) + " does not divide the "
                             + std::to_string(size) + "-px images");
        if (shape.embedDim % shape.heads != 0)
            throw UsageError("--width must be a multiple of the " + std::to_string(shape.heads) + " heads");
        return engine::freshViT(shape, seed);
    }
    if (arch == "cnn") {
        engine::ResNetShape shape{channels, size, pixels};
        shape.stemStride = args.intValue("stem-stride", 1, 1);
        const int width = args.intValue("width", shape.widths.at(0), 1);
        shape.widths = {width, 2 * width, 4 * width};
        return engine::freshResNet(shape, seed);
    }
    throw UsageError("--arch must be vit or cnn, not '" + arch + "'");  // checked before the data is read
}

std::string commandLine(const std::vector<std::string>& words)
{
    std::string out = "attnviz-cli train";
    for (const auto& w : words)
        out += " " + (w.find_first_of(" ,/") != std::string::npos ? "'" + w + "'" : w);
    return out;
}

}  // namespace

int runTrain(const std::vector<std::string>& words)
{
    const Arguments args(words,
                         {"arch", "data", "out", "epochs", "seed", "device", "batch-size", "lr", "threads", "labels",
                          "limit", "max-batches", "init", "patch-size", "width", "depth", "mlp-ratio", "stem-stride"},
                         {"no-augment", "conv-stem"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    const auto outDir = std::filesystem::path(args.required("out"));
    const auto seed = std::uint64_t(args.intValue("seed", 0, 0));
    if (const int threads = args.intValue("threads", 0, 1))
        engine::configureThreads(threads);
    engine::TrainOptions options;
    options.epochs = args.intValue("epochs", 10, 1);
    options.batchSize = args.intValue("batch-size", 128, 1);
    options.seed = seed;
    options.maxBatchesPerEpoch = args.intValue("max-batches", 0, 0);
    options.learningRate = args.doubleValue("lr", options.learningRate, 1e-8, 1.0);
    options.augment = !args.flag("no-augment");

    if (args.value("init") && args.value("arch"))
        throw UsageError("give either --arch (a fresh model) or --init MODEL_DIR (continue training), not both");
    if (const auto arch = args.value("arch"); arch && *arch != "vit" && *arch != "cnn")
        throw UsageError("--arch must be vit or cnn, not '" + *arch + "'");
    auto labelled = readLabelledImages(args.required("data"), "train", args.intValue("limit", 0, 0));
    const auto& data = labelled.set;
    auto fresh = startingModel(args, seed, data);
    if (args.value("labels"))
        fresh.config.labelNames = parseLabels(args.value("labels"));
    else if (!args.value("init"))
        fresh.config.labelNames = labelled.classes;  // an ImageFolder's folder names; none for IDX
    engine::LoadOptions load;
    load.device = args.value("device").value_or("cpu");
    auto model = engine::buildClassifier(fresh.tensors, fresh.config, load);

    std::filesystem::create_directories(outDir);
    const auto start = std::chrono::steady_clock::now();
    nlohmann::ordered_json training = {{"command", commandLine(words)}, {"seed", seed},
                                       {"images", data.size()},         {"threads", torch::get_num_threads()},
                                       {"device", load.device},         {"epochs", nlohmann::ordered_json::array()}};
    if (auto init = args.value("init"))
        training["continued_from"] = previousTraining(*init);
    ProgressLine progress(std::cerr);
    engine::TrainCallbacks callbacks;
    callbacks.progress = [&progress](const engine::TrainProgress& p) { progress.show(p); };
    callbacks.epochDone = [&](const engine::EpochSummary& e) {
        training["epochs"].push_back(
            {{"epoch", e.epoch}, {"loss", e.loss}, {"train_accuracy", e.trainAccuracy}, {"seconds", e.seconds}});
        training["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        io::writeSafetensors((outDir / "model.safetensors").string(), model->stateDict());
        io::writeModelConfig((outDir / "config.json").string(), fresh.config,
                             nlohmann::ordered_json{{"training", training}}.dump());
        progress.epochDone(e);
    };
    bool finished = false;
    {
        // Ctrl-C stops the run between batches (or within one), keeping the checkpoint of
        // the last complete epoch; the default handler is back for the summary.
        InterruptScope interrupt;
        finished = engine::train(*model, data, options, callbacks);
    }
    if (!finished) {
        std::cerr << "\ntrain: interrupted; "
                  << (training["epochs"].empty()
                          ? std::string("no epoch was complete, nothing written")
                          : "the checkpoint of epoch " + std::to_string(training["epochs"].size()) + " in "
                                + outDir.string() + " is intact")
                  << "\n";
        return 130;
    }
    std::cout << nlohmann::ordered_json{{"out", outDir.string()}, {"training", training}}.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
