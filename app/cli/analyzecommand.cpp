#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/modeljson.h"

#include "core/engine/classifier.h"
#include "core/engine/device.h"
#include "core/engine/engineerror.h"
#include "core/engine/predictions.h"
#include "core/engine/tensorconvert.h"
#include "core/engine/tracedump.h"
#include "core/io/safetensors.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"
#endif

#include <chrono>
#include <iostream>

namespace attnviz::cli {
namespace {

double msSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Where a role's input comes from: a decoded image, or a preprocessed tensor file.
struct InputSource {
    std::optional<std::string> imagePath;
    std::optional<io::SafetensorsFile> tensors;
};

torch::Tensor tensorInput(const io::SafetensorsFile& file, const std::string& role, const engine::ModelSpec& spec)
{
    const auto it = file.tensors.count(role + ".input") ? file.tensors.find(role + ".input") : file.tensors.find("input");
    if (it == file.tensors.end())
        throw engine::EngineError("the --tensor file has neither '" + role + ".input' nor 'input'");
    const auto& shape = it->second.shape;
    if (shape.size() != 4 || shape[0] != 1 || shape[1] != spec.preprocessing.inputSize[0])
        throw engine::EngineError("tensor '" + it->first + "' has shape " + it->second.shapeString() + ", expected [1, "
                                  + std::to_string(spec.preprocessing.inputSize[0]) + ", H, W]");
    return engine::toTorch(it->second).to(torch::kFloat32);
}

torch::Tensor prepareInput(const InputSource& source, const std::string& role, const engine::ModelSpec& spec)
{
    if (source.tensors)
        return tensorInput(*source.tensors, role, spec);
#ifdef ATTNVIZ_HAVE_IMAGING
    return imaging::preprocessImage(imaging::decodeImageRgb(*source.imagePath), spec.preprocessing).tensor;
#else
    (void)spec;
    throw UsageError("this build has no image support (built without OpenCV); use --tensor");
#endif
}

nlohmann::ordered_json analyzeRole(const std::string& role, const std::string& modelPath, const InputSource& source,
                           const Arguments& args, io::TensorMap* dump)
{
    engine::LoadOptions options;
    options.heads = args.intValue("heads", 0, 1);
    options.device = args.value("device").value_or("cpu");
    auto start = std::chrono::steady_clock::now();
    const auto model = engine::loadClassifier(modelPath, options);
    const double loadMs = msSince(start);
    const auto wanted = role == std::string("vit") ? engine::Family::ViT : engine::Family::ResNet;
    if (model->spec().family != wanted)
        throw UsageError("--" + role + " expects a " + (role == std::string("vit") ? "ViT" : "CNN") + " but '" + modelPath
                         + "' is a " + model->spec().description);
    start = std::chrono::steady_clock::now();
    const auto input = prepareInput(source, role, model->spec());
    const double prepMs = msSince(start);
    const auto trace = model->forward(input);
    if (dump)
        engine::appendTraceTensors(trace, role, *dump);
    nlohmann::ordered_json j;
    j["model"] = modelPath;
    j["description"] = model->spec().description;
    j["input_size"] = trace.input.sizes().vec();
    j["top_k"] = predictionsJson(engine::topK(trace.logits, model->spec().labels, args.intValue("top-k", 5, 1)));
    j["timings_ms"] = {{"load", loadMs}, {"preprocess", prepMs}, {"forward", trace.forwardSeconds * 1000.0}};
    if (!trace.attentions.empty())
        j["grid"] = {trace.tokens.gridH, trace.tokens.gridW};
    return j;
}

}  // namespace

int runAnalyze(const std::vector<std::string>& words)
{
    const Arguments args(words, {"vit", "cnn", "image", "tensor", "device", "top-k", "heads", "dump", "threads"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (!args.value("vit") && !args.value("cnn"))
        throw UsageError("give at least one of --vit MODEL and --cnn MODEL");
    if (bool(args.value("image")) == bool(args.value("tensor")))
        throw UsageError("give exactly one of --image IMG and --tensor FILE.safetensors");
    const auto threads = engine::configureThreads(args.intValue("threads", 0, 1));

    InputSource source;
    source.imagePath = args.value("image");
    if (auto tensorPath = args.value("tensor"))
        source.tensors = io::readSafetensors(*tensorPath);
    io::TensorMap dump;
    io::TensorMap* dumpTarget = args.value("dump") ? &dump : nullptr;

    nlohmann::ordered_json out;
    out["device"] = args.value("device").value_or("cpu");
    out["threads"] = {{"torch", threads.torch}, {"blas", threads.blas}};
    for (const char* role : {"vit", "cnn"})
        if (auto path = args.value(role))
            out[role] = analyzeRole(role, *path, source, args, dumpTarget);
    if (dumpTarget)
        io::writeSafetensors(*args.value("dump"), dump);
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
