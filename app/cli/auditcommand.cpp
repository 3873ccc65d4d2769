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
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/audit/folderaudit.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace attnviz::cli {
namespace {

#ifdef ATTNVIZ_HAVE_IMAGING

constexpr int kSomeSkipped = 3;  // as export: some images or masks were left out

using imaging::audit::AuditImage;
using imaging::audit::MethodTally;
using imaging::audit::ModelAudit;
using imaging::audit::Tally;

// --benchmark DIR: DIR/test with its masks and classes; --images DIR [--masks DIR].
std::vector<AuditImage> auditImages(const Arguments& args)
{
    if (const auto bench = args.value("benchmark")) {
        if (args.value("images") || args.value("masks"))
            throw UsageError("give either --benchmark DIR or --images DIR [--masks DIR], not both");
        return imaging::audit::benchmarkImages(*bench);
    }
    const auto dir = args.value("images");
    if (!dir)
        throw UsageError("give --benchmark DIR, or --images DIR with --masks DIR (or without, for the scores that "
                         "need no mask)");
    return imaging::audit::folderImages(*dir, args.value("masks"));
}

nlohmann::ordered_json tallyJson(const Tally& t)
{
    return {{"mean", studyNumber(t.mean())}, {"ci95", studyNumber(t.ci95())}, {"n", t.values.size()}};
}

nlohmann::ordered_json medianJson(const Tally& t)
{
    return {{"median", studyNumber(t.median())}, {"n", t.values.size()}};
}

std::vector<engine::ViewMethod> chosenMethods(const Arguments& args, engine::Family family)
{
    auto offered = engine::auditableMethods(family);
    const auto list = args.value("methods").value_or("all");
    if (list == "all")
        return offered;
    if (list == "quick")
        return engine::quickAuditableMethods(family);
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
    const auto passes = t.passesRandomisation();
    randomisation["passes"] = passes ? nlohmann::ordered_json(*passes) : nlohmann::ordered_json();
    return {{"pointing_game", tallyJson(t.pointing)},
            {"energy", tallyJson(t.energy)},
            {"iou", tallyJson(t.iou)},
            {"deletion_auc", tallyJson(t.deletion)},
            {"insertion_auc", tallyJson(t.insertion)},
            {"randomisation", randomisation},
            {"seconds_per_image", medianJson(t.seconds)}};
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

void printTable(const std::vector<ModelAudit>& models)
{
    for (const auto& m : models) {
        std::cerr << "\n"
                  << engine::familyName(m.family) << " (" << m.path << ")\n"
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

// Each model given with the methods of --methods it offers (a model offering none gets
// none); a list that no model offers is a usage error, found before any model loads.
std::vector<ModelAudit> auditedModels(const Arguments& args, double toleranceAt224)
{
    std::vector<std::pair<engine::Family, std::vector<engine::ViewMethod>>> chosen;
    bool any = false;
    for (const auto family : engine::kFamilies)
        if (args.value(engine::familyName(family))) {
            chosen.emplace_back(family, chosenMethods(args, family));
            any = any || !chosen.back().second.empty();
        }
    if (!any)
        throw UsageError("no model given offers a method of --methods " + args.value("methods").value_or("all")
                         + " to audit (erf never is: it maps a unit, not a class)");
    std::vector<ModelAudit> models;
    for (const auto& [family, methods] : chosen) {
        std::shared_ptr<const engine::Classifier> model = loadRoleModel(args, family);
        auto m = imaging::audit::modelAudit(*args.value(engine::familyName(family)), model, methods);
        m.tolerance = engine::pointingTolerance(m.model->spec().preprocessing, toleranceAt224);
        models.push_back(std::move(m));
    }
    return models;
}

// One row per image, model and method.
std::string csvText(const std::vector<imaging::audit::ScoreRow>& rows)
{
    std::ostringstream csv;
    csv << "image,model,method,pointing_hit,energy,iou,deletion_auc,insertion_auc\n";
    for (const auto& r : rows) {
        const auto& s = r.scores;
        csv << csvQuoted(r.image) << "," << engine::familyName(r.family) << "," << engine::viewMethodName(r.method)
            << "," << (s.pointingHit ? (*s.pointingHit ? "1" : "0") : "") << "," << csvNumber(s.energy) << ","
            << csvNumber(s.iou) << "," << csvNumber(s.deletionAuc) << "," << csvNumber(s.insertionAuc) << "\n";
    }
    return csv.str();
}

nlohmann::ordered_json skippedJson(const std::vector<imaging::audit::Skip>& skipped)
{
    auto out = nlohmann::ordered_json::array();
    for (const auto& s : skipped)
        out.push_back({{"image", s.image}, {s.maskOnly ? "mask" : "reason", s.reason}});
    return out;
}
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
    const auto images = imaging::audit::spreadOver(auditImages(args), std::size_t(args.intValue("limit", 0, 0)));
    const auto randomisationImages = std::size_t(args.intValue("randomisation-images", 10, 0));
    const double toleranceAt224 = args.doubleValue("tolerance", engine::kPointingToleranceAt224, 0.0, 1e4);
    engine::AuditOptions options;
    options.causal = !args.flag("no-causal");
    options.faithfulness.steps = args.intValue("faithfulness-steps", options.faithfulness.steps, 1);
    auto models = auditedModels(args, toleranceAt224);

    imaging::audit::FolderAudit auditor(models, options, randomisationImages,
                                        std::uint64_t(args.intValue("seed", 0, 0)));
    ProgressLine progress(std::cerr);
    for (std::size_t i = 0; i < images.size(); ++i) {
        engine::throwIfCancelled();  // Ctrl-C: "cancelled", as within an image, and nothing written
        if (const auto skip = auditor.audit(i, images[i]))
            std::cerr << "audit: " << (skip->maskOnly ? "no mask scores for '" : "skipped '") << skip->image
                      << "': " << skip->reason << "\n";
        progress.imagesDone("audit", i + 1, images.size());
    }
    if (const auto csvPath = args.value("csv")) {
        const auto text = csvText(auditor.rows());
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
                                  {"skipped", skippedJson(auditor.skipped())}};
    for (const auto& m : models) {
        nlohmann::ordered_json methods;
        for (const auto& t : m.methods)
            methods[engine::viewMethodName(t.method)] = methodJson(t, m.randomisationSteps);
        out[engine::familyName(m.family)] = {{"model", m.path},
                                             {"tolerance_pixels", m.tolerance},
                                             {"randomisation_seconds_per_image", medianJson(m.randomisationSeconds)},
                                             {"methods", methods}};
    }
    std::cout << out.dump(2) << "\n";
    return auditor.skipped().empty() ? 0 : kSomeSkipped;
#endif
}

}  // namespace attnviz::cli
