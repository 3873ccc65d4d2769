#pragma once

#include "core/engine/model/modelspec.h"

#include <QString>

namespace attnviz::ui {

// The two sides of the comparison, the transformer on the left and the convolutional
// network on the right: a pane's side is its model's family (engine::Family, the CLI's
// --vit and --cnn), spelled once.
using Side = engine::Family;
inline constexpr const auto& kSides = engine::kFamilies;

QString sideKey(Side side);    // "vit" | "cnn" (engine::familyName): settings groups, object names, file names
QString sideTitle(Side side);  // "ViT" | "CNN": what the window says
inline Side otherSide(Side side)
{
    return side == Side::ViT ? Side::CNN : Side::ViT;
}

}  // namespace attnviz::ui
