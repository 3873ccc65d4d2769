#pragma once

#include "core/imaging/colormap.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::imaging {

// Nearest shows each patch or feature cell as the square it is; bilinear is smoother.
enum class Upsampling { Nearest, Bilinear };
Upsampling upsamplingFromName(const std::string& name);  // "nearest" | "bilinear"

// The values mapped to the two ends of the colormap.
struct MapRange {
    float lo = 0, hi = 1;
};
MapRange rangeOf(const torch::Tensor& map);                // one map
MapRange rangeOf(const std::vector<torch::Tensor>& maps);  // jointly, e.g. the heads of a layer

// Zeroes every cell outside the smallest set holding `fraction` (0, 1] of the total
// of a non-negative map [h, w] (sorted descending, cumulative sum: DINO's threshold).
// Ties at the boundary are all kept, so the kept mass is never below the fraction and
// a uniform map is kept whole. fraction 1 returns the map unchanged.
torch::Tensor keepMass(const torch::Tensor& map, double fraction);

struct OverlayOptions {
    Colormap colormap = Colormap::Viridis;
    double alpha = 0.5;  // weight of the colour map over the picture, [0, 1]
    Upsampling upsampling = Upsampling::Nearest;
    bool colorBar = true;  // a vertical bar with the range's values, right of the image
};

// background: CV_8UC3 RGB; map: [h, w] float over the same field of view. The map is
// scaled by `range` to [0, 1] (a flat range gives 0), upsampled to the background's
// size, coloured and blended. Returns CV_8UC3 RGB (wider when it has a colour bar).
// A map [3, h, w] is a picture's red, green and blue in [0, 1] (engine::ViewMaps::rgb):
// drawn in its own colours, `range` and the colormap unused, with no colour bar; so too in
// renderOverlayInRegion and renderMap.
cv::Mat renderOverlay(const cv::Mat& background, const torch::Tensor& map, const MapRange& range,
                      const OverlayOptions& options);

// The map drawn back onto the whole image: `region` (pixels of `background`, where the
// model input came from) gets the blended map, the rest is dimmed (the model never saw
// it) and the region is outlined. Returns CV_8UC3 RGB (wider with a colour bar).
cv::Mat renderOverlayInRegion(const cv::Mat& background, const torch::Tensor& map, const cv::Rect& region,
                              const MapRange& range, const OverlayOptions& options);

// The coloured map alone at `size`, with the same scaling and upsampling.
cv::Mat renderMap(const torch::Tensor& map, const MapRange& range, cv::Size size, const OverlayOptions& options);

// A vertical colour bar `height` pixels tall with its end values written beside it;
// below about 32 pixels the two labels overlap.
cv::Mat colorBar(int height, const MapRange& range, Colormap colormap);

}  // namespace attnviz::imaging
