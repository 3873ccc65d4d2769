#include "app/cli/studyjson.h"

#include "app/cli/inputs.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace attnviz::cli {

nlohmann::ordered_json studyNumber(double v)
{
    if (!std::isfinite(v))
        return nullptr;
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", v);
    return std::strtod(text, nullptr);
}

nlohmann::ordered_json matrixJson(const torch::Tensor& m, bool significant)
{
    const auto values = m.to(torch::kFloat64).contiguous();
    auto rows = nlohmann::ordered_json::array();
    for (int64_t i = 0; i < values.size(0); ++i) {
        auto row = nlohmann::ordered_json::array();
        const auto* v = values[i].data_ptr<double>();
        for (int64_t j = 0; j < values.size(1); ++j)
            if (significant || !std::isfinite(v[j]))
                row.push_back(studyNumber(v[j]));
            else
                row.push_back(std::round(v[j] * 1e4) / 1e4);
        rows.push_back(row);
    }
    return rows;
}

std::vector<StudyModel> studyModels(const Arguments& args, bool vitOnly)
{
    if (vitOnly && !args.value("vit"))
        throw UsageError("give the ViT as --vit MODEL");
    if (!args.value("vit") && !args.value("cnn"))
        throw UsageError("give --vit MODEL, --cnn MODEL or both");
    std::vector<StudyModel> models;
    for (const auto family : engine::kFamilies)
        if (auto path = args.value(engine::familyName(family)))
            models.push_back({engine::familyName(family), *path, loadRoleModel(args, family)});
    return models;
}

}  // namespace attnviz::cli
