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

}  // namespace

cv::Mat decodeImageRgb(const std::string& path, const DecodeLimits& limits)
{
    const auto bytes = readFile(path, limits.maxFileBytes);
    if (const auto size = headerDimensions(bytes); size && size->first * size->second > limits.maxPixels)
        throw ImageError("image '" + path + "' claims " + std::to_string(size->first) + "x" + std::to_string(size->second)
                         + " pixels, over the limit of " + std::to_string(limits.maxPixels));
    cv::Mat decoded;
    try {
        const StderrMute mute;
        decoded = cv::imdecode(bytes, cv::IMREAD_COLOR);  // applies EXIF orientation
    } catch (const cv::Exception&) {
        decoded.release();
    }
    if (decoded.empty())
        throw ImageError("cannot decode image '" + path + "': corrupt, too large or not an image format OpenCV reads");
    if (static_cast<long long>(decoded.total()) > limits.maxPixels)
        throw ImageError("image '" + path + "' has too many pixels");
    cv::Mat rgb;
    cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

}  // namespace attnviz::imaging
