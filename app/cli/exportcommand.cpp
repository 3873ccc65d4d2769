// attnviz-cli export: the chosen views of every image of a folder (or a list) for one or
// both models, as PNG overlays under each image's relative path in OUT and one JSON object
// per image in a JSON Lines file. Shards split the images for a cluster; --resume skips
// the images already done; every file is written to a temporary name and renamed.
#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/modeljson.h"
#include "app/cli/overlayoutput.h"
#include "app/cli/progressline.h"

#include "core/engine/errormessage.h"
#include "core/engine/predictions.h"
#include "core/engine/views.h"
#include "core/io/atomicfile.h"
#include "core/io/imagefiles.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace attnviz::cli {
#ifdef ATTNVIZ_HAVE_IMAGING
namespace {

namespace fs = std::filesystem;

// Exit status when some images could not be read (each is listed in the summary).
constexpr int kSomeSkipped = 3;

struct ExportImage {
    std::string path;      // as opened
    std::string relative;  // under the input folder, '/' separated: where its outputs go
};

struct ExportModel {
    std::string role;  // "vit" | "cnn"
    std::string path;
    std::unique_ptr<engine::Classifier> model;
    std::vector<engine::ViewMethod> methods;
};

// --images DIR (recursively, sorted by relative path) or --list FILE (one path a line,
// relative to the list's folder unless absolute).
std::vector<ExportImage> exportImages(const Arguments& args)
{
    if (bool(args.value("images")) == bool(args.value("list")))
        throw UsageError("give exactly one of --images DIR and --list FILE");
    std::vector<ExportImage> images;
    if (const auto dir = args.value("images")) {
        for (const auto& relative : io::imageFilesUnder(*dir))
            images.push_back({(fs::path(*dir) / relative).string(), relative});
        return images;
    }
    const fs::path list(*args.value("list"));
    std::ifstream in(list);
    if (!in)
        throw UsageError("cannot read the list '" + list.string() + "'");
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty())
            continue;
        const fs::path path(line);
        const auto relative = path.is_absolute() ? path.relative_path().generic_string() : path.lexically_normal().generic_string();
        if (relative.rfind("..", 0) == 0)
            throw UsageError("list entry '" + line + "' leaves the list's folder; give it as an absolute path");
        images.push_back({path.is_absolute() ? line : (list.parent_path() / path).string(), relative});
    }
    if (images.empty())
        throw UsageError("the list '" + list.string() + "' names no images");
    return images;
}

// --shard I/N: the images at positions I, I + N, I + 2N, ... of the stable order.
std::pair<int, int> shardOption(const Arguments& args)
{
    const auto text = args.value("shard").value_or("0/1");
    int index = -1, count = 0;
    char slash = 0;
    std::istringstream in(text);
    if (!(in >> index >> slash >> count) || slash != '/' || !in.eof() || count < 1 || index < 0 || index >= count)
        throw UsageError("--shard takes I/N with 0 <= I < N, got '" + text + "'");
    return {index, count};
}

// --methods a,b,c: each model gets the ones its family offers; a method neither offers
// is an error. Default: attention for a ViT, Grad-CAM for a CNN.
void assignMethods(std::vector<ExportModel>& models, const Arguments& args)
{
    const auto list = args.value("methods");
    std::vector<engine::ViewMethod> asked;
    if (list) {
        std::istringstream in(*list);
        for (std::string name; std::getline(in, name, ',');)
            if (!name.empty())
                asked.push_back(engine::viewMethodFromName(name));
    }
    for (auto& m : models) {
        const auto family = m.model->spec().family;
        if (!list)
            m.methods = {family == engine::Family::ViT ? engine::ViewMethod::Attention : engine::ViewMethod::GradCam};
        for (const auto method : asked)
            if (engine::viewSupports(method, family) && method != engine::ViewMethod::EffectiveField)
                m.methods.push_back(method);
    }
    for (const auto method : asked) {
        bool offered = false;
        for (const auto& m : models)
            offered = offered || std::find(m.methods.begin(), m.methods.end(), method) != m.methods.end();
        if (!offered)
            throw UsageError("no model given offers the method '" + engine::viewMethodName(method) + "'");
    }
}

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

// One image through every model and method: the PNGs, then its record (the last file
// written, so an image counts as done only when all of its outputs are there).
nlohmann::ordered_json exportOne(const ExportImage& image, std::vector<ExportModel>& models, const fs::path& out,
                                 const Arguments& args)
{
    const auto rgb = imaging::decodeImageRgb(image.path);
    const fs::path relative(image.relative);
    const auto dir = outputDirectory((out / relative.parent_path()).string());  // also for a record without views
    nlohmann::ordered_json record;
    record["image"] = image.relative;
    for (auto& m : models) {
        const auto& spec = m.model->spec();
        const auto trace = m.model->forward(imaging::preprocessImage(rgb, spec.preprocessing).tensor);
        nlohmann::ordered_json side;
        side["top_k"] = predictionsJson(engine::topK(trace.logits, spec.labels, args.intValue("top-k", 5, 1)));
        for (const auto method : m.methods) {
            engine::ViewRequest request;
            request.method = method;
            const auto view = engine::computeView(*m.model, trace, request);
            const auto file = writeViewPng(dir, relative.filename().string(), m.role, m.path, trace, view, spec, args);
            side["views"][engine::viewMethodName(method)] = fs::path(file).lexically_relative(out).generic_string();
        }
        record[m.role] = side;
    }
    writeText(recordPath(out, image), record.dump() + "\n");
    return record;
}

}  // namespace
#endif

int runExport(const std::vector<std::string>& words)
{
    const Arguments args(words,
                         {"vit", "cnn", "images", "list", "out", "methods", "shard", "top-k", "device", "heads",
                          "input-size", "colormap", "alpha", "upsample", "normalize", "keep-mass"},
                         {"resume", "no-colorbar"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (!args.value("vit") && !args.value("cnn"))
        throw UsageError("give at least one of --vit MODEL and --cnn MODEL");
#ifndef ATTNVIZ_HAVE_IMAGING
    throw UsageError("this build has no image support (built without OpenCV): export is unavailable");
#else
    const fs::path out(outputDirectory(args.required("out")));
    const auto [shard, shards] = shardOption(args);
    const auto all = exportImages(args);
    std::vector<ExportImage> images;
    for (std::size_t i = std::size_t(shard); i < all.size(); i += std::size_t(shards))
        images.push_back(all[i]);
    std::vector<ExportModel> models;
    for (const char* role : {"vit", "cnn"})
        if (const auto path = args.value(role))
            models.push_back({role, *path, loadRoleModel(args, role), {}});
    assignMethods(models, args);

    const bool resume = args.flag("resume");
    std::size_t computed = 0, resumed = 0;
    nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
    std::string lines;  // the JSON Lines file, in the stable order
    ProgressLine progress(std::cerr);
    for (std::size_t i = 0; i < images.size(); ++i) {
        const auto& image = images[i];
        std::ifstream done(recordPath(out, image));
        if (resume && done) {
            std::stringstream record;
            record << done.rdbuf();
            lines += record.str();
            ++resumed;
        } else {
            try {
                lines += exportOne(image, models, out, args).dump() + "\n";
                ++computed;
            } catch (const std::exception& e) {
                // Unreadable images are skipped, never fatal; a model error is too, with its reason.
                skipped.push_back({{"image", image.relative}, {"reason", engine::errorLine(e)}});
                std::fprintf(stderr, "export: skipped '%s': %s\n", image.relative.c_str(), engine::errorLine(e).c_str());
            }
        }
        progress.imagesDone("export", i + 1, images.size());
    }
    const auto results = out / (shards == 1 ? std::string("results.jsonl")
                                            : "results-" + std::to_string(shard) + "-of-" + std::to_string(shards) + ".jsonl");
    writeText(results, lines);

    nlohmann::ordered_json summary;
    summary["images"] = images.size();
    summary["images_in_all_shards"] = all.size();
    summary["shard"] = {shard, shards};
    summary["computed"] = computed;
    summary["resumed"] = resumed;
    summary["skipped"] = skipped;
    summary["results"] = results.string();
    std::cout << summary.dump(2) << "\n";
    return skipped.empty() ? 0 : kSomeSkipped;
#endif
}

}  // namespace attnviz::cli
