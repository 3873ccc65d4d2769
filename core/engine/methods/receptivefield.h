#pragma once

#include "core/engine/model/modelspec.h"

#include <optional>
#include <string>
#include <vector>

namespace attnviz::engine {

// A CNN's every conv, pool and recorded output in forward order with its theoretical
// receptive field (spec.receptiveFields, composed through every branch from the
// network's description: sums and concatenations see the union of their inputs' fields,
// squeeze-excitation gates do not widen it). Throws EngineError for a ViT.
const std::vector<ReceptiveField>& receptiveFields(const ModelSpec& spec);

// The stage outputs only (spec.stages), the layers whose output is a trace feature.
std::vector<ReceptiveField> stageReceptiveFields(const ModelSpec& spec);

// The field of the layer named `layer` (a stage, block, conv or pool, as in
// receptiveFields), or none for a name the network does not have.
std::optional<ReceptiveField> theoreticalField(const ModelSpec& spec, const std::string& layer);

// The box [x0, y0, x1, y1] (inclusive pixel indices, clipped to the input) that unit
// (row, col) of a layer sees.
struct PixelBox {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};
PixelBox receptiveBox(const ReceptiveField& field, int row, int col, int inputHeight, int inputWidth);

}  // namespace attnviz::engine
