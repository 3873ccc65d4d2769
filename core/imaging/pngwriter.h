#pragma once

#include "core/io/pngtext.h"

#include <opencv2/core.hpp>

#include <string>

namespace attnviz::imaging {

// Encodes CV_8UC3 RGB (or CV_8UC1 grey) as PNG with the given text chunks and writes it atomically: a
// failure never leaves a half-written file. Throws ImageError with a one-line reason.
void writePng(const std::string& path, const cv::Mat& rgb, const io::TextEntries& text);

}  // namespace attnviz::imaging
