#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"
#include "app/cli/studyjson.h"

#include "core/engine/study/artifacttokens.h"
#include "core/engine/study/headtable.h"
#include "core/engine/study/testtimeregisters.h"
#include "core/io/atomicfile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

namespace attnviz::cli {
namespace {

nlohmann::ordered_json imageJson(const std::string& name, const engine::TokenStudy& study)
{
    const auto& last = study.blocks.back();
    auto artifacts = nlohmann::ordered_json::array();
    for (const auto p : study.artifacts)
        artifacts.push_back({{"row", p / study.layout.gridW},
                             {"col", p % study.layout.gridW},
                             {"norm", studyNumber(last.patchNorms.flatten()[p].item<double>())}});
    auto blocks = nlohmann::ordered_json::array();
    for (const auto& b : study.blocks)
        blocks.push_back({{"median", studyNumber(b.median)},
                          {"mad", studyNumber(b.mad)},
                          {"threshold", studyNumber(b.threshold)},
                          {"flagged", b.flagged.size()},
                          {"max", studyNumber(b.patchNorms.max().item<double>())}});
    return {{"image", name}, {"artifacts", artifacts}, {"blocks", blocks}};
}

// Per block: every patch token's norm [gridH][gridW]; per block and register the
// register's attention over the patches, averaged over the heads.
nlohmann::ordered_json mapsJson(const engine::TokenStudy& study)
{
    nlohmann::ordered_json maps = {{"token_norms", nlohmann::ordered_json::array()}};
    for (const auto& b : study.blocks)
        maps["token_norms"].push_back(matrixJson(b.patchNorms, /*significant=*/true));
    if (study.registerAttention.defined()) {
        auto registers = nlohmann::ordered_json::array();
        const auto mean = study.registerAttention.mean(1);  // [L, R, h, w]
        for (int64_t l = 0; l < mean.size(0); ++l) {
            auto perRegister = nlohmann::ordered_json::array();
            for (int64_t r = 0; r < mean.size(1); ++r)
                perRegister.push_back(matrixJson(mean[l][r], /*significant=*/true));
            registers.push_back(perRegister);
        }
        maps["register_attention"] = registers;
    }
    return maps;
}

nlohmann::ordered_json headTableJson(const std::vector<engine::HeadStats>& rows)
{
    auto out = nlohmann::ordered_json::array();
    for (const auto& r : rows)
        out.push_back({{"layer", r.layer},
                       {"head", r.head},
                       {"distance_px", studyNumber(r.distance)},
                       {"entropy_nats", studyNumber(r.entropy)},
                       {"cls_on_artifacts", studyNumber(r.clsOnArtifacts)},
                       {"cls_on_registers", studyNumber(r.clsOnRegisters)}});
    return out;
}

// --register-neurons 0:5,0:12,3:100: block:unit pairs, as the authors publish them.
engine::RegisterNeurons parseRegisterNeurons(const std::string& text)
{
    engine::RegisterNeurons neurons;
    std::istringstream in(text);
    for (std::string pair; std::getline(in, pair, ',');) {
        std::size_t used = 0, colon = pair.find(':');
        try {
            if (colon == std::string::npos)
                throw std::invalid_argument(pair);
            const int block = std::stoi(pair.substr(0, colon), &used);
            const auto unit = std::stoll(pair.substr(colon + 1));
            if (used != colon || block < 0 || unit < 0)
                throw std::invalid_argument(pair);
            neurons.units[block].push_back(unit);
        } catch (const std::logic_error&) {
            throw UsageError("--register-neurons takes BLOCK:UNIT pairs separated by commas, not '" + pair + "'");
        }
    }
    if (neurons.empty())
        throw UsageError("--register-neurons names no unit");
    return neurons;
}

// The register neurons: those given, or the search over the first `count` inputs.
engine::RegisterNeurons registerNeurons(const Arguments& args, const engine::VisionTransformer& vit,
                                        const InputSet& inputs, std::size_t count, nlohmann::ordered_json& report)
{
    if (const auto given = args.value("register-neurons")) {
        report["search"] = nullptr;
        return parseRegisterNeurons(*given);
    }
    engine::RegisterSearch search;
    const int depth = vit.spec().depth;
    search.normThreshold = args.doubleValue("register-norm", std::nan(""), 0.0, 1e12);
    search.detectBlock = args.intValue("register-block", depth - 1, 0);
    search.highestBlock = args.intValue("register-highest", std::max(0, depth / 2 - 1), 0);
    search.topK = args.intValue("register-top-k", search.topK, 1);
    const auto found = engine::findRegisterNeurons(
        vit, count, [&](std::size_t i) { return inputs.batch(i, 1, "vit", vit.spec()); }, search);
    auto ranked = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < std::min<std::size_t>(found.ranked.size(), 2 * std::size_t(search.topK)); ++i)
        ranked.push_back({{"block", found.ranked[i].block},
                          {"unit", found.ranked[i].unit},
                          {"score", studyNumber(found.ranked[i].score)}});
    report["search"] = {{"outliers",
                         std::isnan(search.normThreshold)
                             ? "artifact patches (the z rule) after block " + std::to_string(found.detectBlock)
                             : "tokens of norm above " + studyNumber(search.normThreshold).dump() + " after block "
                                   + std::to_string(found.detectBlock)},
                        {"blocks", {0, found.highestBlock}},
                        {"top_k", search.topK},
                        {"images", found.images},
                        {"images_with_outliers", found.imagesWithOutliers},
                        {"ranked", ranked}};
    return found.chosen;
}

// Means over the images with artifacts of what the register changes.
struct RegisterTally {
    torch::Tensor clsWithout, clsWith, clsOnRegister;  // [L] sums
    double normWithout = 0, normWith = 0, registerNorm = 0;
    std::size_t withArtifacts = 0, images = 0, sameTop1 = 0;
    std::vector<double> logitChange;  // ‖Δ logits‖ / ‖logits‖ per image

    void add(const engine::RegisterEffect& e)
    {
        ++images;
        if (e.logitsWithout.defined()) {
            sameTop1 += e.logitsWith.argmax().item<int64_t>() == e.logitsWithout.argmax().item<int64_t>();
            logitChange.push_back((e.logitsWith - e.logitsWithout).norm().item<double>()
                                  / e.logitsWithout.norm().item<double>());
        }
        if (e.artifacts.empty())
            return;
        ++withArtifacts;
        const auto sum = [](torch::Tensor& total, const torch::Tensor& t) { total = total.defined() ? total + t : t; };
        sum(clsWithout, e.clsOnArtifactsWithout);
        sum(clsWith, e.clsOnArtifactsWith);
        sum(clsOnRegister, e.clsOnRegister);
        normWithout += e.artifactNormWithout;
        normWith += e.artifactNormWith;
        registerNorm += e.registerNorm;
    }

    nlohmann::ordered_json json() const
    {
        const double n = double(withArtifacts);
        const auto perBlock = [n](const torch::Tensor& t) {
            return t.defined() ? matrixJson((t / n).unsqueeze(0), true)[0] : nlohmann::ordered_json();
        };
        nlohmann::ordered_json out = {{"images_with_artifacts", withArtifacts},
                                      {"cls_on_artifacts_without", perBlock(clsWithout)},
                                      {"cls_on_artifacts_with", perBlock(clsWith)},
                                      {"cls_on_register", perBlock(clsOnRegister)},
                                      {"artifact_norm",
                                       {{"without", studyNumber(n > 0 ? normWithout / n : std::nan(""))},
                                        {"with", studyNumber(n > 0 ? normWith / n : std::nan(""))}}},
                                      {"register_norm", studyNumber(n > 0 ? registerNorm / n : std::nan(""))}};
        if (logitChange.empty()) {
            out["logits"] = nullptr;
            return out;
        }
        auto sorted = logitChange;
        std::sort(sorted.begin(), sorted.end());
        out["logits"] = {{"top1_agreement", studyNumber(double(sameTop1) / double(images))},
                         {"relative_change_median", studyNumber(sorted[sorted.size() / 2])},
                         {"relative_change_max", studyNumber(sorted.back())}};
        return out;
    }
};

nlohmann::ordered_json neuronsJson(const engine::RegisterNeurons& neurons)
{
    auto out = nlohmann::ordered_json::array();
    for (const auto& [block, units] : neurons.units)
        out.push_back({{"block", block}, {"units", units}});
    return out;
}

// The test-time register's section of the report: its neurons, found or given, and its
// effect on the first `count` inputs.
nlohmann::ordered_json testTimeRegisterJson(const Arguments& args, const engine::Classifier& model,
                                            const InputSet& inputs, std::size_t count, ProgressLine& progress)
{
    const auto* vit = dynamic_cast<const engine::VisionTransformer*>(&model);
    if (!vit)
        throw UsageError("a test-time register needs a ViT");
    nlohmann::ordered_json report = {
        {"method", "Jiang, Dravid, Efros & Gandelsman, NeurIPS 2025 (test-time registers)"}};
    const auto neurons = registerNeurons(args, *vit, inputs, count, report);
    report["neurons"] = neuronsJson(neurons);
    const auto registered = vit->withTestTimeRegister(neurons);
    RegisterTally tally;
    for (std::size_t i = 0; i < count; ++i) {
        const auto input = inputs.batch(i, 1, "vit", model.spec());
        tally.add(engine::registerEffect(vit->forwardBatch(input).at(0), registered->forwardBatch(input).at(0)));
        if (count > 1)
            progress.imagesDone("test-time register", i + 1, count);
    }
    report["effect"] = tally.json();
    return report;
}

}  // namespace

int runTokens(const std::vector<std::string>& words)
{
    const Arguments args(words,
                         {"vit", "image", "images", "tensor", "device", "heads", "input-size", "batch-size", "limit",
                          "z", "csv", "register-neurons", "register-norm", "register-block", "register-highest",
                          "register-top-k"},
                         {"maps", "test-time-register"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    const bool registerAsked = args.flag("test-time-register");
    for (const auto* option :
         {"register-neurons", "register-norm", "register-block", "register-highest", "register-top-k"})
        if (args.value(option) && !registerAsked)
            throw UsageError(std::string("--") + option + " only applies with --test-time-register");
    if (const auto given = args.value("register-neurons"))
        parseRegisterNeurons(*given);  // a garbled list is refused before any pass
    const InputSet inputs(args, /*folderAllowed=*/true);
    const auto models = studyModels(args, /*vitOnly=*/true);
    const auto& model = *models.front().model;
    const double z = args.doubleValue("z", engine::kArtifactZ, 0.1, 1000.0);
    const int batchSize = args.intValue("batch-size", 8, 1);
    const auto count = std::min<std::size_t>(inputs.size(), std::size_t(args.intValue("limit", int(inputs.size()), 1)));
    const bool maps = args.flag("maps") || count == 1;

    InterruptScope interrupt;
    ProgressLine progress(std::cerr);
    auto images = nlohmann::ordered_json::array();
    std::vector<std::vector<engine::HeadStats>> tables;
    engine::TokenLayout layout;
    for (std::size_t first = 0; first < count; first += std::size_t(batchSize)) {
        const auto n = std::min(std::size_t(batchSize), count - first);
        const auto traces = model.forwardBatch(inputs.batch(first, n, "vit", model.spec()));
        for (std::size_t i = 0; i < traces.size(); ++i) {
            const auto study = engine::studyTokens(traces[i], z);
            layout = study.layout;
            auto image = imageJson(inputs.name(first + i), study);
            if (maps)
                image["maps"] = mapsJson(study);
            images.push_back(image);
            tables.push_back(engine::headTable(traces[i], study));
        }
        if (count > 1)
            progress.imagesDone("tokens", first + n, count);
    }
    const auto table = engine::meanHeadTable(tables);
    nlohmann::ordered_json out = {
        {"model", models.front().path},
        {"images", count},
        {"rule",
         {{"name", "modified z-score 0.6745 (x - median) / MAD > z over one block's patch-token norms "
                   "(Iglewicz & Hoaglin); artifacts: flagged after the last block"},
          {"z", z}}},
        {"layout",
         {{"cls", layout.hasCls},
          {"distillation", layout.hasDist},
          {"registers", layout.regTokens},
          {"grid", {layout.gridH, layout.gridW}}}},
        {"per_image", images},
        {"head_table", headTableJson(table)}};
    if (registerAsked)
        out["test_time_register"] = testTimeRegisterJson(args, model, inputs, count, progress);
    if (auto csv = args.value("csv")) {
        const auto text = engine::headTableCsv(table);
        io::AtomicFile file(*csv);
        file.write(text.data(), text.size());
        file.commit();
        out["csv"] = *csv;
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
