#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"
#include "app/cli/modeljson.h"
#include "app/cli/prompts.h"

#include "core/engine/model/classifier.h"

#include <iostream>

namespace attnviz::cli {

int runInfo(const std::vector<std::string>& words)
{
    const Arguments args(words, {"heads", "input-size"});
    if (args.positional().size() != 1)
        throw UsageError("info takes exactly one MODEL");
    const auto model = loadModel(args.positional()[0], loadOptions(args));
    auto json = specJson(model->spec());
    json["text_tower"] = textTowerJson(*model);
    if (!json["text_tower"].is_null())
        json["text_tower"]["tokenizer"] = tokenizerJson(*model, args.positional()[0]);
    std::cout << json.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
