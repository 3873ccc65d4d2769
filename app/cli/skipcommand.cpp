#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"
#include "app/cli/studyjson.h"

#include "core/engine/study/skipstrength.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>

namespace attnviz::cli {
namespace {

nlohmann::ordered_json normsJson(double skip, double branch, double ratio)
{
    return {{"skip_norm", studyNumber(skip)}, {"branch_norm", studyNumber(branch)}, {"ratio", studyNumber(ratio)}};
}

nlohmann::ordered_json skipJson(const std::vector<engine::SkipRatio>& ratios)
{
    auto additions = nlohmann::ordered_json::array();
    for (const auto& r : ratios) {
        nlohmann::ordered_json a = {{"name", r.name},
                                    {"branch", r.branch},
                                    {"relative_depth", studyNumber(r.relativeDepth)}};
        if (!std::isnan(r.clsSkip))  // a ViT with a CLS token
            a["cls"] = normsJson(r.clsSkip, r.clsBranch, r.clsRatio());
        a["spatial"] = normsJson(r.spatialSkip, r.spatialBranch, r.spatialRatio());
        additions.push_back(a);
    }
    return additions;
}

}  // namespace

int runSkip(const std::vector<std::string>& words)
{
    const Arguments args(words, {"vit", "cnn", "image", "images", "tensor", "device", "heads", "input-size",
                                 "batch-size", "limit"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    const InputSet inputs(args, /*folderAllowed=*/true);
    const auto models = studyModels(args);
    const int batchSize = args.intValue("batch-size", 16, 1);
    const auto count = std::min<std::size_t>(inputs.size(), std::size_t(args.intValue("limit", int(inputs.size()), 1)));

    InterruptScope interrupt;
    nlohmann::ordered_json out = {{"images", count},
                                  {"measure",
                                   "mean norm of the residual stream over mean norm of the branch added to it"}};
    for (const auto& m : models) {
        engine::SkipAccumulator sums;
        ProgressLine progress(std::cerr);
        for (std::size_t first = 0; first < count; first += std::size_t(batchSize)) {
            const auto n = std::min(std::size_t(batchSize), count - first);
            for (const auto& trace : m.model->forwardBatch(inputs.batch(first, n, m.role, m.model->spec())))
                sums.add(trace.residuals, trace.tokens.prefixTokens(), trace.tokens.hasCls);
            if (count > 1)
                progress.imagesDone(("skip " + m.role).c_str(), first + n, count);
        }
        const auto ratios = sums.result();
        out[m.role] = {{"model", m.path}, {"additions", skipJson(ratios)}};
        if (ratios.empty())
            out[m.role]["note"] = "the model has no residual connections";
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
