#pragma once

#include <opencv2/core.hpp>

#include <stdexcept>
#include <string>

namespace attnviz::imaging {

class ImageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct DecodeLimits {
    std::uintmax_t maxFileBytes = 512ull << 20;  // 512 MiB
    long long maxPixels = 200'000'000;           // about 14k x 14k
};

// Decodes an image file to 8-bit RGB (EXIF orientation applied). Throws ImageError
// with a one-line reason for missing, unreadable, corrupt or oversized images.
cv::Mat decodeImageRgb(const std::string& path, const DecodeLimits& limits = {});

}  // namespace attnviz::imaging
