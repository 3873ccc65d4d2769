#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/inputs.h"

#include "core/engine/engineerror.h"
#include "core/engine/model/classifier.h"
#include "core/engine/study/attentiondistance.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace attnviz::cli {

int runMad(const std::vector<std::string>& words)
{
    // --renormalize: each query's weights renormalised over the patch keys (attention to
    // CLS / register tokens left out) instead of counted as distance 0.
    const Arguments args(words, {"vit", "image", "images", "tensor", "heads", "input-size"}, {"renormalize"});
    const bool renormalize = args.flag("renormalize");
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    const InputSet inputs(args, /*folderAllowed=*/true);
    const auto model = loadModel(args.required("vit"), loadOptions(args));
    if (const auto wrong = engine::familyMismatch(model->spec(), engine::Family::ViT, *args.value("vit"));
        !wrong.empty())
        throw UsageError("mad needs a ViT: " + wrong);
    std::vector<torch::Tensor> sums;  // per layer [H]
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const auto trace = model->forward(inputs.at(i, "vit", model->spec()));
        for (int l = 0; l < trace.attention.depth(); ++l) {  // one block's [H, T, T] at a time
            const auto d = engine::meanAttentionDistance(trace.attention.matrix(l), trace.tokens, renormalize);
            if (sums.size() <= std::size_t(l))
                sums.push_back(d);
            else
                sums[l] += d;
        }
    }
    auto layers = nlohmann::ordered_json::array();
    for (const auto& s : sums) {
        const auto mean = (s / double(inputs.size())).contiguous();
        layers.push_back(std::vector<float>(mean.data_ptr<float>(), mean.data_ptr<float>() + mean.numel()));
    }
    nlohmann::ordered_json out = {{"model", *args.value("vit")},
                                  {"images", inputs.size()},
                                  {"unit", "pixels of the model input"},
                                  {"renormalized", renormalize},
                                  {"layers", layers}};
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
