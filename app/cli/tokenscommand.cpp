#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"
#include "app/cli/studyjson.h"

#include "core/engine/study/artifacttokens.h"
#include "core/engine/study/headtable.h"
#include "core/io/atomicfile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

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

}  // namespace

int runTokens(const std::vector<std::string>& words)
{
    const Arguments args(words,
                         {"vit", "image", "images", "tensor", "device", "heads", "input-size", "batch-size", "limit",
                          "z", "csv"},
                         {"maps"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
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
