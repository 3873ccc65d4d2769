#pragma once

#include <opencv2/core.hpp>

#include <string>

namespace attnviz::imaging {

enum class Colormap { Viridis, Inferno, Magma, Plasma, Turbo, Jet, Gray };

// "viridis" ... "gray"; throws std::invalid_argument naming the known ones.
Colormap colormapFromName(const std::string& name);
std::string colormapName(Colormap colormap);

// unit: CV_32FC1 with values in [0, 1] (clamped) -> CV_8UC3 RGB.
cv::Mat applyColormap(const cv::Mat& unit, Colormap colormap);

}  // namespace attnviz::imaging
