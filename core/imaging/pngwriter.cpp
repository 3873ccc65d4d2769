#include "core/imaging/pngwriter.h"

#include "core/imaging/imagedecoder.h"
#include "core/io/atomicfile.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <exception>
#include <vector>

namespace attnviz::imaging {

void writePng(const std::string& path, const cv::Mat& rgb, const io::TextEntries& text)
{
    if (rgb.empty() || (rgb.type() != CV_8UC3 && rgb.type() != CV_8UC1))
        throw ImageError("cannot write '" + path + "': not an 8-bit RGB or grey image");
    cv::Mat bgr;  // a buffer of its own: converting into a copy of the header would swap the caller's channels
    if (rgb.channels() == 3)
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    else
        bgr = rgb;
    std::vector<unsigned char> encoded;
    if (!cv::imencode(".png", bgr, encoded))
        throw ImageError("cannot encode '" + path + "' as PNG");
    try {
        const auto png = io::addPngText(std::string(encoded.begin(), encoded.end()), text);
        io::AtomicFile file(path);
        file.write(png.data(), png.size());
        file.commit();
    } catch (const ImageError&) {
        throw;
    } catch (const std::exception& e) {
        throw ImageError("cannot write '" + path + "': " + e.what());
    }
}

}  // namespace attnviz::imaging
