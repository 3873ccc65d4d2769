#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnviz::io {

// An MNIST-style data set split: `count` grayscale images of rows x cols, row-major
// uint8 pixels, and one class label per image.
struct IdxDataset {
    int count = 0;
    int rows = 0;
    int cols = 0;
    std::vector<std::uint8_t> pixels;  // count * rows * cols
    std::vector<std::uint8_t> labels;  // count
};

// Reads "<split>-images-idx3-ubyte" and "<split>-labels-idx1-ubyte" from `dir`, gzip
// (".gz") or plain, e.g. split "train" or "t10k". Throws FormatError on a missing or
// truncated file, a wrong magic number, or label and image counts that disagree.
IdxDataset readIdxDataset(const std::string& dir, const std::string& split);

// Whether `dir` holds IDX files of the split (<split>-labels-idx1-ubyte[.gz]).
bool holdsIdxSplit(const std::string& dir, const std::string& split);

}  // namespace attnviz::io
