#pragma once

#include "core/engine/model/modelspec.h"

#include <QString>

namespace attnviz::ui {

// The two sides of the comparison: the transformer on the left, the convolutional
// network on the right.
enum class Side { ViT, CNN };
inline constexpr Side kSides[] = {Side::ViT, Side::CNN};

QString sideKey(Side side);    // "vit" | "cnn": settings groups, object names, file names
QString sideTitle(Side side);  // "ViT" | "CNN": what the window says
engine::Family sideFamily(Side side);

}  // namespace attnviz::ui
