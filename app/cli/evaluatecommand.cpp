#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"

#include "core/engine/model/classifier.h"
#include "core/engine/model/device.h"
#include "core/engine/training/evaluation.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace attnviz::cli {
namespace {

nlohmann::ordered_json evaluationJson(const engine::Evaluation& e, const engine::ModelSpec& spec,
                                      const std::string& path)
{
    auto perClass = nlohmann::ordered_json::array();
    for (std::size_t c = 0; c < e.perClassAccuracy.size(); ++c)
        perClass.push_back({{"index", c}, {"label", spec.labels.at(c)}, {"accuracy", e.perClassAccuracy[c]}});
    return {{"model", path}, {"accuracy", e.accuracy}, {"per_class", perClass}, {"confusion", e.confusion}};
}

}  // namespace

int runEvaluate(const std::vector<std::string>& words)
{
    const Arguments args(words, {"vit", "cnn", "data", "split", "limit", "device", "threads"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (!args.value("vit") && !args.value("cnn"))
        throw UsageError("give at least one of --vit MODEL and --cnn MODEL");
    if (const int threads = args.intValue("threads", 0, 1))
        engine::configureThreads(threads);
    const auto split = args.value("split").value_or("t10k");
    const auto data = readLabelledImages(args.required("data"), split, args.intValue("limit", 0, 1)).set;
    engine::LoadOptions load;
    load.device = args.value("device").value_or("cpu");
    nlohmann::ordered_json out = {{"data", args.required("data")}, {"split", split}, {"count", data.size()}};
    for (const auto family : engine::kFamilies) {
        const auto role = engine::familyName(family);
        if (auto path = args.value(role)) {
            const auto model = loadModel(*path, load);
            out[role] = evaluationJson(engine::evaluate(*model, data), model->spec(), *path);
        }
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
