#pragma once

#include "core/engine/modelspec.h"

#include <string>
#include <vector>

namespace attnviz::engine {

// The theoretical receptive field of one layer's units, in pixels of the model
// input (Araujo et al. 2019): unit i along an axis sees the `size` pixels centred
// on start + i * jump (pixel centres at 0, 1, ...; the box may leave the image).
struct ReceptiveField {
    std::string name;  // state-dict module name ("conv1", "layer2.0.conv2"), or a stage ("layer2")
    double size = 1;
    double jump = 1;
    double start = 0;
};

// Every conv / pool of a ResNet in forward order plus one entry per stage output, with
// each residual block conv's kernel, stride and padding as loaded (spec.blocks), the
// stem's from stemKernel / stemStride. A residual block's output sees the union of its
// two paths' fields.
std::vector<ReceptiveField> resnetReceptiveFields(const ModelSpec& spec);

// The network's main path only: the stem ("conv1", "maxpool") and the stage outputs
// ("layer1", ...), the layers whose output is a recorded trace feature.
std::vector<ReceptiveField> stageReceptiveFields(const ModelSpec& spec);

// The box [x0, y0, x1, y1] (inclusive pixel indices, clipped to the input) that unit
// (row, col) of a layer sees.
struct PixelBox {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};
PixelBox receptiveBox(const ReceptiveField& field, int row, int col, int inputHeight, int inputWidth);

}  // namespace attnviz::engine
