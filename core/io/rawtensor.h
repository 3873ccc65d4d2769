#pragma once

#include "core/io/bytebuffer.h"
#include "core/io/dtype.h"

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnviz::io {

// A tensor as stored in a file: little-endian, row-major, contiguous bytes.
struct RawTensor {
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    ByteBuffer bytes;  // numel() * dtypeSize(dtype) bytes

    std::int64_t numel() const;
    std::string shapeString() const;  // "[768, 3, 16, 16]"
};

// Whether a floating-point tensor holds a NaN or an infinity (integer types never do);
// a pass over its bits, about as fast as memory reads.
bool holdsNonFinite(const RawTensor& tensor);

// Name -> tensor; ordered so that listings and dumps are deterministic.
using TensorMap = std::map<std::string, RawTensor>;

// A file that is malformed, hostile or unsupported. what() is one line meant for users.
class FormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::string shapeString(const std::vector<std::int64_t>& shape);

}  // namespace attnviz::io
