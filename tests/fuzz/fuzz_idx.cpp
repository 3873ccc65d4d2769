// libFuzzer: an IDX dataset (Fashion-MNIST's format) through io::readIdxDataset. The
// first two bytes (little-endian) give the length of the images file; the rest after it
// is the labels file. Either may be gzip (gzread reads both). Failures: io::FormatError.
#include "core/io/idxdataset.h"
#include "core/io/rawtensor.h"
#include "tests/fuzz/fuzzfile.h"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2)
        return 0;
    const std::size_t imagesSize = std::min<std::size_t>(size - 2, std::size_t(data[0] | (data[1] << 8)));
    attnviz::fuzz::writeScratch("t10k-images-idx3-ubyte", data + 2, imagesSize);
    attnviz::fuzz::writeScratch("t10k-labels-idx1-ubyte", data + 2 + imagesSize, size - 2 - imagesSize);
    try {
        attnviz::io::readIdxDataset(attnviz::fuzz::scratchDir(), "t10k");
    } catch (const attnviz::io::FormatError&) {
    }
    return 0;
}
