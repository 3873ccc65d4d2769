// attnviz-cli audit: every method's map scored against ground-truth masks, by its effect
// on the model, and by the model-randomisation sanity check (core/engine/evaluation).
#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"
#include "app/cli/studyjson.h"

#include "core/engine/cancellation.h"
#include "core/engine/evaluation/audit.h"
#include "core/engine/model/device.h"
#include "core/io/atomicfile.h"
#include "core/io/imagefiles.h"
#include "core/io/imagefolder.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/imagedecoder.h"
#include "core/imaging/maskfile.h"
#include "core/imaging/preprocess.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace attnviz::cli {
namespace {

#ifdef ATTNVIZ_HAVE_IMAGING
namespace fs = std::filesystem;

constexpr int kSomeSkipped = 3;  // as export: some images or masks were left out

struct AuditImage {
    std::string path;      // to decode
    std::string relative;  // as reported
    std::string maskPath;  // "" without masks
    int label = -1;        // the true class (a benchmark's folder), else -1: the top-1
};

// --benchmark DIR: DIR/test with its masks and classes; --images DIR [--masks DIR]: every
// image below DIR, its mask at the same relative path under --masks with a .png suffix,
// or without --masks NAME.mask.png beside it when there is one (imaging::findMaskFor).
std::vector<AuditImage> auditImages(const Arguments& args)
{
    std::vector<AuditImage> images;
    if (const auto bench = args.value("benchmark")) {
        if (args.value("images") || args.value("masks"))
            throw UsageError("give either --benchmark DIR or --images DIR [--masks DIR], not both");
        const auto test = fs::path(*bench) / "test";
        const auto folder = io::readImageFolder(test.string());
        images.reserve(folder.paths.size());
        for (std::size_t i = 0; i < folder.paths.size(); ++i) {
            const auto relative = fs::relative(folder.paths[i], test);
            images.push_back({folder.paths[i], relative.generic_string(),
                              (fs::path(*bench) / "masks" / "test" / relative).string(), int(folder.labels[i])});
        }
        return images;
    }
    const auto dir = args.value("images");
    if (!dir)
        throw UsageError("give --benchmark DIR, or --images DIR with --masks DIR (or without, for the scores that "
                         "need no mask)");
    const auto masks = args.value("masks");
    for (const auto& relative : io::imageFilesUnder(*dir)) {
        if (relative.size() > 9 && relative.compare(relative.size() - 9, 9, ".mask.png") == 0)
            continue;  // a mask beside its image, not an image of its own
        const auto path = (fs::path(*dir) / relative).string();
        images.push_back({path, relative,
                          masks ? (fs::path(*masks) / fs::path(relative).replace_extension(".png")).string()
                                : imaging::findMaskFor(path).value_or(""),
                          -1});
    }
    return images;
}

// A score over images: its mean with a normal-approximation 95 % interval,
// 1.96 sd / sqrt(n) (for the pointing game's hits, the Wald interval).
struct Tally {
    std::vector<double> values;

    void add(const std::optional<double>& v)
    {
        if (v)
            values.push_back(*v);
    }
    double mean() const
    {
        double sum = 0;
        for (double v : values)
            sum += v;
        return values.empty() ? std::nan("") : sum / double(values.size());
    }
    double ci95() const
    {
        if (values.size() < 2)
            return std::nan("");
        const double m = mean();
        double squares = 0;
        for (double v : values)
            squares += (v - m) * (v - m);
        return 1.96 * std::sqrt(squares / double(values.size() - 1)) / std::sqrt(double(values.size()));
    }
    nlohmann::ordered_json json() const
    {
        return {{"mean", studyNumber(mean())}, {"ci95", studyNumber(ci95())}, {"n", values.size()}};
    }
    // Timings: the median, which a noisy shared machine moves least.
    nlohmann::ordered_json medianJson() const
    {
        auto sorted = values;
        std::sort(sorted.begin(), sorted.end());
        const auto n = sorted.size();
        const double median = n == 0 ? std::nan("") : n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
        return {{"median", studyNumber(median)}, {"n", n}};
    }
};

struct MethodTally {
    engine::ViewMethod method;
    Tally pointing, energy, iou, deletion, insertion;
    Tally seconds;                // per image: the map and its scores (the randomisation check apart)
    std::vector<Tally> spearman;  // per randomisation step, over images
};

struct AuditedModel {
    std::string role, path;
    std::unique_ptr<engine::Classifier> model;
    std::vector<MethodTally> methods;
    double tolerance = 0;                         // in this model's input pixels
    Tally randomisationSeconds;                   // per image: the whole check, every method and step
    std::vector<std::string> randomisationSteps;  // the modules randomised, output first
};

std::vector<engine::ViewMethod> chosenMethods(const Arguments& args, engine::Family family)
{
    auto offered = engine::auditableMethods(family);
    const auto list = args.value("methods").value_or("all");
    if (list == "all")
        return offered;
    std::vector<engine::ViewMethod> out;
    std::istringstream in(list);
    for (std::string name; std::getline(in, name, ',');) {
        const auto method = engine::viewMethodFromName(name);
        if (std::find(offered.begin(), offered.end(), method) != offered.end())
            out.push_back(method);
    }
    return out;
}

nlohmann::ordered_json methodJson(const MethodTally& t, const std::vector<std::string>& steps)
{
    auto curve = nlohmann::ordered_json::array();
    for (const auto& s : t.spearman)
        curve.push_back(studyNumber(s.mean()));
    nlohmann::ordered_json randomisation = {{"steps", steps}, {"spearman", curve}};
    randomisation["passes"] = t.spearman.empty() ? nlohmann::ordered_json()
                                                 : nlohmann::ordered_json(std::abs(t.spearman.back().mean())
                                                                          < engine::kRandomisationPassBelow);
    return {{"pointing_game", t.pointing.json()},
            {"energy", t.energy.json()},
            {"iou", t.iou.json()},
            {"deletion_auc", t.deletion.json()},
            {"insertion_auc", t.insertion.json()},
            {"randomisation", randomisation},
            {"seconds_per_image", t.seconds.medianJson()}};
}

std::string cell(double v)
{
    char text[16];
    if (std::isnan(v))
        std::snprintf(text, sizeof text, "%8s", "-");
    else
        std::snprintf(text, sizeof text, "%8.3f", v);
    return text;
}

void printTable(const std::vector<AuditedModel>& models)
{
    for (const auto& m : models) {
        std::cerr << "\n"
                  << m.role << " (" << m.path << ")\n"
                  << "method                   pointing  energy     IoU deletion insertion  rho-rand  sanity\n";
        for (const auto& t : m.methods) {
            char name[32];
            std::snprintf(name, sizeof name, "%-24s", engine::viewMethodName(t.method).c_str());
            const double last = t.spearman.empty() ? std::nan("") : t.spearman.back().mean();
            std::cerr << name << cell(t.pointing.mean()) << cell(t.energy.mean()) << cell(t.iou.mean())
                      << cell(t.deletion.mean()) << " " << cell(t.insertion.mean()) << "  " << cell(last) << "  "
                      << (std::isnan(last)                                   ? "-"
                          : std::abs(last) < engine::kRandomisationPassBelow ? "passes"
                                                                             : "FAILS")
                      << "\n";
        }
    }
}

std::string csvNumber(const std::optional<double>& v)
{
    if (!v)
        return "";
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", *v);
    return text;
}

std::string csvQuoted(const std::string& text)
{
    std::string out = "\"";
    for (char c : text)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --limit N: N images spread over the list (a benchmark is in class order).
std::vector<AuditImage> spreadLimit(const std::vector<AuditImage>& images, int limit)
{
    std::vector<AuditImage> spread;
    for (const auto at : io::evenlySpacedIndices(images.size(), std::size_t(std::max(0, limit))))
        spread.push_back(images[at]);
    return spread;
}

std::vector<AuditedModel> auditedModels(const Arguments& args, double toleranceAt224)
{
    std::vector<AuditedModel> models;
    for (const auto family : engine::kFamilies)
        if (const auto path = args.value(engine::familyName(family))) {
            AuditedModel m;
            m.role = engine::familyName(family);
            m.path = *path;
            m.model = loadRoleModel(args, family);
            for (const auto method : chosenMethods(args, family)) {
                m.methods.emplace_back();
                m.methods.back().method = method;
            }
            m.tolerance = engine::pointingTolerance(m.model->spec().preprocessing, toleranceAt224);
            models.push_back(std::move(m));
        }
    return models;
}

// The run over the images: tallies in the models, a CSV row per image, model and method.
class Auditor {
public:
    Auditor(std::vector<AuditedModel>& models, const engine::AuditOptions& options, std::size_t randomisationImages,
            std::uint64_t seed)
        : m_models(models)
        , m_options(options)
        , m_randomisationImages(randomisationImages)
        , m_seed(seed)
    {
        m_csv << "image,model,method,pointing_hit,energy,iou,deletion_auc,insertion_auc\n";
    }

    void audit(std::size_t index, const AuditImage& image)
    {
        cv::Mat rgb, mask;
        try {
            rgb = imaging::decodeImageRgb(image.path);
        } catch (const imaging::ImageError& e) {
            skip(image, "reason", e.what());
            return;
        }
        if (!image.maskPath.empty()) {
            try {
                mask = imaging::readMask(image.maskPath, rgb.cols, rgb.rows);
                ++m_withMask;
            } catch (const imaging::ImageError& e) {
                skip(image, "mask", e.what());
            }
        }
        for (auto& m : m_models)
            auditModel(m, index, image, rgb, mask);
    }

    std::string csv() const { return m_csv.str(); }
    const nlohmann::ordered_json& skipped() const { return m_skipped; }
    std::size_t withMask() const { return m_withMask; }

private:
    void skip(const AuditImage& image, const char* what, const std::string& reason)
    {
        m_skipped.push_back({{"image", image.relative}, {what, reason}});
        std::cerr << "audit: " << (std::string(what) == "mask" ? "no mask scores for '" : "skipped '") << image.relative
                  << "': " << reason << "\n";
    }

    void auditModel(AuditedModel& m, std::size_t index, const AuditImage& image, const cv::Mat& rgb,
                    const cv::Mat& mask)
    {
        const auto& spec = m.model->spec();
        const auto input = imaging::preprocessImage(rgb, spec.preprocessing).tensor;
        const auto trace = m.model->forward(input);
        const auto modelMask = mask.empty() ? torch::Tensor() : imaging::maskForModel(mask, spec.preprocessing);
        const int label = image.label < spec.numClasses ? image.label : -1;
        auto options = m_options;
        options.tolerance = m.tolerance;
        std::vector<engine::ViewMethod> methods;
        std::vector<torch::Tensor> maps;  // the learned model's, for the randomisation check
        for (auto& t : m.methods) {
            const auto start = std::chrono::steady_clock::now();
            const auto map = engine::auditMap(*m.model, trace, t.method, label);
            const auto s = engine::scoreMap(*m.model, trace, map, modelMask, label, options);
            t.seconds.add(secondsSince(start));
            t.pointing.add(s.pointingHit ? std::optional<double>(*s.pointingHit ? 1.0 : 0.0) : std::nullopt);
            t.energy.add(s.energy);
            t.iou.add(s.iou);
            t.deletion.add(s.deletionAuc);
            t.insertion.add(s.insertionAuc);
            methods.push_back(t.method);
            maps.push_back(map);
            m_csv << csvQuoted(image.relative) << "," << m.role << "," << engine::viewMethodName(t.method) << ","
                  << (s.pointingHit ? (*s.pointingHit ? "1" : "0") : "") << "," << csvNumber(s.energy) << ","
                  << csvNumber(s.iou) << "," << csvNumber(s.deletionAuc) << "," << csvNumber(s.insertionAuc) << "\n";
        }
        if (index < m_randomisationImages) {
            const auto start = std::chrono::steady_clock::now();
            const auto curves = engine::randomisationCurves(*m.model, trace, methods, maps, label, m_seed);
            m.randomisationSeconds.add(secondsSince(start));
            m.randomisationSteps = curves.steps;
            for (std::size_t k = 0; k < m.methods.size(); ++k) {
                auto& t = m.methods[k];
                t.spearman.resize(curves.steps.size());
                for (std::size_t step = 0; step < curves.steps.size(); ++step)
                    t.spearman[step].values.push_back(curves.spearman[k][step]);
            }
        }
    }

    std::vector<AuditedModel>& m_models;
    engine::AuditOptions m_options;
    std::size_t m_randomisationImages;
    std::uint64_t m_seed;
    std::ostringstream m_csv;
    nlohmann::ordered_json m_skipped = nlohmann::ordered_json::array();
    std::size_t m_withMask = 0;
};
#endif  // ATTNVIZ_HAVE_IMAGING

}  // namespace

int runAudit(const std::vector<std::string>& words)
{
    const Arguments args(words,
                         {"vit", "cnn", "benchmark", "images", "masks", "methods", "limit", "csv", "tolerance",
                          "randomisation-images", "seed", "device", "threads", "faithfulness-steps"},
                         {"no-causal"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
#ifndef ATTNVIZ_HAVE_IMAGING
    throw UsageError("this build has no image support (built without OpenCV): audit is unavailable");
#else
    if (!args.value("vit") && !args.value("cnn"))
        throw UsageError("give at least one of --vit MODEL and --cnn MODEL");
    InterruptScope interrupt;  // from here on Ctrl-C ends the run with "cancelled", writing nothing
    engine::configureThreads(args.intValue("threads", 0, 1));
    const auto images = spreadLimit(auditImages(args), args.intValue("limit", 0, 0));
    const auto randomisationImages = std::size_t(args.intValue("randomisation-images", 10, 0));
    const double toleranceAt224 = args.doubleValue("tolerance", engine::kPointingToleranceAt224, 0.0, 1e4);
    engine::AuditOptions options;
    options.causal = !args.flag("no-causal");
    options.faithfulness.steps = args.intValue("faithfulness-steps", options.faithfulness.steps, 1);
    auto models = auditedModels(args, toleranceAt224);

    Auditor auditor(models, options, randomisationImages, std::uint64_t(args.intValue("seed", 0, 0)));
    ProgressLine progress(std::cerr);
    for (std::size_t i = 0; i < images.size(); ++i) {
        engine::throwIfCancelled();  // Ctrl-C: "cancelled", as within an image, and nothing written
        auditor.audit(i, images[i]);
        progress.imagesDone("audit", i + 1, images.size());
    }
    if (const auto csvPath = args.value("csv")) {
        const auto text = auditor.csv();
        io::AtomicFile file(*csvPath);
        file.write(text.data(), text.size());
        file.commit();
    }
    printTable(models);
    nlohmann::ordered_json out = {{"images", images.size()},
                                  {"with_masks", auditor.withMask()},
                                  {"randomisation_images", std::min(randomisationImages, images.size())},
                                  {"tolerance_at_224", toleranceAt224},
                                  {"randomisation_passes_below", engine::kRandomisationPassBelow},
                                  {"skipped", auditor.skipped()}};
    for (const auto& m : models) {
        nlohmann::ordered_json methods;
        for (const auto& t : m.methods)
            methods[engine::viewMethodName(t.method)] = methodJson(t, m.randomisationSteps);
        out[m.role] = {{"model", m.path},
                       {"tolerance_pixels", m.tolerance},
                       {"randomisation_seconds_per_image", m.randomisationSeconds.medianJson()},
                       {"methods", methods}};
    }
    std::cout << out.dump(2) << "\n";
    return auditor.skipped().empty() ? 0 : kSomeSkipped;
#endif
}

}  // namespace attnviz::cli
