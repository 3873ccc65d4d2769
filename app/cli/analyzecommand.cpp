#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/methodoptions.h"
#include "app/cli/modeljson.h"
#include "app/cli/overlayoutput.h"
#include "app/cli/prompts.h"
#include "app/cli/studyjson.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/classifier.h"
#include "core/engine/model/device.h"
#include "core/engine/model/predictions.h"
#include "core/engine/model/tracedump.h"
#include "core/engine/tensorconvert.h"
#include "core/io/safetensors.h"
#include "core/io/shippeddata.h"

#include <chrono>
#include <future>
#include <iostream>
#include <map>

namespace attnviz::cli {
namespace {

double msSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

engine::ViewRequest viewRequest(const Arguments& args)
{
    engine::ViewRequest request;
    request.method = engine::viewMethodFromName(*args.value("method"));
    request.layer = engine::LayerSelector::parse(args.value("layer").value_or(""));
    request.head = engine::headChoiceFromName(args.value("head").value_or("mean"));
    request.classIndex = args.intValue("class", -1, 0);
    request.query = args.rowCol("query");
    request.discardRatio = args.doubleValue("discard-ratio", 0.0, 0.0, 0.99);
    request.vitCamInput = engine::vitCamInputFromName(args.value("cam-input").value_or("norm1"));
    request.settings = methodSettings(args);
    return request;
}

// The logit lens's most probable class at every patch, per layer: the class indices and
// their probabilities as [h][w] grids, and the class most patches predict.
nlohmann::ordered_json patchTopClassJson(const engine::ViewMaps& view, const engine::ModelSpec& spec)
{
    auto out = nlohmann::ordered_json::array();
    for (std::size_t l = 0; l < view.layers.size(); ++l) {
        const auto classes = view.topClasses[int64_t(l)];  // [h, w] int64
        auto grid = nlohmann::ordered_json::array();
        for (int64_t y = 0; y < classes.size(0); ++y) {
            std::vector<int64_t> row(std::size_t(classes.size(1)));
            for (int64_t x = 0; x < classes.size(1); ++x)
                row[std::size_t(x)] = classes[y][x].item<int64_t>();
            grid.push_back(row);
        }
        const auto counts = torch::bincount(classes.flatten());
        const auto most = counts.argmax().item<int64_t>();
        nlohmann::ordered_json common = {{"class", most},
                                         {"share", studyNumber(counts[most].item<double>() / double(classes.numel()))}};
        if (std::size_t(most) < spec.labels.size())
            common["class_name"] = spec.labels[std::size_t(most)];
        out.push_back({{"layer", view.layers[l]},
                       {"classes", grid},
                       {"probabilities", matrixJson(view.topProbabilities[int64_t(l)], /*significant=*/true)},
                       {"most_patches", common}});
    }
    return out;
}

nlohmann::ordered_json viewJson(const engine::ViewMaps& view, const engine::ModelSpec& spec)
{
    nlohmann::ordered_json j;
    j["method"] = engine::viewMethodName(view.method);
    if (view.classIndex) {
        j["class"] = *view.classIndex;
        if (std::size_t(*view.classIndex) < spec.labels.size())
            j["class_name"] = spec.labels[std::size_t(*view.classIndex)];
    }
    j["layers"] = view.layers;
    j["heads"] = view.heads;
    if (!view.camInput.empty())
        j["cam_input"] = view.camInput;
    j["map_size"] = {view.maps.size(2), view.maps.size(3)};
    if (view.topClasses.defined())
        j["patch_top_class"] = patchTopClassJson(view, spec);
    return j;
}

struct LoadedModel {
    std::unique_ptr<engine::Classifier> model;
    double loadMs = 0.0;
    std::optional<PromptClasses> prompts;  // a CLIP or SigLIP ViT's classes from --text / --labels
};

LoadedModel timedLoad(const Arguments& args, engine::Family role)
{
    const auto start = std::chrono::steady_clock::now();
    auto model = loadRoleModel(args, role);
    const double loadMs = msSince(start);
    auto prompts = role == engine::Family::ViT ? applyPrompts(args, *model, *args.value("vit")) : std::nullopt;
    return {std::move(model), loadMs, std::move(prompts)};
}

// vit.text.ids [P, context] I64 and vit.text.embeds [P, E] (--text), vit.text.scores [K]:
// what the text tower saw and gave, and the image's scores before softmax or sigmoid.
void appendPromptTensors(const PromptClasses& prompts, const torch::Tensor& logits, io::TensorMap& dump)
{
    if (prompts.ids.defined()) {
        dump["vit.text.ids"] = engine::toRawI64(prompts.ids);
        dump["vit.text.embeds"] = engine::toRawF32(prompts.embeddings);
    }
    dump["vit.text.scores"] = engine::toRawF32(logits.reshape({-1}));
}

nlohmann::ordered_json analyzeRole(const std::string& role, const std::string& modelPath, const LoadedModel& loaded,
                                   const InputSet& inputs, const Arguments& args, io::TensorMap* dump)
{
    const auto& model = loaded.model;
    const double loadMs = loaded.loadMs;
    auto start = std::chrono::steady_clock::now();
    const auto input = inputs.at(0, role, model->spec());
    const double prepMs = msSince(start);
    const auto trace = model->forward(input);
    bool dumpedMatrices = false;
    if (dump)
        dumpedMatrices = engine::appendTraceTensors(trace, role, *dump,
                                                    args.flag("dump-attention")
                                                        ? engine::FullAttentionDump::Always
                                                        : engine::FullAttentionDump::WhileSmall);
    nlohmann::ordered_json j;
    j["model"] = modelPath;
    j["description"] = model->spec().description;
    j["input_size"] = trace.input.sizes().vec();
    j["top_k"] = predictionsJson(engine::topK(trace.logits, model->spec(), args.intValue("top-k", 5, 1)));
    if (loaded.prompts) {
        j["prompts"] = promptsJson(*loaded.prompts, model->spec(), trace.logits);
        if (dump)
            appendPromptTensors(*loaded.prompts, trace.logits, *dump);
    }
    if (trace.embedding.defined()) {  // a model without classes, or a text tower's: its image embedding [1, E]
        const auto e = trace.embedding.reshape({-1}).to(torch::kFloat64);
        j["embedding"] = {{"dim", e.size(0)}, {"norm", e.norm().item<double>()}};
    }
    j["timings_ms"] = {{"load", loadMs}, {"preprocess", prepMs}, {"forward", trace.forwardSeconds * 1000.0}};
    if (!trace.attention.empty()) {
        j["grid"] = {trace.tokens.gridH, trace.tokens.gridW};
        if (dump)  // <role>.attn.<l> are written while the dump stays within 2 GiB, or with --dump-attention
            j["dump_attention_matrices"] = dumpedMatrices;
    }
    if (!args.value("method"))
        return j;
    start = std::chrono::steady_clock::now();
    const auto request = viewRequest(args);
    const auto view = engine::computeView(*model, trace, request);
    j["view"] = viewJson(view, model->spec());
    if (auto settings = settingsJson(request.method, request.settings); !settings.is_null())
        j["view"]["settings"] = std::move(settings);
    j["timings_ms"]["view"] = msSince(start);
    if (dump) {
        const auto key = role + "." + engine::viewMethodName(view.method);
        (*dump)[key] = engine::toRawF32(view.maps);
        if (view.topClasses.defined()) {  // the logit lens: each patch's top class and its probability
            (*dump)[key + ".top_class"] = engine::toRawI64(view.topClasses);
            (*dump)[key + ".top_probability"] = engine::toRawF32(view.topProbabilities);
        }
    }
    if (auto dir = args.value("out-dir"))
        j["view"]["file"] = writeViewPng(*dir, outputStem(args), args.value("image").value_or(""), role, modelPath,
                                         trace, view, model->spec(), args);
    return j;
}

Arguments analyzeArguments(const std::vector<std::string>& words)
{
    return Arguments(words,
                     withMethodSettings({"vit",      "cnn",        "image",    "tensor",        "device",    "top-k",
                                         "heads",    "input-size", "dump",     "threads",       "method",    "layer",
                                         "head",     "class",      "query",    "discard-ratio", "cam-input", "out-dir",
                                         "colormap", "alpha",      "upsample", "normalize",     "keep-mass", "labels"}),
                     {"no-colorbar", "dump-attention"}, {"text", "template"});
}

// Neither --vit nor --cnn: the models attnviz ships, as the window's first start shows them,
// so that the program alone answers.
Arguments withShippedModelsUnlessNamed(const std::vector<std::string>& words)
{
    auto args = analyzeArguments(words);
    if (args.value("vit") || args.value("cnn"))
        return args;
    auto withModels = words;
    withModels.insert(withModels.end(),
                      {"--vit", io::shippedModel("vit-shapes"), "--cnn", io::shippedModel("cnn-shapes")});
    return analyzeArguments(withModels);
}

}  // namespace

int runAnalyze(const std::vector<std::string>& words)
{
    const auto args = withShippedModelsUnlessNamed(words);
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    for (const char* option : {"layer", "head", "class", "query", "discard-ratio", "cam-input", "out-dir", "colormap",
                               "alpha", "upsample", "normalize", "keep-mass"})
        if (args.value(option) && !args.value("method"))
            throw UsageError(std::string("--") + option + " needs --method NAME");
    if (const auto given = givenMethodSettings(args); !given.empty() && !args.value("method"))
        throw UsageError(given + " needs --method NAME");
    if (args.flag("dump-attention") && !args.value("dump"))
        throw UsageError("--dump-attention needs --dump OUT.safetensors");
    checkPromptOptions(args);
    const InputSet inputs(args, /*folderAllowed=*/false);
    const auto threads = engine::configureThreads(args.intValue("threads", 0, 1));
    io::TensorMap dump;
    io::TensorMap* dumpTarget = args.value("dump") ? &dump : nullptr;

    nlohmann::ordered_json out;
    out["device"] = args.value("device").value_or("cpu");
    out["threads"] = {{"torch", threads.torch}, {"blas", threads.blas}};
    // Both checkpoints are read at once, one thread each: reading them is most of a cold
    // start (docs/benchmarks.md). The models then run one after the other on every core.
    std::map<std::string, std::future<LoadedModel>> loading;
    for (const auto family : engine::kFamilies)
        if (args.value(engine::familyName(family)))
            loading[engine::familyName(family)] = std::async(std::launch::async, timedLoad, std::cref(args), family);
    for (const auto family : engine::kFamilies) {
        const auto role = engine::familyName(family);
        if (auto path = args.value(role))
            out[role] = analyzeRole(role, *path, loading.at(role).get(), inputs, args, dumpTarget);
    }
    if (dumpTarget)
        io::writeSafetensors(*args.value("dump"), dump);
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
