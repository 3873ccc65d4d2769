#pragma once

#include <torch/torch.h>

namespace attnviz::engine {

// BEiT's relative position bias (timm's Beit, with a class token): a table
// [(2gh-1)(2gw-1) + 3, heads] indexed by token pair.

// The table row of every pair of a gh x gw grid's positions: [(gh*gw)^2] int64, row-major
// over (query, key), the offset (dy + gh - 1) * (2gw - 1) + (dx + gw - 1). Swin's window
// bias is this over a window.
torch::Tensor relativeOffsetIndex(int gh, int gw);

// The table index for a gh x gw grid with a class token: [(1 + gh*gw)^2] int64, row-major
// over (query, key) token pairs; patch pairs index as relativeOffsetIndex, and the three
// extra entries are class-to-token, token-to-class and class-to-class.
torch::Tensor relativePositionIndex(int gh, int gw);

// A table trained for a side x side grid, brought to a gh x gw grid as timm does when a
// BEiT checkpoint is loaded at another size (resize_rel_pos_bias_table without scipy,
// after UniLM's BEiT fine-tuning code): the trained offsets are placed on a geometric
// progression that reaches the new grid's largest offset, then read off at every integer
// offset by linear interpolation; the three class-token rows are kept.
// [(2side-1)^2 + 3, H] -> [(2gh-1)(2gw-1) + 3, H]
torch::Tensor resizeRelativeBiasTable(const torch::Tensor& table, int side, int gh, int gw);

}  // namespace attnviz::engine
