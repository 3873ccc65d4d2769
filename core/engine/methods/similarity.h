#pragma once

// Patch similarity, the `similarity` method: how alike every position's features are to
// those of one position, at a chosen layer, as DINO's and DINOv2's users draw it ("which
// patches are like this one").

#include <torch/torch.h>

namespace attnviz::engine {

// features [C, h, w] and a cell (row, col) -> the cosine of every cell's feature vector
// with that cell's, [h, w] float32 (a zero vector's cosine is 0). Throws EngineError for a
// cell outside the grid.
torch::Tensor cosineToCell(const torch::Tensor& features, int row, int col);

}  // namespace attnviz::engine
