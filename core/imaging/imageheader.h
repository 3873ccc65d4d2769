#pragma once

#include <optional>
#include <utility>
#include <vector>

namespace attnviz::imaging {

// Width and height from a PNG or JPEG header, read before decoding so that a small
// file claiming a gigapixel image ("decompression bomb") is refused without
// allocating. Other formats: nullopt (OpenCV's own limits apply).
std::optional<std::pair<long long, long long>> headerDimensions(const std::vector<unsigned char>& bytes);

}  // namespace attnviz::imaging
