#pragma once

#include "core/io/rawtensor.h"

#include <string>

namespace attnviz::engine {

// For a checkpoint no reader recognised: the layout whose module names place most of
// its keys, and the first keys it cannot place, as one line for the error message
// ("nearest layout: timm ViT (140 of 152 keys); first keys it cannot place: ...").
std::string nearestLayout(const io::TensorMap& tensors);

}  // namespace attnviz::engine
