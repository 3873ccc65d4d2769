#pragma once

#include <torch/torch.h>

namespace attnviz::engine {

// Scores of one map against a ground-truth mask of the object that decides the class
// (the audit, docs/audit.md). map: [h, w], the model's grid or the input's pixels;
// mask: [H, W] of the input's pixels, non-zero on the object. A map coarser than the
// mask is resized to it bilinearly, as the overlays show it. Each throws EngineError
// for shapes that do not fit or an empty mask.

// The pointing game (Zhang et al., ECCV 2016, "Top-down neural attention by excitation
// backprop"): the map's maximum (at the mask's resolution; ties: the first in row-major
// order) counts as a hit when it lies within `tolerance` pixels (Euclidean distance
// between pixel centres) of a mask pixel; tolerance 0: on a mask pixel.
bool pointingGameHit(const torch::Tensor& map, const torch::Tensor& mask, double tolerance);

// The energy-based pointing game (Wang et al., CVPR-W 2020, Score-CAM, sec. 5.2): of
// the map's positive mass at the mask's resolution, the fraction inside the mask;
// 0 for a map with no positive value.
double energyInMask(const torch::Tensor& map, const torch::Tensor& mask);

// Intersection over union, at the map's own grid, of its top-k cells with the mask's
// cells, k being the mask's own area there: a cell belongs to the mask when at least
// half its pixels do (at least one cell: the most covered). Ties among the map's
// values: the first in row-major order wins. The mask's sides must be multiples of the
// map's.
double topCellsIoU(const torch::Tensor& map, const torch::Tensor& mask);

// Spearman's rank correlation of two maps of one shape (ties get their average rank);
// 0 when either map is constant.
double spearmanCorrelation(const torch::Tensor& a, const torch::Tensor& b);

// The mask of [H, W] reduced to a grid [h, w] as the fraction of each cell it covers.
torch::Tensor maskCoverage(const torch::Tensor& mask, int64_t h, int64_t w);

}  // namespace attnviz::engine
