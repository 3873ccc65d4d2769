#include "core/imaging/imagedecoder.h"

#include "core/imaging/imageheader.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace attnviz::imaging {
namespace {

std::vector<unsigned char> readFile(const std::string& path, std::uintmax_t maxBytes)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw ImageError("cannot open image '" + path + "': no such file");
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size == 0)
        throw ImageError("cannot read image '" + path + "': empty or unreadable file");
    if (size > maxBytes)
        throw ImageError("image '" + path + "' is " + std::to_string(size >> 20) + " MiB, over the "
                         + std::to_string(maxBytes >> 20) + " MiB limit");
    std::vector<unsigned char> bytes(size);
    std::ifstream in(path, std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
        throw ImageError("cannot read image '" + path + "'");
    return bytes;
}

// libpng and libjpeg print their own complaints on stderr before OpenCV returns an
// empty image; users get our one-line error instead, so mute stderr while decoding.
class StderrMute {
public:
    StderrMute()
        : m_lock(mutex())
    {
        std::fflush(stderr);
        m_saved = dup(STDERR_FILENO);
        const int devNull = open("/dev/null", O_WRONLY);
        if (m_saved >= 0 && devNull >= 0)
            dup2(devNull, STDERR_FILENO);
        if (devNull >= 0)
            close(devNull);
    }
    ~StderrMute()
    {
        std::fflush(stderr);
        if (m_saved >= 0) {
            dup2(m_saved, STDERR_FILENO);
            close(m_saved);
        }
    }
    StderrMute(const StderrMute&) = delete;
    StderrMute& operator=(const StderrMute&) = delete;

private:
    static std::mutex& mutex()
    {
        static std::mutex m;
        return m;
    }
    std::lock_guard<std::mutex> m_lock;
    int m_saved = -1;
};

// Only what can be sized before decoding is decoded: OpenCV reads more formats (PPM,
// JPEG 2000, OpenEXR, ...), and would allocate whatever their headers declare.
void checkHeader(const std::string& path, const ImageHeader& header, const DecodeLimits& limits)
{
    if (header.format.empty())
        throw ImageError("cannot decode image '" + path + "': "
                         + (header.unsupported.empty() ? std::string("not a PNG, JPEG, BMP, TIFF or WebP file")
                                                       : header.unsupported + " images are not supported"));
    if (!header.width || !header.height)
        throw ImageError("cannot decode image '" + path + "': its " + header.format
                         + " header is damaged (no image size before the image data)");
    if (header.animated)
        throw ImageError("cannot decode image '" + path + "': animated WebP images are not supported");
    const long long w = *header.width, h = *header.height;  // each at most 2^40
    if (h > 0 && w > limits.maxPixels / h)
        throw ImageError("image '" + path + "' claims " + std::to_string(w) + "x" + std::to_string(h)
                         + " pixels, over the limit of " + std::to_string(limits.maxPixels));
    if (header.tilePixels > limits.maxPixels)
        throw ImageError("image '" + path + "' declares tiles of " + std::to_string(header.tilePixels)
                         + " pixels, over the limit of " + std::to_string(limits.maxPixels));
}

}  // namespace

cv::Mat decodeImageRgb(const std::string& path, const DecodeLimits& limits)
{
    const auto bytes = readFile(path, limits.maxFileBytes);
    const auto header = readImageHeader(bytes);
    checkHeader(path, header, limits);
    cv::Mat decoded;
    try {
        const StderrMute mute;
        decoded = cv::imdecode(bytes, cv::IMREAD_COLOR);  // applies EXIF orientation
    } catch (const cv::Exception&) {
        decoded.release();
    }
    if (decoded.empty())
        throw ImageError("cannot decode image '" + path + "': its " + header.format
                         + " data is corrupt or of a kind OpenCV does not read");
    if (static_cast<long long>(decoded.total()) > limits.maxPixels)
        throw ImageError("image '" + path + "' has too many pixels");
    cv::Mat rgb;
    cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

}  // namespace attnviz::imaging
