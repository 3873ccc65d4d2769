#include "core/io/rawtensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace attnviz::io {

std::int64_t RawTensor::numel() const
{
    std::int64_t n = 1;
    for (auto d : shape)
        n *= d;
    return n;
}

namespace {

// True when some element has every exponent bit set (NaN or infinity). An OR of
// compare results over plain words, without an early exit, is a loop the compiler
// vectorises with SSE2 alone (42 ms for 346 MB here; a max over the magnitudes took 70,
// a bool per element more). The buffer is an untyped, 64-byte-aligned allocation, so
// reading it as words is defined.
template <typename Word>
bool anyExponentAllOnes(const ByteBuffer& bytes, Word exponent)
{
    const auto* words = reinterpret_cast<const Word*>(bytes.data());
    const std::size_t count = bytes.size() / sizeof(Word);
    Word found = 0;
    for (std::size_t i = 0; i < count; ++i)
        found |= Word((words[i] & exponent) == exponent);
    return found != 0;
}

}  // namespace

bool holdsNonFinite(const RawTensor& tensor)
{
    switch (tensor.dtype) {
    case DType::F64: return anyExponentAllOnes<std::uint64_t>(tensor.bytes, 0x7ff0000000000000ull);
    case DType::F32: return anyExponentAllOnes<std::uint32_t>(tensor.bytes, 0x7f800000u);
    case DType::F16: return anyExponentAllOnes<std::uint16_t>(tensor.bytes, 0x7c00u);
    case DType::BF16: return anyExponentAllOnes<std::uint16_t>(tensor.bytes, 0x7f80u);
    default: return false;
    }
}

std::string RawTensor::shapeString() const
{
    return io::shapeString(shape);
}

std::string shapeString(const std::vector<std::int64_t>& shape)
{
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < shape.size(); ++i)
        out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

}  // namespace attnviz::io
