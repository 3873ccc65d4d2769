#include "core/engine/methods/receptivefield.h"

#include "core/engine/engineerror.h"

#include <algorithm>
#include <cmath>

namespace attnviz::engine {

const std::vector<ReceptiveField>& receptiveFields(const ModelSpec& spec)
{
    if (spec.family != Family::CNN)
        throw EngineError(
            "theoretical receptive fields are computed for CNNs; a ViT's is global after the first block");
    if (spec.receptiveFields.empty())
        throw EngineError("the model spec does not describe the network's layers");
    return spec.receptiveFields;
}

std::vector<ReceptiveField> stageReceptiveFields(const ModelSpec& spec)
{
    std::vector<ReceptiveField> stages;
    for (const auto& field : receptiveFields(spec))
        if (field.stage)
            stages.push_back(field);
    return stages;
}

std::optional<ReceptiveField> theoreticalField(const ModelSpec& spec, const std::string& layer)
{
    for (const auto& field : receptiveFields(spec))
        if (field.name == layer)
            return field;
    return std::nullopt;
}

PixelBox receptiveBox(const ReceptiveField& f, int row, int col, int inputHeight, int inputWidth)
{
    const double half = (f.size - 1) / 2.0;
    const double cx = f.start + col * f.jump;
    const double cy = f.start + row * f.jump;
    auto clip = [](double v, int n) { return std::clamp(int(std::lround(v)), 0, n - 1); };
    return {clip(cx - half, inputWidth), clip(cy - half, inputHeight), clip(cx + half, inputWidth),
            clip(cy + half, inputHeight)};
}

}  // namespace attnviz::engine
