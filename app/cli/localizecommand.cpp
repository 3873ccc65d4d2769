#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"
#include "app/cli/studyjson.h"

#include "core/engine/study/ckastudy.h"
#include "core/engine/study/localization.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

namespace attnviz::cli {
int runLocalize(const std::vector<std::string>& words)
{
    // --image and --tensor are known so that they get the message below.
    const Arguments args(words, {"vit", "cnn", "image", "tensor", "images", "device", "heads", "input-size",
                                 "batch-size", "limit"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (!args.value("images"))
        throw UsageError("localisation compares positions over a set of images: give --images DIR");
    const InputSet inputs(args, /*folderAllowed=*/true);
    const auto models = studyModels(args);
    const int batchSize = args.intValue("batch-size", 16, 4);
    const auto available = std::min<std::size_t>(inputs.size(),
                                                 std::size_t(args.intValue("limit", int(inputs.size()), 1)));
    const auto count = engine::ckaUsableImages(available, batchSize);
    if (count < 4)
        throw UsageError("localisation needs at least 4 images, got " + std::to_string(available));

    InterruptScope interrupt;
    nlohmann::ordered_json out = {{"images", available},
                                  {"images_used", count},
                                  {"batch_size", batchSize},
                                  {"measure", "minibatch linear CKA between the last layer at each position (rows) and "
                                              "the input at each position (columns)"}};
    for (const auto& m : models) {
        ProgressLine progress(std::cerr);
        const auto r = engine::localize(
            *m.model, count, batchSize,
            [&](std::size_t first, std::size_t n) { return inputs.batch(first, n, m.role, m.model->spec()); },
            [&](std::size_t done, std::size_t total) {
                progress.imagesDone(("localize " + m.role).c_str(), done, total);
            });
        out[m.role] = {{"model", m.path},
                       {"grid", {r.gridH, r.gridW}},
                       {"positions", r.gridH * r.gridW},
                       {"diagonal_hits", r.diagonalHits},
                       {"mean_diagonal", studyNumber(r.meanDiagonal)},
                       {"mean_off_diagonal", studyNumber(r.meanOffDiagonal)},
                       {"similarity", matrixJson(r.similarity)}};
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
