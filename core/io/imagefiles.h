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

// The image files anywhere below `dir`, as paths relative to it ("a/b.png", '/'
// separated), sorted, so a tree gives the same order on every machine. Throws like
// imageFilesIn.
std::vector<std::string> imageFilesUnder(const std::string& dir);

}  // namespace attnviz::io
