#pragma once

#include <string>
#include <vector>

namespace attnviz::io {

// Whether a file name ends in an image extension the decoder reads (.png, .jpg,
// .jpeg, .bmp, .webp, .tif, .tiff; any case).
bool isImageFileName(const std::string& name);

// The image files directly inside `dir`, sorted by name (no recursion), so a folder
// gives the same order on every machine. Throws std::runtime_error with a one-line
// message when the folder cannot be read or holds no image.
std::vector<std::string> imageFilesIn(const std::string& dir);

}  // namespace attnviz::io
