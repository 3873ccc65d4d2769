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

std::vector<StudyModel> studyModels(const Arguments& args, bool vitOnly)
{
    if (vitOnly && !args.value("vit"))
        throw UsageError("give the ViT as --vit MODEL");
    if (!args.value("vit") && !args.value("cnn"))
        throw UsageError("give --vit MODEL, --cnn MODEL or both");
    std::vector<StudyModel> models;
    for (const char* role : {"vit", "cnn"})
        if (auto path = args.value(role))
            models.push_back({role, *path, loadRoleModel(args, role)});
    return models;
}

}  // namespace attnviz::cli
