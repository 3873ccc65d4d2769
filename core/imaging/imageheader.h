#pragma once

#include <optional>
#include <string>
#include <vector>

namespace attnviz::imaging {

struct ImageHeader {
    // "PNG", "JPEG", "BMP", "TIFF" or "WebP"; empty when the bytes are none of these
    // (then `unsupported` names a format we recognise but do not decode, such as GIF).
    std::string format;
    std::string unsupported;
    // From the header: the image's size and, for tiled TIFF, the largest buffer the
    // decoder will allocate besides it (a tile), in pixels. nullopt when the header is
    // too damaged to say.
    std::optional<long long> width;
    std::optional<long long> height;
    long long tilePixels = 0;
    bool animated = false;  // an animated WebP, which OpenCV does not decode
};

// The format and declared size of an image file, read from its first bytes before any
// decoding, so that a small file declaring a huge image ("decompression bomb") is
// refused without allocating. Formats are told by their signatures, as OpenCV tells
// them, whatever the file's name. Never reads outside `bytes`.
ImageHeader readImageHeader(const std::vector<unsigned char>& bytes);

}  // namespace attnviz::imaging
