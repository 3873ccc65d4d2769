#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"

#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/classifier.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace attnviz::cli {

int runRf(const std::vector<std::string>& words)
{
    const Arguments args(words, {"cnn"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    const auto model = loadModel(args.required("cnn"));
    auto out = nlohmann::ordered_json::array();
    for (const auto& f : engine::receptiveFields(model->spec()))
        out.push_back({{"name", f.name}, {"size", f.size}, {"jump", f.jump}, {"start", f.start}, {"stage", f.stage}});
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
