// attnviz-cli export: the chosen views of every image of a folder (or a list) for one or
// both models, as PNG overlays under each image's relative path in OUT and one JSON object
// per image in a JSON Lines file. Shards split the images for a cluster; --resume skips
// the images already done; every file is written to a temporary name and renamed.
//
// A pipeline of three stages, so that the model never waits for the disk: worker threads
// decode and preprocess batch k + 1 while the model runs batch k (one forward pass per
// batch and model; the views and faithfulness curves follow on this thread), and other
// worker tasks render, encode and write batch k's PNGs and records meanwhile.
#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/exportplan.h"
#include "app/cli/inputs.h"
#include "app/cli/methodoptions.h"
#include "app/cli/modeljson.h"
#include "app/cli/overlayoutput.h"
#include "app/cli/pcafit.h"
#include "app/cli/progressline.h"

#include "core/engine/errormessage.h"
#include "core/engine/evaluation/faithfulness.h"
#include "core/engine/model/device.h"
#include "core/engine/model/predictions.h"
#include "core/io/atomicfile.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

namespace attnviz::cli {
#ifdef ATTNVIZ_HAVE_IMAGING
namespace {

namespace fs = std::filesystem;

// Exit status when some images could not be read (each is listed in the summary).
constexpr int kSomeSkipped = 3;

// Runs fn(0) .. fn(count - 1) on up to `workers` threads; returns when all are done.
template <typename Fn>
void parallelFor(std::size_t count, int workers, Fn fn)
{
    std::atomic<std::size_t> next{0};
    std::vector<std::future<void>> running;
    for (int w = 0; w < std::max(1, std::min<int>(workers, int(count))); ++w)
        running.push_back(std::async(std::launch::async, [&] {
            for (std::size_t i = next++; i < count; i = next++)
                fn(i);
        }));
    for (auto& r : running)
        r.get();
}

// One image of a batch as the models will see it: per model its preprocessed input
// [1, C, H, W], or why it could not be read.
struct PreparedImage {
    std::size_t index = 0;  // into the shard's images
    std::vector<torch::Tensor> inputs;
    std::string error;
};

std::vector<PreparedImage> prepareBatch(const std::vector<ExportImage>& images, const std::vector<std::size_t>& indices,
                                        const std::vector<ExportModel>& models, int workers)
{
    std::vector<PreparedImage> prepared(indices.size());
    parallelFor(indices.size(), workers, [&](std::size_t i) {
        auto& p = prepared[i];
        p.index = indices[i];
        try {
            const auto rgb = imaging::decodeImageRgb(images[p.index].path);
            for (const auto& m : models)
                p.inputs.push_back(imaging::preprocessImage(rgb, m.model->spec().preprocessing).tensor);
        } catch (const std::exception& e) {
            p.inputs.clear();
            p.error = engine::errorLine(e);
        }
    });
    return prepared;
}

// Everything one image's files are made of; written by a worker task.
// Its implicit noexcept moves call nlohmann::json's invariant check (an assert), which
// clang-tidy cannot prove does not throw.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct ImageOutput {
    std::size_t index = 0;
    nlohmann::ordered_json record;
    struct Figure {
        const ExportModel* model;
        engine::Trace trace;
        engine::ViewMaps view;
        nlohmann::ordered_json::json_pointer pathKey;  // where the PNG's path goes in the record
        std::string variant;                           // the file name's suffix: "prompt<P>" or none
    };
    std::vector<Figure> figures;
    std::string error;  // set by the writer when a file could not be written
};

fs::path recordPath(const fs::path& out, const ExportImage& image)
{
    return out / (image.relative + ".json");
}

void writeText(const fs::path& path, const std::string& text)
{
    io::AtomicFile file(path.string());
    file.write(text.data(), text.size());
    file.commit();
}

// The PNGs, then the record: the last file, so an image counts as done (for --resume)
// only when all of its outputs are there.
void writeImageOutput(ImageOutput& output, const ExportImage& image, const fs::path& out, const Arguments& args)
{
    try {
        const fs::path relative(image.relative);
        const auto dir = outputDirectory((out / relative.parent_path()).string());  // also for a record without views
        for (const auto& f : output.figures) {
            const auto file = writeViewPng(dir, relative.filename().string(), image.path, f.model->role, f.model->path,
                                           f.trace, f.view, f.model->model->spec(), args, f.variant);
            output.record[f.pathKey] = fs::path(file).lexically_relative(out).generic_string();
        }
        writeText(recordPath(out, image), output.record.dump() + "\n");
    } catch (const std::exception& e) {
        output.error = engine::errorLine(e);
    }
    output.figures.clear();  // the traces and maps are no longer needed
}

nlohmann::ordered_json curveJson(const engine::CausalCurve& curve)
{
    return {{"auc", curve.auc}, {"probabilities", curve.probabilities}};
}

// --faithfulness: deletion and insertion of the method's default map (whatever --layers
// and --heads put in the figure: one score per model and method, comparable across runs),
// for the class the view explains (a --text figure's prompt) or else the predicted one.
nlohmann::ordered_json faithfulnessJson(const ExportModel& m, const engine::Trace& trace, const MethodPlan& plan,
                                        const engine::ViewMaps& figure, const engine::FaithfulnessOptions& options)
{
    engine::ViewRequest request;
    request.method = plan.method;
    request.settings = plan.requests.front().front().settings;  // one per method (--steps, --noise, ...)
    if (plan.prompt >= 0)
        request.classIndex = plan.prompt;
    const bool figureIsDefault = plan.requests.size() == 1 && plan.requests[0].size() == 1
                                 && engine::viewRequestKey(plan.requests[0][0]) == engine::viewRequestKey(request);
    const auto view = figureIsDefault ? figure : engine::computeView(*m.model, trace, request);
    const int classIndex = view.classIndex ? *view.classIndex : int(trace.logits.argmax(1).item<int64_t>());
    const auto f = engine::faithfulness(*m.model, trace.input, view.maps[0][0], classIndex, options);
    return {{"class", f.classIndex},
            {"layer", view.layers.front()},
            {"head", view.heads.front()},
            {"deletion", curveJson(f.deletion)},
            {"insertion", curveJson(f.insertion)}};
}

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

class Exporter {
public:
    Exporter(std::vector<ExportImage> images, std::vector<ExportModel>& models, fs::path out, const Arguments& args)
        : m_images(std::move(images))
        , m_models(models)
        , m_out(std::move(out))
        , m_args(args)
        , m_lines(m_images.size())
        , m_topK(args.intValue("top-k", 5, 1))
        , m_faithfulness(args.flag("faithfulness"))
        , m_faithfulnessOptions(faithfulnessOptions(args))
    {
    }

    // Fills the records of images already done (--resume); returns the images left.
    std::vector<std::size_t> resumeDone(bool resume)
    {
        std::vector<std::size_t> todo;
        for (std::size_t i = 0; i < m_images.size(); ++i) {
            std::ifstream done(recordPath(m_out, m_images[i]));
            if (resume && done) {
                std::stringstream record;
                record << done.rdbuf();
                m_lines[i] = record.str();
                ++m_resumed;
            } else {
                todo.push_back(i);
            }
        }
        return todo;
    }

    void run(const std::vector<std::size_t>& todo, std::size_t batchSize, int workers)
    {
        const auto started = Clock::now();
        ProgressLine progress(std::cerr);
        const auto batchAt = [&](std::size_t first) {
            return std::vector<std::size_t>(todo.begin() + long(first),
                                            todo.begin() + long(std::min(todo.size(), first + batchSize)));
        };
        auto prepared = std::async(std::launch::async, prepareBatch, std::cref(m_images), batchAt(0),
                                   std::cref(m_models), workers);
        std::vector<ImageOutput> written;  // declared first: `writing` uses it until it is destroyed
        std::future<void> writing;
        for (std::size_t first = 0; first < todo.size(); first += batchSize) {
            auto waited = Clock::now();
            auto batch = prepared.get();
            m_seconds.waitingForInput += secondsSince(waited);
            if (first + batchSize < todo.size())
                prepared = std::async(std::launch::async, prepareBatch, std::cref(m_images), batchAt(first + batchSize),
                                      std::cref(m_models), workers);
            auto outputs = computeBatch(batch);
            if (writing.valid()) {
                waited = Clock::now();
                writing.get();
                m_seconds.waitingForWrites += secondsSince(waited);
                collect(written, progress);
            }
            written = std::move(outputs);
            writing = std::async(std::launch::async, [this, &written, workers] {
                parallelFor(written.size(), workers, [&](std::size_t i) {
                    writeImageOutput(written[i], m_images[written[i].index], m_out, m_args);
                });
            });
        }
        if (writing.valid()) {
            const auto waited = Clock::now();
            writing.get();
            m_seconds.waitingForWrites += secondsSince(waited);
            collect(written, progress);
        }
        m_seconds.total = secondsSince(started);
    }

    std::string lines() const
    {
        std::string all;
        for (const auto& line : m_lines)
            all += line;
        return all;
    }
    std::size_t computed() const { return m_computed; }
    std::size_t resumed() const { return m_resumed; }
    const nlohmann::ordered_json& skipped() const { return m_skipped; }
    // Where this thread's time went, for the throughput figures of docs/benchmarks.md.
    nlohmann::ordered_json secondsJson() const
    {
        return {{"total", m_seconds.total},
                {"forward", m_seconds.forward},
                {"views", m_seconds.views},
                {"waiting_for_input", m_seconds.waitingForInput},
                {"waiting_for_writes", m_seconds.waitingForWrites}};
    }

private:
    void skip(std::size_t index, const std::string& reason)
    {
        // Unreadable images are skipped, never fatal; a model error is too, with its reason.
        m_skipped.push_back({{"image", m_images[index].relative}, {"reason", reason}});
        std::fprintf(stderr, "export: skipped '%s': %s\n", m_images[index].relative.c_str(), reason.c_str());
    }

    // One forward pass per model for the readable images of a batch, then their views.
    std::vector<ImageOutput> computeBatch(std::vector<PreparedImage>& batch)
    {
        std::vector<PreparedImage*> readable;
        for (auto& p : batch)
            if (p.error.empty())
                readable.push_back(&p);
            else
                skip(p.index, p.error);
        std::vector<ImageOutput> outputs(readable.size());
        for (std::size_t i = 0; i < readable.size(); ++i) {
            outputs[i].index = readable[i]->index;
            outputs[i].record["image"] = m_images[readable[i]->index].relative;
        }
        for (std::size_t k = 0; k < m_models.size() && !readable.empty(); ++k) {
            std::vector<engine::Trace> traces;
            try {
                std::vector<torch::Tensor> inputs;
                inputs.reserve(readable.size());
                for (const auto* p : readable)
                    inputs.push_back(p->inputs[k]);
                const auto started = Clock::now();
                traces = m_models[k].model->forwardBatch(torch::cat(inputs));
                m_seconds.forward += secondsSince(started);
            } catch (const std::exception& e) {
                for (auto& o : outputs)
                    if (o.error.empty())
                        o.error = engine::errorLine(e);
                continue;
            }
            const auto started = Clock::now();
            addViews(outputs, m_models[k], traces);
            m_seconds.views += secondsSince(started);
        }
        std::vector<ImageOutput> good;
        for (auto& o : outputs)
            if (o.error.empty())
                good.push_back(std::move(o));
            else
                skip(o.index, o.error);
        return good;
    }

    // Each method's figures for the batch's images still without error (a gradient CAM's
    // from one pass over them all); a method that fails marks each of them failed.
    void addViews(std::vector<ImageOutput>& outputs, const ExportModel& m, const std::vector<engine::Trace>& traces)
    {
        std::vector<std::size_t> ok;
        std::vector<const engine::Trace*> okTraces;
        for (std::size_t i = 0; i < outputs.size(); ++i)
            if (outputs[i].error.empty()) {
                ok.push_back(i);
                okTraces.push_back(&traces[i]);
                outputs[i].record[m.role]["top_k"] = predictionsJson(
                    engine::topK(traces[i].logits, m.model->spec(), m_topK));
                if (m.prompts && m.prompts->templates.empty())  // --text: each prompt's score, then its views
                    outputs[i].record[m.role]["prompts"] = promptsJson(*m.prompts, m.model->spec(),
                                                                       traces[i].logits)["scores"];
            }
        for (const auto& plan : m.methods) {
            std::vector<engine::ViewMaps> views;
            try {
                views = computePlannedViews(*m.model, okTraces, plan);
            } catch (const std::exception& e) {
                for (const auto i : ok)
                    outputs[i].error = engine::errorLine(e);
                return;
            }
            for (std::size_t j = 0; j < ok.size(); ++j)
                addView(outputs[ok[j]], m, traces[ok[j]], plan, std::move(views[j]));
        }
    }

    void addView(ImageOutput& output, const ExportModel& m, const engine::Trace& trace, const MethodPlan& plan,
                 engine::ViewMaps view)
    {
        if (!output.error.empty())
            return;
        try {
            // record[role] or, for a prompt's figure, record[role]["prompts"][P]
            using Pointer = nlohmann::ordered_json::json_pointer;
            auto side = Pointer("/" + m.role);
            if (plan.prompt >= 0)
                side = side / "prompts" / std::size_t(plan.prompt);
            const auto name = engine::viewMethodName(plan.method);
            if (m_faithfulness)
                output.record[side / "faithfulness" / name] = faithfulnessJson(m, trace, plan, view,
                                                                               m_faithfulnessOptions);
            output.record[side / "views" / name] = nullptr;  // the file's path, once written
            const auto variant = plan.prompt >= 0 ? "prompt" + std::to_string(plan.prompt) : std::string();
            output.figures.push_back({&m, trace, std::move(view), side / "views" / name, variant});
        } catch (const std::exception& e) {
            output.error = engine::errorLine(e);
        }
    }

    // The written images of a batch: their records join the results, failures the skipped.
    void collect(std::vector<ImageOutput>& written, ProgressLine& progress)
    {
        for (auto& o : written) {
            if (o.error.empty()) {
                m_lines[o.index] = o.record.dump() + "\n";
                ++m_computed;
            } else {
                skip(o.index, o.error);
            }
        }
        progress.imagesDone("export", m_resumed + m_computed + m_skipped.size(), m_images.size());
        written.clear();
    }

    std::vector<ExportImage> m_images;
    std::vector<ExportModel>& m_models;
    fs::path m_out;
    const Arguments& m_args;
    std::vector<std::string> m_lines;  // the JSON Lines file, in the stable order
    int m_topK;
    bool m_faithfulness;
    engine::FaithfulnessOptions m_faithfulnessOptions;
    std::size_t m_computed = 0, m_resumed = 0;
    nlohmann::ordered_json m_skipped = nlohmann::ordered_json::array();
    struct {
        double total = 0, forward = 0, views = 0, waitingForInput = 0, waitingForWrites = 0;
    } m_seconds;
};

// The models given, their prompts made their classes and their figures planned.
std::vector<ExportModel> exportModels(const Arguments& args)
{
    std::vector<ExportModel> models;
    for (const auto family : engine::kFamilies)
        if (const auto path = args.value(engine::familyName(family))) {
            auto& m = models.emplace_back(
                ExportModel{engine::familyName(family), *path, loadRoleModel(args, family, "model-heads"), {}, {}});
            if (family == engine::Family::ViT)
                m.prompts = applyPrompts(args, *m.model, *path);
        }
    for (const auto& m : models)
        if (args.flag("faithfulness") && m.model->spec().numClasses == 0)
            throw UsageError("--faithfulness needs a classifier; '" + m.path + "' outputs an image embedding");
    planMethods(models, args);
    return models;
}

// {"texts": [...]} or {"labels": count, "templates": [...]}
nlohmann::ordered_json promptSummary(const PromptClasses& prompts)
{
    if (prompts.templates.empty())
        return {{"texts", prompts.labels}};
    return {{"labels", prompts.labels.size()}, {"templates", prompts.templates}};
}

}  // namespace
#endif

namespace {

// The options export takes a value for (its methods' own settings are added to these).
std::set<std::string> exportOptionNames()
{
    return {"vit",
            "cnn",
            "images",
            "list",
            "out",
            "methods",
            "layers",
            "heads",
            "shard",
            "top-k",
            "device",
            "input-size",
            "model-heads",
            "batch",
            "workers",
            "threads",
            "faithfulness-steps",
            "deletion-substrate",
            "insertion-substrate",
            "colormap",
            "alpha",
            "upsample",
            "normalize",
            "keep-mass",
            "labels",
            "pca-fit"};
}

}  // namespace

int runExport(const std::vector<std::string>& words)
{
    const Arguments args(words, withMethodSettings(exportOptionNames()), {"resume", "faithfulness", "no-colorbar"},
                         {"text", "template"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (!args.value("vit") && !args.value("cnn"))
        throw UsageError("give at least one of --vit MODEL and --cnn MODEL");
    checkPromptOptions(args);
#ifndef ATTNVIZ_HAVE_IMAGING
    throw UsageError("this build has no image support (built without OpenCV): export is unavailable");
#else
    const fs::path out(outputDirectory(args.required("out")));
    const auto [shard, shards] = shardOption(args);
    const auto [all, repeated] = exportImages(args);
    std::vector<ExportImage> images;
    for (std::size_t i = std::size_t(shard); i < all.size(); i += std::size_t(shards))
        images.push_back(all[i]);
    engine::configureThreads(args.intValue("threads", 0, 1));
    const auto batch = std::size_t(args.intValue("batch", 8, 1));
    const int workers = args.intValue("workers", std::max(1, int(std::thread::hardware_concurrency()) / 2), 1);
    faithfulnessOptions(args);  // a bad option fails before any image is read
    auto models = exportModels(args);
    const auto pcaFit = fitExportPca(models, all, args);

    Exporter exporter(images, models, out, args);
    exporter.run(exporter.resumeDone(args.flag("resume")), batch, workers);
    const auto results = out
                         / (shards == 1
                                ? std::string("results.jsonl")
                                : "results-" + std::to_string(shard) + "-of-" + std::to_string(shards) + ".jsonl");
    writeText(results, exporter.lines());

    nlohmann::ordered_json summary;
    summary["images"] = images.size();
    summary["images_in_all_shards"] = all.size();
    if (!repeated.empty())  // --list named these files again: each was exported once
        summary["repeated_in_list"] = repeated;
    summary["shard"] = {shard, shards};
    for (const auto& m : models)
        if (m.prompts)  // what the prompt views and scores refer to
            summary["prompts"][m.role] = promptSummary(*m.prompts);
    for (const auto& m : models)  // what --steps, --noise, ... were for each method that takes them
        for (const auto& plan : m.methods)
            if (auto j = settingsJson(plan.method, plan.requests.front().front().settings); !j.is_null())
                summary["method_settings"][engine::viewMethodName(plan.method)] = std::move(j);
    if (!pcaFit.empty())  // the PCA each model's pca figures share
        summary["pca_fit"] = pcaFit;
    summary["computed"] = exporter.computed();
    summary["resumed"] = exporter.resumed();
    summary["skipped"] = exporter.skipped();
    summary["seconds"] = exporter.secondsJson();
    summary["results"] = results.string();
    std::cout << summary.dump(2) << "\n";
    return exporter.skipped().empty() ? 0 : kSomeSkipped;
#endif
}

}  // namespace attnviz::cli
