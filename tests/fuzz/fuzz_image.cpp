// libFuzzer: an image file through imaging::decodeImageRgb and, when it decodes, the
// preprocessing of a 224 x 224 model; every failure must be an imaging::ImageError.
// The pixel limit is lowered from 200 million to 4 million so that inputs declaring
// large images stay fast to run; the checks are the same.
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"
#include "tests/fuzz/fuzzfile.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string path = attnviz::fuzz::writeScratch("image", data, size);
    attnviz::imaging::DecodeLimits limits;
    limits.maxPixels = 4'000'000;
    try {
        const cv::Mat rgb = attnviz::imaging::decodeImageRgb(path, limits);
        attnviz::imaging::preprocessImage(rgb, attnviz::engine::Preprocessing{});
    } catch (const attnviz::imaging::ImageError&) {
    }
    return 0;
}
